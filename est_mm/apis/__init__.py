"""High-level APIs: :mod:`.inference` (EST on face clips), :mod:`.demo` (raw video → faces →
EST → JSON, timeline, annotated video), :mod:`.batch` (the demo on many videos, one CSV,
resume; live sources: :func:`est_mm.streaming.run_live`). The face pieces they use live in
:mod:`est_mm.video` (reading), :mod:`est_mm.faces` (detection, tracking, cropping) and
:mod:`est_mm.datasets.face_extraction` (frame folders for training), the result types in
:mod:`est_mm.results`; their names are re-exported here."""
from .batch import is_finished, run_batch, write_csv  # noqa: F401
from ..datasets.face_extraction import (TRACK_FILE, ExtractOptions, extract_faces,  # noqa: F401
                                        extract_video_faces, find_videos,
                                        format_extract_summary)
from ..faces import (FACE_DETECTORS, FaceDetector, FaceTrack, NoFaceError,  # noqa: F401
                     RetinaFaceDetector, YuNetDetector, build_face_detector, crop_face,
                     crop_main_face, detect_video, iter_face_crops, track_faces,
                     track_main_face)
from ..results import VideoResult, WindowRecord, WindowResult  # noqa: F401
from ..video import ArrayFrames, VideoFrames, VideoReadError, open_frames  # noqa: F401
