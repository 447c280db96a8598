"""Raw video → face track → EST → JSON, timeline PNG and (optionally) an annotated video.
``tools/demo.py`` parses arguments and calls :func:`run_demo`."""
import json
import os
import os.path as osp
import time
from typing import Dict, Optional

import numpy as np

from .faces import crop_main_face, open_frames
from .inference import ESTInferencer
from .visualize import frame_labels, plot_timeline, write_annotated_video


def _write_json(path: str, data: Dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(path + '.tmp', path)


def demo_outputs(video: str, out_dir: str, pred_out_file: Optional[str] = None,
                 vid_out_dir: Optional[str] = None) -> Dict[str, str]:
    """The files :func:`run_demo` writes: json, timeline (PNG) and, with ``vid_out_dir``, video."""
    stem = osp.splitext(osp.basename(video))[0]
    paths = dict(json=pred_out_file or osp.join(out_dir, f'{stem}.json'),
                 timeline=osp.join(out_dir, f'{stem}_timeline.png'))
    if vid_out_dir:
        paths['video'] = osp.join(vid_out_dir, f'{stem}.mp4')
    return paths


def run_demo(video: str, inferencer: ESTInferencer, out_dir: str, detector='retinaface',
             detect_every: int = 1, margin: float = 1.25, smooth: int = 5, align: bool = False,
             face_size: int = 224, pred_out_file: Optional[str] = None,
             vid_out_dir: Optional[str] = None, crop_faces: bool = True,
             overwrite: bool = False) -> Dict:
    """Runs detection + EST on ``video`` and writes ``<stem>.json`` and ``<stem>_timeline.png``
    into ``out_dir`` (and ``<stem>.mp4`` into ``vid_out_dir``). Returns the JSON dict, which
    also holds the timings: seconds of work per second of video for detection and for EST.
    Raises :class:`est_mm.utils.OutputExistsError` before any work if one of these files exists,
    unless ``overwrite``; each is written under a temporary name, then renamed."""
    from ..utils.files import refuse_existing
    outputs = demo_outputs(video, out_dir, pred_out_file, vid_out_dir)
    refuse_existing(outputs.values(), overwrite)
    frames = open_frames(video)
    total, fps = frames.num_frames, frames.fps
    windows = inferencer.window_indices(total)
    needed = np.unique(np.concatenate([ind for _, _, ind in windows]))
    timings: Dict[str, float] = {}
    track = None
    if crop_faces:
        track = crop_main_face(frames, detector, size=face_size, margin=margin, smooth=smooth,
                               align=align, detect_every=detect_every, crop_indices=needed,
                               timings=timings)
        crops = dict(zip(track.crop_indices.tolist(), track.crops))

        def read(indices):
            return [crops[i] for i in indices]
    else:
        def read(indices):
            return list(frames.get(list(indices)))
    tic = time.perf_counter()
    result = inferencer.predict(read, total, fps, name=video)
    timings['est'] = time.perf_counter() - tic
    duration = total / fps if fps else None
    report = dict(
        video=osp.abspath(video), num_frames=total, fps=fps, duration_s=duration,
        label=result.label_name, scores=dict(zip(result.classes, result.scores)),
        windows=[w.__dict__ for w in result.windows], classes=result.classes,
        face=track.to_dict() if track is not None else None,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        seconds_per_video_second=({
            'detection': round((timings.get('detect', 0) + timings.get('decode', 0)) / duration,
                               3),
            'crop': round(timings.get('crop', 0) / duration, 3),
            'est': round(timings['est'] / duration, 3)} if duration else None),
        settings=dict(detector=str(detector), detect_every=detect_every, margin=margin,
                      smooth=smooth, align=align, face_size=face_size,
                      window=inferencer.window, stride=inferencer.stride))
    _write_json(outputs['json'], report)
    report['outputs'] = dict(json=outputs['json'], timeline=plot_timeline(
        result, outputs['timeline'], inferencer.sampler))
    if vid_out_dir:
        labels = [f'{w.label_name} {100 * max(w.scores):.0f}%' for w in frame_labels(result)]
        boxes = track.boxes if track is not None else None
        stream = (f for _, chunk in frames.chunks() for f in chunk)
        report['outputs']['video'] = write_annotated_video(
            stream, outputs['video'], fps or 25.0, boxes, labels)
    return report
