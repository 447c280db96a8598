import os
import os.path as osp

import cv2
import numpy as np
import pytest

import est_mm  # noqa: F401  (registers the transforms)
from est_mm.datasets.transforms import (SnippetSampling, VideoOrFramesDecode, VideoOrFramesInit,
                                        list_frames, natural_frame_key)
from mmaction.registry import TRANSFORMS


def sample(total, **kwargs):
    results = SnippetSampling(**kwargs)(dict(total_frames=total, filename='v.mp4'))
    return results


# ---------------------------------------------------------------- SnippetSampling

def test_snippet_sampling_builds_from_registry_and_writes_keys():
    t = TRANSFORMS.build(dict(type='SnippetSampling'))
    r = t(dict(total_frames=80))
    assert r['frame_inds'].dtype == np.int64
    assert r['frame_inds'].shape == (35, )
    assert (r['clip_len'], r['num_clips'], r['frame_interval']) == (35, 1, None)
    assert 'SnippetSampling(num_snippets=7' in repr(t)


def _check_windows(unified, max_start=29):
    """Indices (7x5, in the 105-frame unified video) come from one start s in [0, max_start],
    window k = [s + 10k, s + 10k + 14], 5 distinct sorted frames per window."""
    assert unified.shape == (7, 5)
    assert (np.diff(unified, axis=1) > 0).all()
    k = np.arange(7)
    s_low = max(0, (unified.max(1) - 10 * k - 14).max())
    s_high = min(max_start, (unified.min(1) - 10 * k).min())
    assert s_low <= s_high, unified


def test_snippet_sampling_train_windows_on_unified_video():
    np.random.seed(0)
    firsts, lasts = [], []
    for _ in range(1500):
        inds = sample(105)['frame_inds'].reshape(7, 5)  # 105 frames: identity mapping
        _check_windows(inds)
        firsts.append(inds[0, 0])
        lasts.append(inds[-1, -1])
    # official randint(0, 29): the last window of the latest start ends at 29 + 60 + 14 = 103
    assert min(firsts) == 0 and max(lasts) == 103
    assert len(set(firsts)) > 30


@pytest.mark.parametrize('total', [1, 3, 16, 105, 500])
def test_snippet_sampling_train_any_length(total):
    np.random.seed(1)
    t = SnippetSampling()
    for _ in range(200):
        inds = t(dict(total_frames=total))['frame_inds']
        assert inds.shape == (35, )
        assert inds.min() >= 0 and inds.max() <= total - 1
        per_snippet = inds.reshape(7, 5)
        assert (np.diff(per_snippet, axis=1) >= 0).all()
        if total >= 105:  # the mapping is injective: frames stay distinct
            assert (np.diff(per_snippet, axis=1) > 0).all()
    if total == 1:
        assert (inds == 0).all()


def test_snippet_sampling_unified_windows_hold_for_every_length():
    np.random.seed(2)
    t = SnippetSampling()
    for _ in range(300):
        _check_windows(t.unified_indices())


def test_snippet_sampling_test_mode_exact_indices():
    inds = sample(105, test_mode=True)['frame_inds']
    expected = [w + o for w in range(15, 76, 10) for o in (0, 3, 6, 9, 12)]
    assert inds.tolist() == expected
    assert expected[0] == 15 and expected[-1] == 87


