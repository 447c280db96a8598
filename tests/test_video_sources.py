"""Live frame sources without a camera: a real H.264 file read directly, served over HTTP from
127.0.0.1 and piped on stdin gives the same frames and times as :class:`VideoFrames`; rotation
metadata turns frames upright; unopenable, audio-only, truncated and stalling sources give one
line or end as documented."""
import functools
import http.server
import os
import os.path as osp
import socket
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

from est_mm.video import VideoFrames, VideoReadError
from est_mm.video.sources import StreamError, StreamStalledError, open_stream, source_kind
from helpers.media import VFR_PTS_MS, write_h264, write_vfr
from helpers.servers import RangeHandler

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
N, H, W = 60, 48, 64
FPS = 25


def write_video(path, faststart=True):
    """A 60-frame 64x48 25 fps H.264 mp4 of a moving block on a seeded noise background (moov
    atom first, so it can be read from a pipe). Variable frame rates: helpers.media.write_vfr."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)

    def images():
        for i in range(N):
            img = background.copy()
            img[10:26, i % (W - 16):i % (W - 16) + 16] = (255, 40 * (i % 6), 0)
            yield img
    return write_h264(path, images(), FPS, faststart=faststart)


@pytest.fixture(scope='module')
def video(module_tmp):
    return write_video(module_tmp.mktemp('sources') / 'clip.mp4')


@pytest.fixture(scope='module')
def reference(video):
    """Frames ``[N, H, W, 3]`` and start times ``[N]`` as :class:`VideoFrames` reads them."""
    frames = VideoFrames(video, cache_mb=0)
    return np.concatenate([c for _, c in frames.chunks()]), frames.frame_times()[:-1]


def read_all(stream):
    items = list(stream)
    assert [f.index for f in items] == list(range(len(items)))
    return np.stack([f.image for f in items]), np.array([f.time for f in items])


@pytest.fixture(scope='module')
def server(video):
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), RangeHandler)
    httpd.daemon_threads = True
    httpd.data = open(video, 'rb').read()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def test_source_kinds():
    assert [source_kind(s) for s in ('-', '0', 3, '/dev/video2', 'rtsp://h/x', 'HTTPS://h/x',
                                     'clip.mp4')] == \
        ['stdin', 'camera', 'camera', 'device', 'url', 'url', 'file']


def test_file_gives_the_frames_and_times_of_video_frames(video, reference):
    stream = open_stream(video)
    assert (stream.kind, stream.width, stream.height, stream.num_frames) == ('file', W, H, N)
    frames, times = read_all(stream)
    np.testing.assert_array_equal(frames, reference[0])
    np.testing.assert_allclose(times, reference[1], atol=1e-6)
    np.testing.assert_allclose(times, np.arange(N) / FPS, atol=1e-6)
    assert stream.end_reason == 'end of file' and stream.corrupt_packets == 0
    assert stream.frames_read == N


def test_http_from_localhost_gives_the_same_frames(server, reference):
    stream = open_stream(f'{server}/clip.mp4', timeout=10)
    assert stream.kind == 'url'
    frames, times = read_all(stream)
    np.testing.assert_array_equal(frames, reference[0])
    np.testing.assert_allclose(times, reference[1], atol=1e-6)
    assert stream.end_reason == 'end of stream'


READ_STDIN = ('import sys, numpy as np; from est_mm.video.sources import open_stream; '
              's = open_stream("-", timeout=float(sys.argv[2])); '
              'items = list(s); np.savez(sys.argv[1], frames=np.stack([f.image for f in items]), '
              'times=np.array([f.time for f in items]))')


def test_stdin_pipe_gives_the_same_frames(video, reference, tmp_path):
    out = tmp_path / 'piped.npz'
    with open(video, 'rb') as f:
        proc = subprocess.run([sys.executable, '-c', READ_STDIN, str(out), '10'], stdin=f,
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    piped = np.load(out)
    np.testing.assert_array_equal(piped['frames'], reference[0])
    np.testing.assert_allclose(piped['times'], reference[1], atol=1e-6)


def test_silent_stdin_stalls_with_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, '-c', READ_STDIN, str(tmp_path / 'x.npz'), '1'],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, text=True)
    try:
        proc.wait(timeout=120)   # stdin left open, nothing written
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stderr.close()
    assert proc.returncode != 0
    assert 'StreamStalledError: <stdin>: no data for 1 s (stream stalled)' in err


def test_stalling_http_stream_raises_after_the_frames_it_sent(server, reference):
    stream = open_stream(f'{server}/stall.mp4', timeout=1)
    got = []
    with pytest.raises(StreamStalledError) as info:
        for frame in stream:
            got.append(frame.image)
    assert str(info.value) == f'{server}/stall.mp4: no data for 1 s (stream stalled)'
    assert 0 < len(got) < N
    np.testing.assert_array_equal(np.stack(got), reference[0][:len(got)])
    assert stream.end_reason == str(info.value)


def one_line(err):
    message = str(err.value)
    assert '\n' not in message and message
    return message


def test_closed_port_and_missing_camera_give_one_line():
    with socket.socket() as sock:   # a port nobody listens on
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with pytest.raises(StreamError) as err:
        open_stream(f'http://127.0.0.1:{port}/clip.mp4', timeout=5)
    assert one_line(err) == f'http://127.0.0.1:{port}/clip.mp4: cannot open (Connection refused)'
    with pytest.raises(StreamError) as err:
        open_stream('99')
    assert one_line(err) == 'camera 99: cannot be opened (no such camera, no permission, or ' \
        'in use)'


def test_audio_only_missing_and_folder_give_one_line(tmp_path):
    import av
    path = str(tmp_path / 'voice.wav')
    with av.open(path, 'w') as container:
        stream = container.add_stream('pcm_s16le', rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format='s16',
                                           layout='mono')
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    for source, expected in ((path, f'{path}: no video stream'),
                             (str(tmp_path / 'none.mp4'), f'{tmp_path}/none.mp4: no such file'),
                             (str(tmp_path), f'{tmp_path}: is a directory, not a video file')):
        with pytest.raises(StreamError) as err:
            open_stream(source)
        assert one_line(err) == expected


def test_truncated_file_gives_the_frames_before_the_cut_then_ends(video, reference, tmp_path):
    data = open(video, 'rb').read()
    cut = str(tmp_path / 'cut.mp4')
    open(cut, 'wb').write(data[:len(data) * 2 // 3])
    stream = open_stream(cut)
    frames, times = read_all(stream)
    assert 0 < len(frames) < N and stream.end_reason == 'end of file'
    np.testing.assert_array_equal(frames, reference[0][:len(frames)])
    np.testing.assert_allclose(times, reference[1][:len(frames)], atol=1e-6)


def set_display_rotation(src, dst):
    """Copy of an mp4 whose track matrix says: turn 90 degrees clockwise to show (a phone
    filmed upright; the stored frames lie on their side)."""
    data = bytearray(open(src, 'rb').read())
    at = data.find(b'tkhd')
    version = data[at + 4]
    matrix = at + 8 + (32 if version == 1 else 20) + 16   # after times, ids, layer, volume
    assert struct.unpack('>9i', data[matrix:matrix + 36]) == (65536, 0, 0, 0, 65536, 0, 0, 0,
                                                              1 << 30)
    data[matrix:matrix + 36] = struct.pack('>9i', 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    open(dst, 'wb').write(data)
    return dst


def test_rotation_metadata_turns_frames_upright(video, reference, tmp_path):
    rotated = set_display_rotation(video, str(tmp_path / 'phone.mp4'))
    upright = np.rot90(reference[0], -1, axes=(1, 2))   # 90 degrees clockwise
    stream = open_stream(rotated)
    assert (stream.width, stream.height, stream.rotation) == (H, W, -90)
    np.testing.assert_array_equal(read_all(stream)[0], upright)
    frames = VideoFrames(rotated, chunk_size=16, cache_mb=0)
    assert (frames.height, frames.width, frames.rotation) == (W, H, -90)
    np.testing.assert_array_equal(np.concatenate([c for _, c in frames.chunks()]), upright)
    np.testing.assert_array_equal(frames.get([7, 3, 50]), upright[[7, 3, 50]])


def test_video_frames_get_matches_chunks(video, reference):
    frames = VideoFrames(video, chunk_size=16, cache_mb=0)
    np.testing.assert_array_equal(frames.get([59, 0, 31, 31]), reference[0][[59, 0, 31, 31]])
    assert os.path.getsize(video) > 0


def test_corrupt_packet_is_skipped_and_counted(video, reference, tmp_path):
    import av
    with av.open(video) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    pos, size = packets[30]
    data = bytearray(open(video, 'rb').read())
    data[pos:pos + size] = b'\xff' * size
    broken = str(tmp_path / 'broken.mp4')
    open(broken, 'wb').write(data)
    stream = open_stream(broken)
    frames, _ = read_all(stream)
    assert (len(frames), stream.corrupt_packets, stream.end_reason) == (N - 1, 1, 'end of file')
    # VideoFrames cuts a file at its first undecodable packet (its random access does too); when
    # decord's decode-ahead thread meets the packet while fetching frame 0 (it depends on that
    # thread's timing), the file is refused with one line naming it instead
    try:
        cut = VideoFrames(broken, cache_mb=0)
    except VideoReadError as err:
        assert str(err).startswith(f'{broken}: cannot decode the first frame')
        assert len(str(err).splitlines()) == 1
        return
    kept = np.concatenate([c for _, c in cut.chunks()])
    assert cut.truncated and len(cut) == len(kept) and 0 < len(kept) < 31
    np.testing.assert_array_equal(kept, reference[0][:len(kept)])
    np.testing.assert_array_equal(frames[:len(kept)], kept)


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    path = write_vfr(tmp_path / 'vfr.mp4')
    times = [f.time for f in open_stream(path)]
    np.testing.assert_allclose(times, np.array(VFR_PTS_MS) / 1000, atol=1e-3)  # muxer rounding
    np.testing.assert_allclose(times, VideoFrames(path).frame_times()[:-1], atol=1e-6)


def test_server_that_never_answers_gives_one_line():
    with socket.socket() as sock:   # accepts connections (backlog) but never replies
        sock.bind(('127.0.0.1', 0))
        sock.listen(4)
        url = f'http://127.0.0.1:{sock.getsockname()[1]}/clip.mp4'
        with pytest.raises(StreamStalledError) as err:
            open_stream(url, timeout=1)
    assert one_line(err) == f'{url}: no answer within 1 s (cannot open)'


def test_readers_turn_pyav_log_callback_off(video):
    """PyAV's log callback takes the GIL in FFmpeg's decoder threads; with it on, a reader closed
    before the end deadlocked once in this suite (PyAV #909). Both readers turn it off, also after
    something else (e.g. torchvision.io) has set a level."""
    import av
    for read in (lambda: open_stream(video).close(), lambda: VideoFrames(video).get([0])):
        av.logging.set_level(av.logging.ERROR)
        read()
        assert av.logging.get_level() is None


# --- a URL the server does not have ----------------------------------------------------------

@pytest.fixture
def http_root(tmp_path):
    """``http://127.0.0.1:<port>`` serving the empty folder ``tmp_path`` (from a thread)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_url_404_names_the_http_status(http_root):
    from est_mm.video.sources import StreamError, open_stream
    url = f'{http_root}/missing.mp4'
    with pytest.raises(StreamError) as err:
        open_stream(url, timeout=10)
    assert str(err.value) == f'{url}: cannot open (HTTP 404 Not Found)'


def test_text_renamed_mp4_is_our_line_only(tmp_path):
    path = tmp_path / 'notvideo.mp4'
    path.write_text('hello, not a video\n')
    code = ('import sys; from est_mm.video.reader import VideoFrames, VideoReadError\n'
            'try:\n    VideoFrames(sys.argv[1])\nexcept VideoReadError as err:\n'
            '    sys.exit(str(err))')
    proc = subprocess.run([sys.executable, '-c', code, str(path)], cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f'{path}: cannot open video (not a video, corrupt, or an '
                                   'unsupported format)')
