"""The demo's live path without a camera: a video piped on stdin (tools/demo.py -), served over HTTP
from 127.0.0.1 and read as a file gives the same JSON Lines records; every sampled frame goes
through the backbone once; an unopenable camera is one line; the online tracker keeps an occluded
face's id; many videos resume without overwriting what is finished."""
import fractions
import hashlib
import http.server
import json
import os
import os.path as osp
import subprocess
import sys
import threading

import numpy as np
import pytest

import est_mm  # noqa: F401
from est_mm.apis.inference import ESTInferencer
from est_mm.streaming import DemoOptions, LiveOptions, run_live
from helpers.cli import demo
from helpers.media import compose, write_noise_video
from helpers.servers import RangeHandler

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/est_r18_toy.py'
N, FPS = 140, 25  # frames and rate of write_noise_video's clip


@pytest.fixture(scope='module')
def inferencer(checkpoint):
    return ESTInferencer(osp.join(ROOT, CONFIG), checkpoint, device='cpu')


@pytest.fixture(scope='module')
def video(module_tmp):
    return write_noise_video(module_tmp.mktemp('live') / 'noise.mp4')


def serve(path):
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), RangeHandler)
    httpd.daemon_threads = True
    httpd.data = open(path, 'rb').read()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f'http://127.0.0.1:{httpd.server_address[1]}/clip.mp4'


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def assert_same_records(got, expected):
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected):
        for key in ('track', 'start', 'end', 'frame_inds', 'label', 'label_name'):
            assert a[key] == b[key], key
        for key in ('scores', 'frame_weights', 'snippet_attention', 'start_time', 'end_time'):
            np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)


def test_stdin_http_and_file_give_the_same_records(video, inferencer, checkpoint, tmp_path):
    summary = run_live(video, inferencer, str(tmp_path / 'file.jsonl'),
                       LiveOptions(crop_faces=False), status=None)
    expected = read_jsonl(tmp_path / 'file.jsonl')
    assert summary['end'] == 'end of file' and summary['frames'] == N
    assert [r['start'] for r in expected] == [0, 10, 20, 30]  # stride: one snippet step
    assert expected[0]['end_time'] == pytest.approx(105 / FPS)

    with open(video, 'rb') as f:
        rc, out, err = demo('-', CONFIG, checkpoint, '--no-face-crop', '--jsonl', '-',
                            '--device', 'cpu', stdin=f)
    assert rc == 0, err[-3000:]
    assert_same_records([json.loads(line) for line in out.splitlines()], expected)
    assert '<stdin>: 4 window(s) from 140 frames' in err

    httpd, url = serve(video)
    try:
        summary = run_live(url, inferencer, str(tmp_path / 'http.jsonl'),
                           LiveOptions(crop_faces=False), status=None)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert summary['end'] == 'end of stream'
    assert_same_records(read_jsonl(tmp_path / 'http.jsonl'), expected)


def test_each_sampled_frame_goes_through_the_backbone_once(video, inferencer, tmp_path):
    from est_mm.video import open_stream
    key = {}  # preprocessed image bytes -> frame index
    for idx, _, image in open_stream(video):
        key[hashlib.sha1(inferencer.preprocess_frames([image])[0].numpy().tobytes())
            .hexdigest()] = idx
    embedded = []
    backbone = inferencer.model.backbone
    real = backbone.forward

    def counting(x, *args, **kwargs):
        embedded.extend(key[hashlib.sha1(img.numpy().tobytes()).hexdigest()] for img in x)
        return real(x, *args, **kwargs)
    backbone.forward = counting
    try:
        summary = run_live(video, inferencer, str(tmp_path / 'out.jsonl'),
                           LiveOptions(crop_faces=False), status=None)
    finally:
        del backbone.forward
    sampled = {i for r in read_jsonl(tmp_path / 'out.jsonl') for i in r['frame_inds']}
    assert len(embedded) == len(set(embedded)) == summary['frames_embedded']
    assert sampled <= set(embedded)
    # the only extra frames: at most two snippets of windows the source ended before (stride 10)
    assert len(set(embedded) - sampled) <= 10