def test_snippet_sampling_test_mode_maps_long_and_short_videos():
    unified = np.array([w + o for w in range(15, 76, 10) for o in (0, 3, 6, 9, 12)])
    for total in (2, 7, 104, 500):
        inds = sample(total, test_mode=True)['frame_inds']
        assert inds.tolist() == np.minimum(unified * total // 105, total - 1).tolist()
        assert inds.max() <= total - 1


def test_snippet_sampling_mapping_never_exceeds_last_frame():
    t = SnippetSampling()
    u = np.arange(105)
    for total in range(1, 300):
        mapped = t.to_original(u, total)
        assert mapped.min() == 0 and mapped.max() <= total - 1
        assert (np.diff(mapped) >= 0).all()
        if total <= 105:  # short videos: every frame is used, some repeated
            assert set(mapped.tolist()) == set(range(total))
    assert t.to_original(u, 3).tolist() == (u * 3 // 105).tolist()


def test_snippet_sampling_is_reproducible_with_numpy_seed():
    np.random.seed(7)
    a = sample(60)['frame_inds']
    np.random.seed(7)
    b = sample(60)['frame_inds']
    c = sample(60)['frame_inds']
    assert (a == b).all() and not (a == c).all()


def test_snippet_sampling_custom_config():
    r = sample(50, num_snippets=4, frames_per_snippet=3, snippet_len=8, snippet_stride=8,
               unified_len=40, max_start=8, test_start=4, test_offsets=(0, 2, 4))
    assert r['frame_inds'].shape == (12, ) and r['clip_len'] == 12


@pytest.mark.parametrize('kwargs, message', [
    (dict(frames_per_snippet=16), 'frames_per_snippet'),
    (dict(max_start=31), 'max_start'),
    (dict(test_start=31), 'test_start'),
    (dict(unified_len=80), 'unified_len'),
    (dict(test_offsets=(0, 3, 6, 9, 15)), 'test_offsets'),
    (dict(test_offsets=(0, 3, 6, 9)), 'test_offsets'),
    (dict(test_offsets=(0, 6, 3, 9, 12)), 'increasing'),
    (dict(num_snippets=0), 'num_snippets'),
])
def test_snippet_sampling_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SnippetSampling(**kwargs)


def test_snippet_sampling_rejects_empty_video():
    with pytest.raises(ValueError, match='v.mp4 has 0 frames'):
        sample(0)


# ---------------------------------------------------------------- frame listing

def test_natural_frame_order(tmp_path):
    names = ['10.jpg', '2.jpg', '1.jpg', '3.JPG', '00001_10.png', '00001_2.png', 'cover.bmp',
             'notes.txt', '11.jpeg']
    for n in names:
        (tmp_path / n).write_bytes(b'')
    listed = [osp.basename(p) for p in list_frames(str(tmp_path))]
    assert listed == ['1.jpg', '00001_2.png', '2.jpg', '3.JPG', '00001_10.png', '10.jpg',
                      '11.jpeg', 'cover.bmp']  # ties on the number fall back to the name
    assert sorted(['00001_10.jpg', '00001_2.jpg'], key=natural_frame_key) == [
        '00001_2.jpg', '00001_10.jpg']


def test_frame_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='frame folder not found: .*nowhere'):
        VideoOrFramesInit()(dict(frame_dir=str(tmp_path / 'nowhere')))
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match='no .* images: .*empty'):
        VideoOrFramesInit()(dict(frame_dir=str(tmp_path / 'empty')))


# ---------------------------------------------------------------- decoding

def _load(results, frame_inds):
    results = VideoOrFramesInit()(results)
    results['frame_inds'] = np.array(frame_inds)
    return VideoOrFramesDecode()(results)


def test_decode_frame_folder_gray_rgba_mixed_sizes(tmp_path):
    """Frame k (1-based file name) has brightness 20 * k; some are gray, RGBA or larger."""
    for k in range(1, 12):
        v = 20 * k
        if k % 3 == 0:
            img, ext = np.full((24, 32), v, np.uint8), 'png'
        elif k % 3 == 1:
            img, ext = np.full((24, 32, 4), (v, v, v, 128), np.uint8), 'png'
        else:
            img, ext = np.full((24, 32, 3), v, np.uint8), 'jpg'
        if k == 5:
            img = cv2.resize(img, (40, 30))
        cv2.imwrite(str(tmp_path / f'{k}.{ext}'), img)
    r = _load(dict(frame_dir=str(tmp_path)), [10, 0, 4, 4, 2, 1])
    assert r['total_frames'] == 11
    assert r['img_shape'] == r['original_shape'] == (24, 32)
    assert all(img.shape == (24, 32, 3) and img.dtype == np.uint8 for img in r['imgs'])
    means = [img.mean() for img in r['imgs']]
    assert means == pytest.approx([220, 20, 100, 100, 60, 40], abs=2)
    assert r['imgs'][2] is not r['imgs'][3]


