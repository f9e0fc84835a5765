"""Ground-truth person crops of a generated scenario (`pyuniproc scenario`), labelled by identity.

The scenario generator knows who everyone is, so its ground truth labels appearance data exactly:
each GT box is one person (`gt/<camera>.txt` id = `identities.json` person id), and identities.json
says which vtest sprite the person was cut from, whether that sprite is in the "train" or "test"
half of vtest, and whether this copy was recoloured (a lookalike: same walk, other clothes).

Crops are cut the way the runtime cuts them: `crop_boxes` (pad 0) on the decoded RGB frame, and only
boxes that `QualityGate` would let the runtime embed (judged against every GT box of the frame, with
confidence 1), so training and evaluation see the crops fusion sees, up to detector box jitter.

    data = collect_scenario_crops(Path("samples/scenario_default"), frame_step=2)
    data.select(data.split == "test")      # only people whose sprite is in vtest's second half

`identity_key` names an appearance across scenarios: an un-recoloured person is their sprite
("sprite:23", the same look in every scenario), a recoloured one is unique to its scenario and id
("seed7:person31"), since its colours are drawn per scenario.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.reid.crops import crop_boxes
from pyuniproc.reid.quality import QualityGate


@dataclass
class ScenarioCrops:
    """Parallel columns, row i = crops[i]. All arrays have n rows.

    crops: (h, w, 3) uint8 RGB copies. person_ids: (n,) int64, the scenario's global person id.
    cameras: (n,) str. frames: (n,) int64, 1-based as in gt/*.txt. quality: (n,) float32, the gate's
    weight. sprite: (n,) int64 sprite identity. split: (n,) str "train"/"test". recoloured: (n,) bool.
    identity_key: (n,) str, see the module docstring. visibility: (n,) float32 from the GT row.
    """

    crops: list[np.ndarray]
    person_ids: np.ndarray
    cameras: np.ndarray
    frames: np.ndarray
    quality: np.ndarray
    sprite: np.ndarray
    split: np.ndarray
    recoloured: np.ndarray
    identity_key: np.ndarray
    visibility: np.ndarray
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return len(self.crops)

    def select(self, mask: np.ndarray) -> ScenarioCrops:
        rows = np.flatnonzero(np.asarray(mask))
        return ScenarioCrops([self.crops[i] for i in rows], *(getattr(self, name)[rows] for name in (
            "person_ids", "cameras", "frames", "quality", "sprite", "split", "recoloured", "identity_key",
            "visibility", "boxes")))

    @staticmethod
    def concatenate(parts: list[ScenarioCrops]) -> ScenarioCrops:
        names = ("person_ids", "cameras", "frames", "quality", "sprite", "split", "recoloured",
                 "identity_key", "visibility", "boxes")
        return ScenarioCrops([c for p in parts for c in p.crops],
                             *(np.concatenate([getattr(p, name) for p in parts]) for name in names))


def read_gt(path: Path) -> np.ndarray:
    """gt/<camera>.txt -> (n, 9) float64: frame, id, x, y, w, h, consider (0/1), class, visibility."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows.reshape(-1, 9)


BOX_SOURCES = ("gt", "detector")


def collect_scenario_crops(scenario: Path, *, frame_step: int = 2, gate: QualityGate | None = None,
                           min_visibility: float = 0.0, cameras: list[str] | None = None,
                           max_per_track: int | None = None, boxes: str = "gt",
                           detector: Any = None, min_iou: float = 0.5, jitter: float = 0.0,
                           seed: int = 0) -> ScenarioCrops:
    """Good crops of every `frame_step`-th frame of every camera (or of `cameras`) of `scenario`.

    boxes: "gt" crops the ground-truth boxes; "detector" crops what the runtime would crop: the
        boxes of `detector` (default: SSDLite, confidence 0.5 as the gate's), each labelled with the
        GT person it overlaps by IoU >= min_iou (one to one, best IoU first), unmatched ones dropped.
    min_visibility: also drop crops whose GT row's visible fraction (column 9) is below this; the gate
        already refuses boxes overlapped by another box by more than its max_overlap.
    max_per_track: keep at most this many crops per (person, camera), evenly spread in time (None:
        all), so long visits do not dominate.
    jitter: with GT boxes, move each kept box's centre by a normal draw of this fraction of its width
        and height and scale its width and height by exp(normal(0, jitter)), drawn from `seed`: a
        detector's boxes are never exact, and a model adapted on exact boxes only would learn to rely
        on where the box edges sit.
    Deterministic: same folder and arguments, same crops in the same order.
    """
    import av

    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step!r}")
    if boxes not in BOX_SOURCES:
        raise ValueError(f"boxes must be one of {BOX_SOURCES}, got {boxes!r}")
    if jitter < 0 or (jitter > 0 and boxes != "gt"):
        raise ValueError(f"jitter must be >= 0 and applies to GT boxes only, got {jitter!r} with {boxes!r}")
    rng = np.random.default_rng(seed)
    if boxes == "detector" and detector is None:
        from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector

        detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR,
                                   confidence_threshold=0.5)
    scenario = Path(scenario)
    gate = gate or QualityGate()
    doc = json.loads((scenario / "identities.json").read_text())
    scenario_seed = json.loads((scenario / "scenario.json").read_text())["spec"]["seed"]
    people = {int(p["id"]): p for p in doc["people"]}
    camera_ids = cameras or sorted(path.stem for path in (scenario / "gt").glob("*.txt"))
    parts = []
    for camera in camera_ids:
        gt = read_gt(scenario / "gt" / f"{camera}.txt")
        by_frame = {int(f): gt[gt[:, 0] == f] for f in np.unique(gt[:, 0]) if int(f) % frame_step == 0}
        columns: dict[str, list] = {k: [] for k in ("crops", "ids", "frames", "quality", "vis", "boxes")}
        with av.open(str(scenario / "video" / f"{camera}.mp4")) as container:
            for index, frame in enumerate(container.decode(video=0)):
                rows = by_frame.get(index + 1)
                if rows is None:
                    continue
                image = frame.to_ndarray(format="rgb24")
                xyxy = np.column_stack([rows[:, 2], rows[:, 3],
                                        rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
                if boxes == "gt":
                    good, score = gate.assess(xyxy, np.ones(len(rows), np.float32), image.shape[:2])
                else:
                    found = detector.detect([image])[0]
                    det_good, det_score = gate.assess(found.xyxy, found.confidence, image.shape[:2])
                    gt_row, det_row = _match(xyxy, found.xyxy, min_iou)
                    good = np.zeros(len(rows), bool)
                    score = np.zeros(len(rows), np.float32)
                    good[gt_row], score[gt_row] = det_good[det_row], det_score[det_row]
                    xyxy = xyxy.copy()
                    xyxy[gt_row] = found.xyxy[det_row]
                keep = np.flatnonzero(good & (rows[:, 6] == 1) & (rows[:, 8] >= min_visibility))
                if jitter > 0:
                    xyxy = _jittered(xyxy, keep, jitter, rng)
                columns["crops"] += [crop.copy() for crop in crop_boxes(image, xyxy[keep])]
                columns["ids"] += rows[keep, 1].astype(np.int64).tolist()
                columns["frames"] += [index + 1] * len(keep)
                columns["quality"] += score[keep].tolist()
                columns["vis"] += rows[keep, 8].tolist()
                columns["boxes"] += xyxy[keep].tolist()
        ids = np.asarray(columns["ids"], np.int64)
        keep_rows = np.arange(len(ids))
        if max_per_track is not None:
            keep_rows = np.concatenate([_spread(np.flatnonzero(ids == pid), max_per_track)
                                        for pid in np.unique(ids)] or [np.zeros(0, np.int64)])
            keep_rows.sort()
        persons = [people[int(pid)] for pid in ids[keep_rows]]
        parts.append(ScenarioCrops(
            [columns["crops"][i] for i in keep_rows], ids[keep_rows],
            np.array([camera] * len(keep_rows), dtype=object),
            np.asarray(columns["frames"], np.int64)[keep_rows],
            np.asarray(columns["quality"], np.float32)[keep_rows],
            np.array([p["sprite_identity"] for p in persons], np.int64),
            np.array([p["split"] for p in persons], dtype=object),
            np.array([bool(p["recoloured"]) for p in persons], bool),
            np.array([identity_key(scenario_seed, p) for p in persons], dtype=object),
            np.asarray(columns["vis"], np.float32)[keep_rows],
            np.asarray(columns["boxes"], np.float32).reshape(-1, 4)[keep_rows]))
    return ScenarioCrops.concatenate(parts)


def identity_key(seed: int, person: dict) -> str:
    """Who this person looks like across scenarios: their sprite, unless recoloured (then unique)."""
    if person["recoloured"]:
        return f"seed{seed}:person{person['id']}"
    return f"sprite:{person['sprite_identity']}"


def _jittered(xyxy: np.ndarray, rows: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of xyxy with `rows` moved and rescaled (see collect_scenario_crops)."""
    out = np.asarray(xyxy, np.float64).copy()
    size = out[rows, 2:] - out[rows, :2]
    centre = (out[rows, :2] + out[rows, 2:]) / 2 + rng.normal(0.0, jitter, (len(rows), 2)) * size
    size = size * np.exp(rng.normal(0.0, jitter, (len(rows), 2)))
    out[rows] = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return out


def _match(gt_xyxy: np.ndarray, det_xyxy: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one GT/detection pairs with IoU >= min_iou, greedily by best IoU: (gt rows, det rows)."""
    from pyuniproc.detect.nms import box_iou

    if len(gt_xyxy) == 0 or len(det_xyxy) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    iou = box_iou(np.asarray(gt_xyxy, np.float32), np.asarray(det_xyxy, np.float32))
    pairs: list[tuple[int, int]] = []
    while True:
        g, d = np.unravel_index(int(np.argmax(iou)), iou.shape)
        if iou[g, d] < min_iou:
            break
        pairs.append((int(g), int(d)))
        iou[g, :] = -1.0
        iou[:, d] = -1.0
    pairs.sort()
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


def _spread(rows: np.ndarray, count: int) -> np.ndarray:
    """At most `count` of `rows`, evenly spaced (first and last included)."""
    if len(rows) <= count:
        return rows
    return rows[np.unique(np.linspace(0, len(rows) - 1, count).round().astype(np.int64))]