def test_camera_that_cannot_be_opened_is_one_line(checkpoint):
    rc, out, err = demo('--source', '99', CONFIG, checkpoint)
    assert rc == 1
    assert err.strip() == 'camera 99: cannot be opened (no such camera, no permission, or in use)'


def test_live_sources_refuse_to_replace_a_jsonl(video, checkpoint, tmp_path):
    (tmp_path / 'noise.jsonl').write_text('kept\n')
    rc, out, err = demo(video, CONFIG, checkpoint, '--live', '--out-dir', str(tmp_path))
    assert rc == 1 and 'noise.jsonl exists: pass --overwrite' in err
    assert (tmp_path / 'noise.jsonl').read_text() == 'kept\n'


def test_occluded_face_keeps_its_id_through_the_online_tracker(pyfeat_media, inferencer,
                                                               tmp_path):
    pyfeat_media('single_face.mp4')
    path = compose(tmp_path)
    summary = run_live(path, inferencer, str(tmp_path / 'two.jsonl'), status=None)
    assert summary['tracks'] == [1, 2] and summary['frames'] == 48


def test_many_videos_resume_without_overwriting(checkpoint, tmp_path):
    from est_mm.apis.batch import run_batch
    from est_mm.datasets.face_extraction import find_videos
    folder = tmp_path / 'videos'
    (folder / 'sub').mkdir(parents=True)
    write_noise_video(folder / 'a.mp4', num=20)
    write_noise_video(folder / 'sub' / 'b.mp4', num=30)
    videos = find_videos([str(folder)]).videos
    model = dict(config=osp.join(ROOT, CONFIG), checkpoint=checkpoint, device='cpu')
    out = tmp_path / 'out'
    first = run_batch(videos, model, str(out), progress=False,
                      options=DemoOptions(crop_faces=False))
    assert sorted(first['done']) == ['a', 'sub/b'] and not first['failed']
    a_json, b_json = out / 'a.json', out / 'sub' / 'b.json'
    a_before = a_json.read_bytes()
    os.utime(a_json, (1, 1))
    # an interrupted run of b: its marker never written, its timeline half-written
    os.remove(out / '.est_batch' / 'sub' / 'b.done')
    (out / 'sub' / 'b_timeline.png').write_bytes(b'partial')
    second = run_batch(videos, model, str(out), progress=False,
                       options=DemoOptions(crop_faces=False))
    assert second['skipped'] == ['a'] and second['done'] == ['sub/b']
    assert a_json.read_bytes() == a_before and os.stat(a_json).st_mtime == 1
    assert (out / 'sub' / 'b_timeline.png').read_bytes()[:4] == b'\x89PNG'
    import csv
    rows = list(csv.DictReader(open(out / 'results.csv')))
    assert [(osp.basename(r['video']), r['start'], r['end']) for r in rows] == [
        ('a.mp4', '0', '20'), ('b.mp4', '0', '30')]
    assert len([k for k in rows[0] if k.startswith('p_')]) == 7
    np.testing.assert_allclose(
        [float(v) for k, v in rows[0].items() if k.startswith('p_')],
        json.loads(a_before)['windows'][0]['scores'], atol=1e-6)


def test_a_file_through_the_streaming_engine_equals_the_inferencer(video, inferencer, tmp_path):
    from est_mm.apis.demo import run_demo
    report = run_demo(video, inferencer, str(tmp_path), DemoOptions(crop_faces=False))
    expected = inferencer(video)
    assert [(w['start'], w['end']) for w in report['windows']] == [(0, 105), (35, 140)]
    assert len(report['windows']) == len(expected.windows)
    for got, want in zip(report['windows'], expected.windows):
        assert got['frame_inds'] == want.frame_inds
        np.testing.assert_allclose(got['scores'], want.scores, atol=1e-5)
        np.testing.assert_allclose(got['frame_weights'], want.frame_weights, atol=1e-5)
        np.testing.assert_allclose(got['snippet_attention'], want.snippet_attention, atol=1e-5)
        assert (got['start_time'], got['end_time']) == pytest.approx(
            (want.start_time, want.end_time))
    np.testing.assert_allclose(list(report['scores'].values()), expected.scores, atol=1e-5)