def test_decode_unsampled_frame_0_sets_the_size_from_its_header(tmp_path):
    """Frame 0 not sampled: its size is read from its header, also for a folder whose name is not
    UTF-8 and for an EXIF quarter turn (OpenCV turns the image); an unreadable frame 0 fails."""
    from PIL import Image
    raw = os.fsencode(str(tmp_path)) + b'/clip\xe9'
    try:
        os.makedirs(raw)
    except OSError:
        pytest.skip('this file system refuses non-UTF-8 names')
    folder = os.fsdecode(raw)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(raw + b'/1.jpg', exif=exif.tobytes())
    Image.fromarray(np.full((30, 30, 3), 99, np.uint8)).save(raw + b'/2.png')
    full = _load(dict(frame_dir=folder), [0, 1])
    assert full['imgs'][0].shape == (40, 20, 3)  # decoded frame 0, turned
    r = _load(dict(frame_dir=folder), [1, 1])
    assert r['img_shape'] == (40, 20) and all(img.shape == (40, 20, 3) for img in r['imgs'])
    with open(raw + b'/1.jpg', 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(RuntimeError, match=r'cannot read image .*1\.jpg'):
        _load(dict(frame_dir=folder), [1])


def test_decode_frame_folder_keeps_rgb_order(tmp_path):
    cv2.imwrite(str(tmp_path / '1.png'), np.full((8, 8, 3), (255, 0, 0), np.uint8))  # BGR blue
    img = _load(dict(frame_dir=str(tmp_path)), [0])['imgs'][0]
    assert img[0, 0].tolist() == [0, 0, 255]


def test_decode_unreadable_image_names_file(tmp_path):
    cv2.imwrite(str(tmp_path / '1.jpg'), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / '2.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(RuntimeError, match=r'cannot read image .*2\.jpg'):
        _load(dict(frame_dir=str(tmp_path)), [0, 1])


def _write_video(path, num_frames=20, size=(64, 48)):
    """Frame k has brightness 20 + 10 * k."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, size)
    for k in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 20 + 10 * k, np.uint8))
    writer.release()


def test_decode_video_in_frame_inds_order(tmp_path):
    path = tmp_path / 'clip 1.mp4'
    _write_video(path)
    r = _load(dict(filename=str(path)), [19, 0, 7, 7, 3])
    assert r['total_frames'] == 20
    assert 'video_reader' not in r
    assert r['img_shape'] == (48, 64)
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 for img in r['imgs'])
    means = [img.mean() for img in r['imgs']]
    assert means == pytest.approx([210, 20, 90, 90, 50], abs=8)


def test_video_and_sampling_pipeline(tmp_path):
    path = tmp_path / 'v.mp4'
    _write_video(path, num_frames=9)
    r = VideoOrFramesInit()(dict(filename=str(path)))
    r = SnippetSampling(test_mode=True)(r)
    r = VideoOrFramesDecode()(r)
    assert len(r['imgs']) == 35
    expected = 20 + 10 * r['frame_inds']
    assert [img.mean() for img in r['imgs']] == pytest.approx(expected.tolist(), abs=8)


def test_bad_video_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        VideoOrFramesInit()(dict(filename=str(tmp_path / 'missing.mp4')))
    bad = tmp_path / 'corrupt.mp4'
    bad.write_bytes(b'garbage' * 100)
    with pytest.raises(RuntimeError, match='corrupt.mp4') as info:
        VideoOrFramesInit()(dict(filename=str(bad)))
    assert '\n' not in str(info.value)


def test_decode_rejects_out_of_range_indices(tmp_path):
    cv2.imwrite(str(tmp_path / '1.jpg'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(IndexError, match='frame_inds must lie in'):
        _load(dict(frame_dir=str(tmp_path)), [0, 1])
