"""Reading ground truth and a run's outputs into one shape: per camera, (n, 6) float64 rows
`frame (1-based), id, x, y, w, h`.

Ground truth: `GT/gt/<camera_id>.txt` (MOTChallenge; rows whose 7th column, the "consider"
flag, is 0 are not scored, as the MOTChallenge devkit does; those whose 8th column is a
distractor class are kept apart, so boxes on them can be forgiven, see metrics.py). Frame counts
come from `GT/scenario.json` when present.

Predictions of one run folder OUT:
- per-camera tracks (local ids): `OUT/mot/<camera_id>.txt`, rows `frame,id,x,y,w,h,conf,-1,-1,-1`;
  if that folder is missing, `OUT/tracks.csv`'s `track_id` column.
- cross-camera identities: `OUT/mtmc/<camera_id>.txt` (same rows, id = global id) if present,
  else `OUT/tracks.csv`'s `global_id` column. A row without a global id (`global_id` < 0 or
  empty) keeps an identity of its own per (camera, track_id), so it can still be right within
  its camera but never matches across cameras.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

TRACKS_CSV_COLUMNS = (
    "camera_id",
    "frame",
    "pts_seconds",
    "track_id",
    "global_id",
    "x1",
    "y1",
    "x2",
    "y2",
    "confidence",
)
UNASSIGNED_BASE = 1_000_000_000  # ids given to rows that no fusion assigned a global id
DISTRACTOR_CLASSES = (2, 7, 8, 12)  # MOTChallenge: person on vehicle, static person, distractor,
# reflection; TrackEval's MOT17 preprocessing drops predicted boxes that match these


def read_mot(path: Path | str, *, drop_ignored: bool = False) -> np.ndarray:
    """(n, 6) rows frame, id, x, y, w, h of a MOTChallenge text file (comma or space separated)."""
    rows = []
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.replace(",", " ").split()
            if len(parts) < 6:
                raise ValueError(f"{path}:{line_no}: expected at least 6 columns, got {len(parts)}: {line!r}")
            try:
                values = [float(p) for p in parts]
            except ValueError:
                if line_no == 1:
                    continue  # a header line
                raise ValueError(f"{path}:{line_no}: not a number in {line!r}") from None
            if drop_ignored and len(values) >= 7 and values[6] == 0:
                continue
            rows.append(values[:6])
    return np.array(rows, np.float64).reshape(-1, 6)


def read_distractors(path: Path | str) -> np.ndarray:
    """(n, 6) rows frame, id, x, y, w, h of a MOTChallenge GT file whose class (8th column) is one
    of DISTRACTOR_CLASSES; none when the file has no class column."""
    raw = np.loadtxt(path, delimiter=",", ndmin=2) if Path(path).stat().st_size else np.zeros((0, 9))
    if raw.shape[1] < 8:
        return np.zeros((0, 6))
    return raw[np.isin(raw[:, 7], DISTRACTOR_CLASSES)][:, :6]


def read_tracks_csv(path: Path | str) -> dict[str, np.ndarray]:
    """Per camera (n, 7) rows frame, track_id, x, y, w, h, global_id (-1 when unassigned)."""
    per_camera: dict[str, list] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [
            c
            for c in ("camera_id", "frame", "track_id", "x1", "y1", "x2", "y2")
            if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise ValueError(
                f"{path}: missing columns {missing}; expected header {','.join(TRACKS_CSV_COLUMNS)}"
            )
        for row in reader:
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            gid = row.get("global_id", "")
            gid = float(gid) if gid not in ("", None) else -1.0
            per_camera.setdefault(row["camera_id"], []).append(
                (float(row["frame"]), float(row["track_id"]), x1, y1, x2 - x1, y2 - y1, gid)
            )
    return {cam: np.array(rows, np.float64).reshape(-1, 7) for cam, rows in per_camera.items()}


def load_ground_truth(gt_dir: Path | str) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per camera GT rows and the number of frames of each camera's video (0 if unknown)."""
    gt_dir = Path(gt_dir)
    files = sorted((gt_dir / "gt").glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no ground truth files in {gt_dir / 'gt'}")
    gt = {f.stem: read_mot(f, drop_ignored=True) for f in files}
    frames = dict.fromkeys(gt, 0)
    meta = gt_dir / "scenario.json"
    if meta.is_file():
        n = int(json.loads(meta.read_text()).get("frames", 0))
        frames = dict.fromkeys(gt, n)
    return gt, frames


def load_distractors(gt_dir: Path | str) -> dict[str, np.ndarray]:
    """Per camera the GT rows of people present but not scored (see read_distractors)."""
    return {f.stem: read_distractors(f) for f in sorted((Path(gt_dir) / "gt").glob("*.txt"))}


def load_predictions(
    pred_dir: Path | str, cameras: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """(local rows per camera, global rows per camera, notes). Cameras without output get no rows."""
    pred_dir = Path(pred_dir)
    notes: list[str] = []
    tracks_csv = pred_dir / "tracks.csv"
    table = read_tracks_csv(tracks_csv) if tracks_csv.is_file() else None

    local: dict[str, np.ndarray] = {}
    if (pred_dir / "mot").is_dir():
        for cam in cameras:
            path = pred_dir / "mot" / f"{cam}.txt"
            local[cam] = read_mot(path) if path.is_file() else np.zeros((0, 6))
            if not path.is_file():
                notes.append(f"no {path}: camera {cam} scored as empty")
        source = "mot/"
    elif table is not None:
        local = {cam: table.get(cam, np.zeros((0, 7)))[:, :6] for cam in cameras}
        source = "tracks.csv track_id"
    else:
        raise FileNotFoundError(f"{pred_dir}: neither mot/<camera>.txt nor tracks.csv found")
    notes.append(f"per-camera tracks from {source}")

    global_rows: dict[str, np.ndarray] = {}
    if (pred_dir / "mtmc").is_dir():
        for cam in cameras:
            path = pred_dir / "mtmc" / f"{cam}.txt"
            global_rows[cam] = read_mot(path) if path.is_file() else np.zeros((0, 6))
        notes.append("global ids from mtmc/")
    elif table is not None:
        unassigned: dict[tuple[str, int], int] = {}
        for cam in cameras:
            rows = table.get(cam, np.zeros((0, 7)))
            out = rows[:, :6].copy()
            for i, (track_id, gid) in enumerate(zip(rows[:, 1], rows[:, 6], strict=True)):
                if gid >= 0:
                    out[i, 1] = gid
                else:
                    key = (cam, int(track_id))
                    out[i, 1] = unassigned.setdefault(key, UNASSIGNED_BASE + len(unassigned))
            global_rows[cam] = out
        notes.append(
            "global ids from tracks.csv global_id"
            + (f" ({len(unassigned)} tracks without one)" if unassigned else "")
        )
    else:
        notes.append("no global ids (no mtmc/ or tracks.csv): multi-camera scores skipped")
    extra = (
        sorted({p.stem for p in (pred_dir / "mot").glob("*.txt")} - set(cameras))
        if (pred_dir / "mot").is_dir()
        else []
    )
    if extra:
        notes.append(f"predictions for cameras without ground truth ignored: {extra}")
    return local, global_rows, notes
