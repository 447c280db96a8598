"""A synthetic expression-video dataset in the official DFEW layout, for tests and CPU demos.

Each video is a drawn cartoon face whose brows, eyes and mouth move from neutral to a
class-specific peak and back. Identity (face and background colour, head shape, eye spacing),
scale, position (with a slight drift) and pixel noise are random per video, so the class is told
by the facial movement, not by appearance. The features are thick and high-contrast so that a
small CNN trained from scratch at 64x64 can see them.

Layout written under ``out_dir`` (what :class:`DFEWDataset` reads)::

    Clip/clip_224x224/<5-digit id>/1.jpg ... <n>.jpg        (unpadded frame names)
    EmoLabel_DataSplit/train(single-labeled)/set_<k>.csv    k = 1..5, "video_name,label"
    EmoLabel_DataSplit/test(single-labeled)/set_<k>.csv     labels 1..7 in DFEW order
    toy_dataset.json                                        generation parameters
"""
import csv
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass, fields
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .dfew_dataset import DFEW_CLASSES, dfew_split_csv

FRAMES_DIR = osp.join('Clip', 'clip_224x224')
MARKER = 'toy_dataset.json'
NUM_FOLDS = 5

_SHIFT = 4
_ONE = 1 << _SHIFT
_DARK = (25, 20, 20)
_MOUTH = (70, 10, 20)
_WHITE = (250, 250, 250)


@dataclass
class Pose:
    """Facial feature parameters; lengths in units of the head's half-width."""
    eye_open: float = 1.0       # eye height relative to neutral
    brow_raise: float = 0.0     # both brows up (+) or down (-)
    brow_inner: float = 0.0     # inner brow ends up (+, sad/fear) or down (-, angry V)
    brow_right: float = 0.0     # extra raise of the right-hand brow only (asymmetry)
    mouth_width: float = 1.0    # mouth width relative to neutral
    mouth_curve: float = 0.0    # mouth corners up (+, smile) or down (-, frown)
    mouth_right: float = 0.0    # extra raise of the right-hand mouth corner only (asymmetry)
    mouth_open: float = 0.0     # opening height
    teeth: float = 0.0          # 1: the open mouth shows white teeth


NEUTRAL_POSE = Pose()

PEAK_POSES = {
    'Happy': Pose(eye_open=0.25, brow_raise=0.05, mouth_width=1.45, mouth_curve=0.38,
                  mouth_open=0.42, teeth=1.0),
    'Sad': Pose(eye_open=0.6, brow_inner=0.45, brow_raise=0.05, mouth_width=0.95,
                mouth_curve=-0.42),
    'Neutral': Pose(),
    'Angry': Pose(eye_open=0.5, brow_raise=-0.22, brow_inner=-0.45, mouth_width=0.55,
                  mouth_curve=-0.08),
    'Surprise': Pose(eye_open=2.0, brow_raise=0.42, mouth_width=0.7, mouth_open=0.95),
    'Disgust': Pose(eye_open=0.6, brow_right=0.45, brow_raise=-0.12, mouth_right=0.5,
                    mouth_curve=-0.1, mouth_open=0.12, mouth_width=1.1),
    'Fear': Pose(eye_open=1.9, brow_raise=0.32, brow_inner=0.28, mouth_width=1.6,
                 mouth_curve=-0.12, mouth_open=0.32),
}


def pose_at(label: int, intensity: float) -> Pose:
    """Pose of class ``label`` (0-based, DFEW order) at ``intensity`` in [0, 1]."""
    peak = PEAK_POSES[DFEW_CLASSES[label]]
    return Pose(**{f.name: getattr(NEUTRAL_POSE, f.name) +
                   intensity * (getattr(peak, f.name) - getattr(NEUTRAL_POSE, f.name))
                   for f in fields(Pose)})


@dataclass
class Identity:
    """Appearance of one video's face; positions and sizes in pixels."""
    size: int
    face_rgb: Tuple[int, int, int]
    background_rgb: Tuple[int, int, int]
    center: Tuple[float, float]
    half_width: float
    aspect: float
    eye_spacing: float
    feature_scale: float
    noise_sigma: float


def _luminance(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _random_colour(rng: np.random.Generator, value_range, sat_range) -> Tuple[int, int, int]:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(*sat_range), rng.integers(*value_range)]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def sample_identity(rng: np.random.Generator, size: int) -> Identity:
    """A random face appearance for a ``size`` x ``size`` frame."""
    face = _random_colour(rng, (170, 250), (30, 140))
    while True:
        background = _random_colour(rng, (20, 256), (0, 256))
        if abs(_luminance(background) - _luminance(face)) > 60:
            break
    scale = rng.uniform(0.82, 1.0)
    half_width = size * 0.36 * scale
    return Identity(
        size=size,
        face_rgb=face,
        background_rgb=background,
        center=(size / 2 + rng.uniform(-0.05, 0.05) * size,
                size / 2 + rng.uniform(-0.04, 0.04) * size),
        half_width=half_width,
        aspect=rng.uniform(1.12, 1.3),
        eye_spacing=rng.uniform(0.38, 0.48),
        feature_scale=rng.uniform(0.9, 1.1),
        noise_sigma=rng.uniform(2.0, 6.0),
    )


