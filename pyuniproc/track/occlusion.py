"""OC-SORT's observation-centric rules (Cao et al., "Observation-Centric SORT", CVPR 2023) for ByteTrack.

A Kalman track that loses its person keeps moving on its last velocity; after a second of occlusion
that velocity, and the box, are guesses. OC-SORT trusts the detector's observations instead:

- momentum (OCM): a track's direction is the direction from its observation `frames_back` frames ago to
  its newest one; in the first association a detection that continues that direction (seen from the
  same old observation) costs less than one that turns back. Two people crossing overlap each other's
  predicted box, but walk in different directions, so they keep their own tracks.
- re-update (ORU): when a lost track is found again, its filter is rolled back to its last observation
  and run forward along a straight virtual path to the new one, one predict and update per missed frame,
  so its velocity is the walk it made while hidden rather than what coasting left it.
- recovery (OCR): a last-chance match of tracks nobody claimed, by the overlap of their LAST OBSERVED
  box (not the prediction) with detections nobody claimed - a person who stopped while hidden.

Plain functions over column arrays; `ByteTrack` (pyuniproc/track/bytetrack.py) keeps the observation
history and calls them. Box layout xyxy: x1, y1, x2, y2 in pixels.
"""

from __future__ import annotations

import numpy as np

from pyuniproc.track.kalman import KalmanFilterXYAH, xyxy_to_xyah

_NORM_EPS = 1e-6
"""Added to a displacement's length, as OC-SORT does: a track that has not moved has no direction (0, 0)."""


def centre_direction(from_xyxy: np.ndarray, to_xyxy: np.ndarray) -> np.ndarray:
    """Unit vector (dx, dy) from each box centre to the other's: (..., 4), (..., 4) -> (..., 2).

    The inputs broadcast against each other (e.g. (j, 1, 4) and (1, k, 4) give (j, k, 2)). Boxes on the
    same centre give (0, 0).
    """
    a = np.asarray(from_xyxy, dtype=np.float64)
    b = np.asarray(to_xyxy, dtype=np.float64)
    shift = (b[..., :2] + b[..., 2:]) / 2 - (a[..., :2] + a[..., 2:]) / 2
    return shift / (np.hypot(shift[..., 0], shift[..., 1])[..., None] + _NORM_EPS)


def previous_observation(
    history_xyxy: np.ndarray, history_frame: np.ndarray, frame: int, frames_back: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each track's observation about `frames_back` frames before `frame`, OC-SORT's rule.

    history_xyxy: (n, H, 4) the last H observed boxes, newest first; history_frame: (n, H) int64 the
    frame of each, -1 where there is none. Returns (n, 4) boxes and (n,) bool, False for a track with
    no observation at all. The box is the oldest observation no more than `frames_back` frames before
    `frame`; a track with none in that window (lost for longer) gives its newest observation.
    """
    n, depth = history_frame.shape
    within = (history_frame >= frame - frames_back) & (history_frame >= 0)
    oldest = depth - 1 - np.argmax(within[:, ::-1], axis=1)
    pick = np.where(within.any(axis=1), oldest, 0)
    return history_xyxy[np.arange(n), pick], history_frame[:, 0] >= 0


def momentum_similarity(
    direction: np.ndarray,
    previous_xyxy: np.ndarray,
    has_previous: np.ndarray,
    detection_xyxy: np.ndarray,
    detection_score: np.ndarray,
) -> np.ndarray:
    """OCM's bonus for continuing a track's direction: (j, k) float64 in [-0.5, 0.5], times the score.

    direction: (j, 2) each track's unit direction (dx, dy), (0, 0) if unknown; previous_xyxy: (j, 4) and
    has_previous: (j,) its observation `frames_back` frames ago (see previous_observation);
    detection_xyxy: (k, 4); detection_score: (k,). The bonus is (pi/2 - angle) / pi for the angle between
    the track's direction and the direction from its old observation to the detection: +0.5 straight
    on, 0 at a right angle (or no direction known), -0.5 straight back; scaled by the detection's score
    so a doubtful box's direction counts less.
    """
    towards = centre_direction(previous_xyxy[:, None, :], detection_xyxy[None, :, :])  # (j, k, 2)
    cosine = np.clip(np.einsum("jd,jkd->jk", direction, towards), -1.0, 1.0)
    bonus = (np.pi / 2 - np.arccos(cosine)) / np.pi
    bonus *= has_previous[:, None]
    return bonus * np.asarray(detection_score, dtype=np.float64)[None, :]


def reupdate_along_path(
    kalman: KalmanFilterXYAH,
    mean: np.ndarray,
    covariance: np.ndarray,
    from_xyxy: np.ndarray,
    to_xyxy: np.ndarray,
    gap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """ORU for one track: its filter state at its last observation, run `gap` frames to the new one.

    mean: (8,), covariance: (8, 8) the state right after the update with `from_xyxy` (4,); to_xyxy: (4,)
    the box found `gap` (>= 1) frames later. Each frame in between is one predict and one update with a
    virtual box on the straight line between the two (corners interpolated linearly, so centre, width
    and height are too); the last update is the real box. Returns the new (8,), (8, 8).
    """
    if gap < 1:
        raise ValueError(f"gap={gap!r} must be at least 1 frame")
    steps = np.arange(1, gap + 1, dtype=np.float64)[:, None] / gap  # (gap, 1)
    path = xyxy_to_xyah(from_xyxy[None, :] + steps * (to_xyxy - from_xyxy)[None, :])  # (gap, 4)
    mean, covariance = mean[None, :], covariance[None, :, :]
    for step in path:
        mean, covariance = kalman.predict(mean, covariance)
        mean, covariance = kalman.update(mean, covariance, step[None, :])
    return mean[0], covariance[0]