def test_real_footage_on_stdin_gives_the_file_records_with_detection(pyfeat_video, inferencer,
                                                                     checkpoint, tmp_path):
    import av
    from est_mm.video import open_stream
    path = str(tmp_path / 'wolfgang.mp4')  # 125 real frames, moov first so it can be piped
    container = av.open(path, 'w', options={'movflags': 'faststart'})
    stream = container.add_stream('libx264', rate=24)
    for idx, _, image in open_stream(pyfeat_video):
        if idx == 125:
            break
        if idx == 0:
            stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], \
                'yuv420p'
        frame = av.VideoFrame.from_ndarray(image, format='rgb24')
        frame.pts, frame.time_base = idx, fractions.Fraction(1, 24)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
    container.close()
    summary = run_live(path, inferencer, str(tmp_path / 'file.jsonl'),
                       LiveOptions(detect_every=10), status=None)
    expected = read_jsonl(tmp_path / 'file.jsonl')
    assert summary['tracks'] == [1] and [r['start'] for r in expected] == [0, 10, 20]
    with open(path, 'rb') as f:
        rc, out, err = demo('-', CONFIG, checkpoint, '--detect-every', '10', '--jsonl', '-',
                            '--device', 'cpu', stdin=f)
    assert rc == 0, err[-3000:]
    assert_same_records([json.loads(line) for line in out.splitlines()], expected)


def test_reader_going_away_ends_quietly_and_show_without_display_is_one_line(video,
                                                                             checkpoint):
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    proc = subprocess.Popen([sys.executable, 'tools/demo.py', video, '--live', CONFIG,
                             checkpoint, '--no-face-crop', '--jsonl', '-', '--show',
                             '--device', 'cpu'], cwd=ROOT, env=dict(env, PYTHONPATH=ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, err[-3000:]
    assert first['start'] == 0 and 'Traceback' not in err and 'BrokenPipe' not in err
    assert '--show: no display (DISPLAY is not set); going on without a window' in err


def test_live_run_shorter_than_a_window_names_the_track_and_exits_1(checkpoint, tmp_path):
    video = write_noise_video(tmp_path / 'short.mp4', num=12)
    rc, out, err = demo(video, CONFIG, checkpoint, '--live', '--no-face-crop',
                        '--out-dir', str(tmp_path))
    lines = err.strip().splitlines()
    assert rc == 1, err
    assert '  face #1: no window: 12 frame(s), a window needs 105' in lines
    assert lines[-1] == (f'{video}: no window written: no face track lasted '
                         'the 105 frames a window needs (--window sets a shorter one)')


def test_ctrl_c_while_waiting_on_stdin_is_one_line_and_exit_130(checkpoint, tmp_path):
    """SIGINT to the process group while tools/demo.py waits on stdin (tools/demo_batch.py:
    tests/test_demo_batch.py)."""
    import signal
    import time
    args = ['tools/demo.py', '-', CONFIG, checkpoint, '--out-dir', str(tmp_path), '--timeout',
            '600']
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT), start_new_session=True)
    time.sleep(8)  # past the imports (not asserted on)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].startswith('interrupted')


def test_mp4_and_empty_stdin_say_why(checkpoint, tmp_path):
    video = write_noise_video(tmp_path / 'index_at_end.mp4', num=400, faststart=False)
    with open(video, 'rb') as f:
        rc, out, err = demo('-', CONFIG, checkpoint, '--out-dir', str(tmp_path), stdin=f)
    assert rc == 1
    assert err.strip() == ('<stdin>: an MP4 cannot be read from a pipe (its index is at the '
                           'end): pass the path, or pipe ffmpeg -i VIDEO -c copy -f mpegts -')
    rc, out, err = demo('-', CONFIG, checkpoint, '--out-dir', str(tmp_path),
                        stdin=subprocess.DEVNULL)
    assert rc == 1
    assert err.strip() == '<stdin>: no data on stdin'
