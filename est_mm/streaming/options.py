"""The demo's settings as one object each: :class:`FaceOptions` (finding, following and cropping
faces), :class:`LiveOptions` (those plus the windows and the source, for
:func:`~est_mm.streaming.run_live`) and :class:`DemoOptions` (those plus a file's outputs, for
:func:`~est_mm.apis.demo.run_demo`). ``tools/demo.py`` fills them from its command line; the
defaults are its option defaults."""
from dataclasses import dataclass, fields
from typing import Optional

__all__ = ['FaceOptions', 'LiveOptions', 'DemoOptions']


@dataclass
class FaceOptions:
    """How faces are found, followed and cropped.

    Args:
        detector: a face detector name (``est_mm.faces.FACE_DETECTORS``) or a detector.
        detect_every: run the detector on every k-th frame, keeping each face's boxes between.
        margin: face crop side = margin × the longer box side.
        smooth: average each box over its last k frames (past frames only); 0 or 1: off.
        align: rotate crops so the eyes are level (5-point alignment).
        face_size: side of a face crop in pixels.
        crop_faces: False when the frames already show one cropped face (no detection; one
            track, id 1).
        max_faces: follow at most this many faces (None: all).
        max_gap: a face missed for up to this many frames keeps its track id.
    """
    detector: object = 'retinaface'
    detect_every: int = 1
    margin: float = 1.25
    smooth: int = 5
    align: bool = False
    face_size: int = 224
    crop_faces: bool = True
    max_faces: Optional[int] = None
    max_gap: int = 25

    def face_options(self) -> 'FaceOptions':
        """Just the :class:`FaceOptions` part of this object."""
        return FaceOptions(**{f.name: getattr(self, f.name) for f in fields(FaceOptions)})


@dataclass
class LiveOptions(FaceOptions):
    """:class:`FaceOptions` plus the windows and the source of :func:`~est_mm.streaming.run_live`.

    Args:
        window: frames per window (None: the inferencer's).
        stride: frames between window starts (None: one snippet step, 10 frames).
        keep_tail: also a tail window when a track ends (the file demo: the timeline reaches the
            last frame; every frame is then cropped).
        timeout: seconds without data before a stream counts as stalled.
        show: a window with boxes and labels (the caller checks
            :func:`~est_mm.streaming.display_available`).
        shared_batch: the frames all faces need at a step go through the backbone in one
            batch (False: one batch per face; the same records, for speed comparisons).
    """
    window: Optional[int] = None
    stride: Optional[int] = None
    keep_tail: bool = False
    timeout: Optional[float] = 10.0
    show: bool = False
    shared_batch: bool = True


@dataclass
class DemoOptions(FaceOptions):
    """:class:`FaceOptions` plus what :func:`~est_mm.apis.demo.run_demo` writes for a file (its
    window and stride are the inferencer's).

    Args:
        pred_out_file: the JSON's path (None: ``<out_dir>/<stem>.json``).
        vid_out_dir: also write an annotated copy of the video there as ``<stem>.mp4``.
        overwrite: replace existing outputs (otherwise :class:`~est_mm.utils.OutputExistsError`
            before any work).
        min_track_len: drop face tracks spanning fewer frames, unless none is longer.
        progress: a progress bar over the frames; None: only on a terminal (tqdm's convention).
        jsonl: also write each window's record as JSON Lines there as it is computed (a path
            or ``'-'`` for stdout).
    """
    pred_out_file: Optional[str] = None
    vid_out_dir: Optional[str] = None
    overwrite: bool = False
    min_track_len: int = 10
    progress: Optional[bool] = None
    jsonl: Optional[str] = None

