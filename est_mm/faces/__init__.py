"""Faces in raw video: detectors (:mod:`.detectors`), the detection loop (:mod:`.detection`),
single- and multi-face tracking (:mod:`.tracking`, :mod:`.multi_face`) and crop geometry
(:mod:`.crop`)."""
from .crop import crop_face, crop_main_face, face_settings, iter_face_crops
from .detection import detect_video, iter_detections
from .detectors import (FACE_DETECTORS, FaceDetector, RetinaFaceDetector, YuNetDetector,
                        build_face_detector)
from .multi_face import PersonFaceTrack, describe_faces, detect_with_appearance, track_faces
from .tracking import (FaceTrack, FaceTracker, IoULinker, LiveFaceBoxes, NoFaceError, PersonTrack,
                       associate,
                       box_iou, face_descriptor, fill_track, link_tracks, smooth_series,
                       track_area, track_main_face)

__all__ = [
    'FACE_DETECTORS', 'FaceDetector', 'FaceTrack', 'FaceTracker', 'IoULinker', 'LiveFaceBoxes',
    'NoFaceError',
    'PersonFaceTrack', 'PersonTrack', 'RetinaFaceDetector', 'YuNetDetector', 'associate',
    'box_iou', 'build_face_detector', 'crop_face', 'crop_main_face', 'describe_faces',
    'detect_video', 'detect_with_appearance', 'face_descriptor', 'face_settings', 'fill_track',
    'iter_detections', 'iter_face_crops', 'link_tracks', 'smooth_series', 'track_area',
    'track_faces', 'track_main_face'
]
