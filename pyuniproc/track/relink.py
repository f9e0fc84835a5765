"""One id per person within a camera: a new track takes over a track lost a moment ago nearby.

Why: ByteTrack re-finds a lost track only by box overlap with its motion-predicted box. When the
detector misses a person for a while (occlusion, a small or blurred person), the prediction drifts
or the track is dropped after its buffer, and the person comes back under a new id: one more ID
switch in the camera, and one more local track for cross-camera fusion to join (which it often
cannot). A lost track whose person reappears is usually close to where it was heading, about as
tall, and looks the same; BoT-SORT and StrongSORT use the same cues inside the association.

Here it is a separate step after the ReID stage (so the crops already embedded for fusion serve as
appearance, at no extra cost), per camera (`TrackRelinker`, one instance per camera like the
tracker). When a tracker id is reported for the first time, it is matched (Hungarian, one to one)
against the camera's tracklets that are not visible in this frame and were last seen at most
`max_gap_frames` ago, under three gates:

1. position: its box centre lies within `(max_distance + distance_per_frame * gap) * height` of
   where the lost tracklet was heading (last centre + its recent velocity * gap);
2. size: the two heights differ by at most a factor `max_height_ratio`;
3. appearance, when both sides have an embedding: cosine of the new crop to the tracklet's
   quality-weighted mean embedding at least `min_cosine`;
4. not gone through the frame edge: a tracklet last seen within `edge_margin` heights of a border
   most likely walked out (someone else walking in there is the common case), and re-entries are
   cross-camera fusion's job, which knows the site's re-entry times.

A matched new track is reported under the lost tracklet's id from its first frame on. If the lost
tracklet's own tracker track comes back later (ByteTrack's late re-find), it takes its id back and
the newcomer falls back to its own tracker id: the tracker's own association is trusted first.
Ids of tracks that are never relinked are the tracker's ids unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.types import Detections

EMBEDDING = "embedding"
EMBEDDING_QUALITY = "embedding_quality"
HISTORY = 8
"""Centres kept per tracklet for its velocity (frames with a report)."""


@dataclass
class _Tracklet:
    """What the relinker remembers of one reported id."""

    owner: int  # tracker id whose rows carry this id now
    first_frame: int
    last_frame: int
    box: np.ndarray  # (4,) xyxy of the last report
    frames: int = 0  # reports so far
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (frame, cx, cy)
    appearance: np.ndarray | None = None  # quality-weighted sum of unit embeddings
    weight: float = 0.0

    def velocity(self) -> np.ndarray:
        """Centre motion in pixels per frame over the recent history (0 with one point)."""
        if len(self.history) < 2 or self.history[-1][0] == self.history[0][0]:
            return np.zeros(2)
        (f0, x0, y0), (f1, x1, y1) = self.history[0], self.history[-1]
        return np.array([x1 - x0, y1 - y0]) / (f1 - f0)

    def mean_embedding(self) -> np.ndarray | None:
        if self.appearance is None or self.weight <= 0:
            return None
        norm = float(np.linalg.norm(self.appearance))
        return self.appearance / norm if norm > 0 else None


class TrackRelinker:
    """Per-camera relinking of new tracker tracks to recently lost ones (see the module docstring).

    Args (keyword only):
        max_gap_frames: longest absence bridged. Longer bridges people who stood behind something
            for long, but lets a stranger take the id of someone who left.
        max_distance: position gate at a gap of one frame, in heights of the lost box. Wider
            catches people the detector found off their predicted path, and more strangers.
        distance_per_frame: how much the gate widens per frame of gap (heights): the longer the
            gap, the less the last velocity tells.
        max_height_ratio: largest ratio between the two box heights (>= 1).
        min_cosine: least cosine between the new crop and the lost tracklet's mean embedding when
            both exist; None: appearance is not used. Its scale depends on the embedder.
        min_frames: a lost tracklet must have been reported this many times to be taken over (one-
            or two-frame tracks are mostly false boxes).
        max_extrapolation_frames: the velocity is extrapolated over at most this many frames (a
            person does not walk straight on for ever).
        edge_margin: a tracklet whose last box came closer than this many of its heights to a frame
            border is not taken over (needs `frame_size` in `update`); None: no edge rule.
    """

    def __init__(
        self,
        *,
        max_gap_frames: int = 30,
        max_distance: float = 0.5,
        distance_per_frame: float = 0.05,
        max_height_ratio: float = 1.5,
        min_cosine: float | None = None,
        min_frames: int = 3,
        max_extrapolation_frames: int = 10,
        edge_margin: float | None = 0.1,
    ) -> None:
        if not isinstance(max_gap_frames, int) or max_gap_frames < 1:
            raise ValueError(f"max_gap_frames={max_gap_frames!r} must be an integer >= 1")
        if max_distance < 0 or distance_per_frame < 0:
            raise ValueError(f"max_distance={max_distance!r} and distance_per_frame={distance_per_frame!r} "
                             "must be >= 0")
        if max_height_ratio < 1:
            raise ValueError(f"max_height_ratio={max_height_ratio!r} must be >= 1")
        if min_cosine is not None and not -1.0 <= min_cosine <= 1.0:
            raise ValueError(f"min_cosine={min_cosine!r} must be in [-1, 1] or None")
        if not isinstance(min_frames, int) or min_frames < 1:
            raise ValueError(f"min_frames={min_frames!r} must be an integer >= 1")
        if not isinstance(max_extrapolation_frames, int) or max_extrapolation_frames < 0:
            raise ValueError(
                f"max_extrapolation_frames={max_extrapolation_frames!r} must be an integer >= 0"
            )
        self.max_gap_frames = max_gap_frames
        self.max_distance = float(max_distance)
        self.distance_per_frame = float(distance_per_frame)
        self.max_height_ratio = float(max_height_ratio)
        self.min_cosine = None if min_cosine is None else float(min_cosine)
        self.min_frames = min_frames
        if edge_margin is not None and edge_margin < 0:
            raise ValueError(f"edge_margin={edge_margin!r} must be >= 0 or None")
        self.max_extrapolation_frames = max_extrapolation_frames
        self.edge_margin = None if edge_margin is None else float(edge_margin)
        self.reset()

    def reset(self) -> None:
        self._alias: dict[int, int] = {}  # tracker id -> reported id
        self._tracklets: dict[int, _Tracklet] = {}  # reported id -> state
        self._newest = 0  # largest tracker id seen: larger ones are new tracks
        self.relinked = 0  # tracks given an older id (for the run summary and tests)

    def update(self, frame_index: int, tracks: Detections, frame_size: tuple[int, int] | None = None
               ) -> Detections:
        """The frame's tracks with `tracker_id` replaced by the reported ids.

        frame_size: (height, width) of the frame, for the edge rule (None: no edge rule)."""
        raw = tracks.tracker_id.astype(np.int64)
        ids = raw.copy()
        fresh = []
        for row, tracker_id in enumerate(raw.tolist()):
            if tracker_id in self._alias:
                ids[row] = self._alias[tracker_id]
            elif tracker_id > self._newest:  # trackers number tracks in the order they are reported
                fresh.append(row)
        self._newest = max(self._newest, int(raw.max(initial=self._newest)))
        self._resolve_returns(raw, ids)
        if fresh:
            self._relink(frame_index, tracks, np.asarray(fresh), raw, ids, frame_size)
        self._remember(frame_index, tracks, raw, ids)
        self._forget(frame_index)
        return replace(tracks, tracker_id=ids)

    # --- steps -------------------------------------------------------------------------------

    def _resolve_returns(self, raw: np.ndarray, ids: np.ndarray) -> None:
        """A reported id carried by two tracker tracks in one frame: the tracklet's original track
        (id == its tracker id) keeps it, the other falls back to its own tracker id."""
        values, counts = np.unique(ids, return_counts=True)
        for reported in values[counts > 1].tolist():
            for row in np.flatnonzero(ids == reported).tolist():
                if raw[row] != reported:
                    ids[row] = raw[row]
                    self._alias[int(raw[row])] = int(raw[row])

    def _relink(
        self,
        frame: int,
        tracks: Detections,
        rows: np.ndarray,
        raw: np.ndarray,
        ids: np.ndarray,
        frame_size: tuple[int, int] | None,
    ) -> None:
        visible = set(ids.tolist())
        lost = [
            (reported, t)
            for reported, t in self._tracklets.items()
            if reported not in visible
            and t.frames >= self.min_frames
            and 0 < frame - t.last_frame <= self.max_gap_frames
            and not self._left_the_view(t.box, frame_size)
        ]
        for row in rows.tolist():
            ids[row] = raw[row]
            self._alias[int(raw[row])] = int(raw[row])
        if not lost:
            return
        cost = np.full((len(rows), len(lost)), np.inf)
        embedding = tracks.data.get(EMBEDDING)
        for j, (_, tracklet) in enumerate(lost):
            cost[:, j] = self._cost(frame, tracklet, tracks.xyxy[rows],
                                    None if embedding is None else embedding[rows])
        finite = np.isfinite(cost)
        if not finite.any():
            return
        pick_rows, pick_cols = linear_sum_assignment(np.where(finite, cost, 1e6))
        for i, j in zip(pick_rows.tolist(), pick_cols.tolist(), strict=True):
            if not finite[i, j]:
                continue
            reported, tracklet = lost[j]
            row = int(rows[i])
            ids[row] = reported
            self._alias[int(raw[row])] = reported
            tracklet.owner = int(raw[row])
            self.relinked += 1

    def _left_the_view(self, box: np.ndarray, frame_size: tuple[int, int] | None) -> bool:
        if self.edge_margin is None or frame_size is None:
            return False
        height, width = frame_size
        margin = self.edge_margin * max(float(box[3] - box[1]), 1.0)
        return bool(box[0] < margin or box[1] < margin or box[2] > width - margin or box[3] > height - margin)

    def _cost(self, frame: int, tracklet: _Tracklet, boxes: np.ndarray, embeddings: np.ndarray | None
              ) -> np.ndarray:
        """(n,) gate-normalised distance of each new box to the lost tracklet; inf where a gate fails."""
        gap = frame - tracklet.last_frame
        last = tracklet.box
        height = max(float(last[3] - last[1]), 1.0)
        centre = np.array([(last[0] + last[2]) / 2, (last[1] + last[3]) / 2])
        heading = centre + tracklet.velocity() * min(gap, self.max_extrapolation_frames)
        radius = (self.max_distance + self.distance_per_frame * gap) * height
        new_centre = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
        distance = np.linalg.norm(new_centre - heading, axis=1) / max(radius, 1e-6)
        new_height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        ratio = np.maximum(new_height / height, height / new_height)
        cost = np.where((distance <= 1.0) & (ratio <= self.max_height_ratio), distance, np.inf)
        mean = tracklet.mean_embedding()
        if self.min_cosine is not None and mean is not None and embeddings is not None:
            has = np.isfinite(embeddings).all(axis=1)
            cosine = np.where(has, np.nan_to_num(embeddings) @ mean, 1.0)
            cost = np.where(cosine >= self.min_cosine, cost + (1.0 - cosine), np.inf)
        return cost

    def _remember(self, frame: int, tracks: Detections, raw: np.ndarray, ids: np.ndarray) -> None:
        embedding = tracks.data.get(EMBEDDING)
        quality = tracks.data.get(EMBEDDING_QUALITY)
        for row, reported in enumerate(ids.tolist()):
            box = np.asarray(tracks.xyxy[row], np.float64)
            tracklet = self._tracklets.get(reported)
            if tracklet is None:
                tracklet = self._tracklets[reported] = _Tracklet(int(raw[row]), frame, frame, box)
            tracklet.owner, tracklet.last_frame, tracklet.box = int(raw[row]), frame, box
            tracklet.frames += 1
            tracklet.history.append((frame, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
            del tracklet.history[:-HISTORY]
            if embedding is not None and np.isfinite(embedding[row]).all():
                weight = float(quality[row]) if quality is not None and quality[row] > 0 else 1.0
                vector = np.asarray(embedding[row], np.float64) * weight
                tracklet.appearance = vector if tracklet.appearance is None else tracklet.appearance + vector
                tracklet.weight += weight

    def _forget(self, frame: int) -> None:
        """Tracklets too long gone to be taken over, and the aliases only they used."""
        gone = [r for r, t in self._tracklets.items() if frame - t.last_frame > self.max_gap_frames]
        for reported in gone:
            del self._tracklets[reported]
        if gone:
            dropped = set(gone)
            self._alias = {raw: rep for raw, rep in self._alias.items() if rep not in dropped}