def _fx(x: float) -> int:
    return int(round(x * _ONE))


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32).reshape(-1, 1, 2)


def render_face(identity: Identity, pose: Pose, offset: Tuple[float, float] = (0.0, 0.0)
                ) -> np.ndarray:
    """Draw one noise-free frame: ``size`` x ``size`` x 3 uint8 RGB."""
    s = identity.size
    img = np.empty((s, s, 3), np.uint8)
    img[:] = identity.background_rgb
    u = identity.half_width
    cx, cy = identity.center[0] + offset[0], identity.center[1] + offset[1]
    k = identity.feature_scale
    line = max(2, int(round(0.13 * u * k)))
    aa = cv2.LINE_AA

    cv2.ellipse(img, (_fx(cx), _fx(cy)), (_fx(u), _fx(u * identity.aspect)), 0, 0, 360,
                identity.face_rgb, -1, aa, _SHIFT)
    nose_rgb = tuple(int(c * 0.75) for c in identity.face_rgb)
    cv2.line(img, (_fx(cx), _fx(cy - 0.05 * u)), (_fx(cx), _fx(cy + 0.2 * u)), nose_rgb,
             max(1, line // 2), aa, _SHIFT)

    eye_y = cy - 0.28 * u
    eye_w = 0.2 * u * k
    eye_h = max(0.06 * u, 0.13 * u * k * pose.eye_open)
    for side in (-1, 1):
        ex = cx + side * identity.eye_spacing * u
        cv2.ellipse(img, (_fx(ex), _fx(eye_y)), (_fx(eye_w), _fx(eye_h)), 0, 0, 360, _WHITE,
                    -1, aa, _SHIFT)
        pupil = min(0.09 * u * k, eye_h)
        cv2.ellipse(img, (_fx(ex), _fx(eye_y)), (_fx(0.09 * u * k), _fx(pupil)), 0, 0, 360,
                    _DARK, -1, aa, _SHIFT)
        cv2.ellipse(img, (_fx(ex), _fx(eye_y)), (_fx(eye_w), _fx(eye_h)), 0, 0, 360, _DARK,
                    1, aa, _SHIFT)

        brow_y = eye_y - 0.34 * u - pose.brow_raise * u - (pose.brow_right * u if side > 0 else 0)
        inner = (cx + side * 0.16 * u, brow_y - pose.brow_inner * u)
        outer = (cx + side * (identity.eye_spacing + 0.27) * u, brow_y)
        cv2.line(img, (_fx(inner[0]), _fx(inner[1])), (_fx(outer[0]), _fx(outer[1])), _DARK,
                 line + 1, aa, _SHIFT)

    mouth_y = cy + 0.5 * u
    half = 0.36 * u * k * pose.mouth_width
    x = np.linspace(-1.0, 1.0, 25)
    centre = mouth_y - (pose.mouth_curve * x ** 2 + pose.mouth_right * ((x + 1) / 2) ** 2) * u
    xs = cx + half * x
    if pose.mouth_open * u < 1.0:
        cv2.polylines(img, [_pts(np.stack([xs, centre], 1))], False, _DARK, line, aa, _SHIFT)
        return img
    opening = pose.mouth_open * u * np.sqrt(1 - x ** 2)
    upper = np.stack([xs, centre - 0.4 * opening], 1)
    lower = np.stack([xs, centre + 0.6 * opening], 1)
    outline = _pts(np.concatenate([upper, lower[::-1]]))
    fill = tuple(int(round(m + pose.teeth * (w - m))) for m, w in zip(_MOUTH, _WHITE))
    cv2.fillPoly(img, [outline], fill, aa, _SHIFT)
    cv2.polylines(img, [outline], True, _DARK, max(1, line - 1), aa, _SHIFT)
    return img


def intensity_profile(num_frames: int, peak: float, half_width: float = 0.32,
                      plateau: float = 0.12) -> np.ndarray:
    """Expression intensity (0..1) of each frame: neutral -> peak -> neutral over normalised time,
    full within ``plateau`` of ``peak`` and zero beyond ``half_width``. A 1-frame video shows the
    peak."""
    if num_frames == 1:
        return np.ones(1)
    t = np.linspace(0.0, 1.0, num_frames)
    x = np.clip((half_width - np.abs(t - peak)) / (half_width - plateau), 0.0, 1.0)
    return x * x * (3 - 2 * x)


def render_video(identity: Identity, label: int, num_frames: int, rng: np.random.Generator,
                 noise: bool = True) -> Tuple[List[np.ndarray], np.ndarray]:
    """Frames (list of HxWx3 uint8 RGB) of one expression video and their intensities."""
    peak_time = rng.uniform(0.4, 0.6)
    amplitude = rng.uniform(0.8, 1.0)
    intensity = amplitude * intensity_profile(num_frames, peak_time)
    drift = rng.uniform(-0.02, 0.02, size=2) * identity.size
    frames = []
    for i, a in enumerate(intensity):
        t = i / max(1, num_frames - 1)
        img = render_face(identity, pose_at(label, float(a)), (drift[0] * t, drift[1] * t))
        if noise:
            noisy = img + rng.normal(0.0, identity.noise_sigma, img.shape)
            img = np.clip(noisy, 0, 255).astype(np.uint8)
        frames.append(img)
    return frames, intensity


def fold_test_members(per_class: int, test_per_class: int, fold: int) -> List[int]:
    """Within-class positions (0..per_class-1) in the test part of ``fold`` (1..5): a block of
    ``test_per_class`` that rotates with the fold."""
    start = int(round((fold - 1) * per_class / NUM_FOLDS))
    return sorted((start + j) % per_class for j in range(test_per_class))


def _prepare_out_dir(out_dir: str, overwrite: bool) -> None:
    if osp.isfile(out_dir):
        raise FileExistsError(f'output path is a file: {out_dir}')
    if osp.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(f'output folder is not empty: {out_dir} '
                                  f'(pass overwrite=True / --overwrite to replace a toy dataset)')
        if not osp.isfile(osp.join(out_dir, MARKER)):
            raise FileExistsError(f'refusing to overwrite {out_dir}: it is not empty and has no '
                                  f'{MARKER}, so it was not written by this generator')
        for sub in (FRAMES_DIR, 'EmoLabel_DataSplit', MARKER):
            path = osp.join(out_dir, sub)
            if osp.isdir(path):
                shutil.rmtree(path)
            elif osp.exists(path):
                os.remove(path)
    os.makedirs(out_dir, exist_ok=True)


def generate_toy_dataset(out_dir: str,
                         train_per_class: int = 16,
                         test_per_class: int = 8,
                         frame_size: int = 64,
                         min_frames: int = 24,
                         max_frames: int = 48,
                         seed: int = 0,
                         jpeg_quality: int = 90,
                         overwrite: bool = False,
                         progress: bool = True) -> Dict:
    """Write the toy dataset (layout in the module docstring) and return a summary dict.

    Every fold has ``7 * train_per_class`` training and ``7 * test_per_class`` test videos;
    the folds rotate which videos of each class are in the test part. Deterministic for ``seed``.
    """
    for name, value, low in (('train_per_class', train_per_class, 1),
                             ('test_per_class', test_per_class, 1),
                             ('frame_size', frame_size, 16), ('min_frames', min_frames, 1)):
        if int(value) != value or value < low:
            raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
    if max_frames < min_frames:
        raise ValueError(f'max_frames ({max_frames}) must be >= min_frames ({min_frames})')
    if not 0 <= jpeg_quality <= 100:
        raise ValueError(f'jpeg_quality must be in 0..100, got {jpeg_quality}')
    _prepare_out_dir(out_dir, overwrite)

    num_classes = len(DFEW_CLASSES)
    per_class = train_per_class + test_per_class
    rng = np.random.default_rng(seed)
    slots = [(label, j) for label in range(num_classes) for j in range(per_class)]
    order = rng.permutation(len(slots))
    video_of = {slots[i]: vid + 1 for vid, i in enumerate(order)}

    items = sorted((vid, label) for (label, _), vid in video_of.items())
    video_seeds = rng.integers(0, 2**63 - 1, size=len(items))
    iterator = items
    if progress:
        from tqdm import tqdm
        iterator = tqdm(items, desc='toy videos', unit='video')
    num_written = 0
    quality = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    for (vid, label), vseed in zip(iterator, video_seeds):
        vrng = np.random.default_rng(int(vseed))
        identity = sample_identity(vrng, frame_size)
        num_frames = int(vrng.integers(min_frames, max_frames + 1))
        frames, _ = render_video(identity, label, num_frames, vrng)
        folder = osp.join(out_dir, FRAMES_DIR, f'{vid:05d}')
        os.makedirs(folder)
        for k, frame in enumerate(frames, 1):
            path = osp.join(folder, f'{k}.jpg')
            if not cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), quality):
                raise OSError(f'cannot write {path}')
        num_written += len(frames)

    for fold in range(1, NUM_FOLDS + 1):
        test_members = set(fold_test_members(per_class, test_per_class, fold))
        for split in ('train', 'test'):
            rows = sorted((video_of[(label, j)], label + 1) for label in range(num_classes)
                          for j in range(per_class) if (j in test_members) == (split == 'test'))
            path = osp.join(out_dir, dfew_split_csv(fold, split))
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w', newline='') as f:
                writer = csv.writer(f)
                writer.writerow(['video_name', 'label'])
                writer.writerows(rows)

    summary = dict(num_videos=len(items), num_frames=num_written,
                   frame_size=frame_size, train_per_fold=num_classes * train_per_class,
                   test_per_fold=num_classes * test_per_class, classes=list(DFEW_CLASSES),
                   train_per_class=train_per_class, test_per_class=test_per_class,
                   min_frames=min_frames, max_frames=max_frames, seed=seed,
                   jpeg_quality=jpeg_quality)
    with open(osp.join(out_dir, MARKER), 'w') as f:
        json.dump(summary, f, indent=2)
    return dict(summary, out_dir=out_dir)
