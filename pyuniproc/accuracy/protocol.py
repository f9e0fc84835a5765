"""The accuracy protocol's fixed inputs: which scenarios are scored, which may be tuned on.

Why fixed lists: a number is only comparable to the last one if it was measured on the same
scenes, and a setting fitted on the scenes it is scored on says nothing about the next site. So

- TEST_SEEDS are scored and never tuned on. They are rendered with `--split test`: every person is a
  sprite first seen in the second half of vtest.avi, which no training (the adapted ReID model,
  `scripts/adapt_reid.py`, uses `--split train` only) and no tuning of this protocol ever used.
  No seed in this list was used by any earlier tuning script (benchmarks/fusion, benchmarks/quality,
  scripts/adapt_reid.py use 101-108 and 202; benchmarks/reid scores, never fits, on 201).
- TUNING_SEEDS are the scenes to choose settings on (`--split train`: people of the first half only).
- VALIDATION_SEEDS are more `--split train` scenes that no tuning fits on: a setting chosen on the
  tuning scenes is confirmed there before it is adopted (`pyuniproc accuracy --split train --seeds
  111,112,113,114,115`), so a choice that only suits five scenes shows before the test scenes are run.

Both use the committed default scenario's generator arguments (samples/scenario_default/README: 4
cameras, 30 people of whom 5 lookalikes, 60 s at 10 fps, 640x360, one overlapping pair, crf 23);
`--seconds` shortens them for quick looks (the CI test), and says so in the results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pyuniproc.scenario import ScenarioSpec, generate
from pyuniproc.scenario.generate import GENERATOR_VERSION

TEST_SEEDS: tuple[int, ...] = (301, 302, 303, 304, 305, 306)
"""Held-out scenes: scored by `pyuniproc accuracy`, never used to choose anything."""
TUNING_SEEDS: tuple[int, ...] = (101, 102, 103, 104, 105)
"""Scenes to tune on (`--split train`)."""
VALIDATION_SEEDS: tuple[int, ...] = (111, 112, 113, 114, 115)
"""Tuning-split scenes to confirm a tuned setting on (never fitted on, never reported as held out)."""
SPLIT_SEEDS = {"test": TEST_SEEDS, "train": TUNING_SEEDS}

DEFAULT_ARGUMENTS = {
    "cameras": 4,
    "people": 30,
    "seconds": 60.0,
    "fps": 10.0,
    "width": 640,
    "height": 360,
    "distractors": 5,
    "overlaps": 1,
    "crf": 23,
}
"""samples/scenario_default's generator arguments, seed and split aside."""


@dataclass(frozen=True)
class SceneChoice:
    """One scored scene: a seed of a split, at the protocol's arguments (seconds may be shortened)."""

    seed: int
    split: str
    seconds: float = DEFAULT_ARGUMENTS["seconds"]

    def __post_init__(self) -> None:
        if self.split not in SPLIT_SEEDS:
            raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}, got {self.split!r}")
        if self.split == "test" and self.seed in TUNING_SEEDS:
            raise ValueError(f"seed {self.seed} is a tuning seed; a test scene must use another seed")
        if self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds!r}")

    @property
    def spec(self) -> ScenarioSpec:
        arguments = {**DEFAULT_ARGUMENTS, "seconds": float(self.seconds)}
        return ScenarioSpec(seed=self.seed, split=self.split, **arguments)

    @property
    def name(self) -> str:
        seconds = int(self.seconds) if float(self.seconds).is_integer() else self.seconds
        return f"{self.split}-s{self.seed}-{seconds}s"


def scenes(split: str, seeds: list[int] | None = None, seconds: float | None = None) -> list[SceneChoice]:
    """The protocol's scenes of `split` (or the given seeds), at `seconds` if given."""
    chosen = list(seeds) if seeds else list(SPLIT_SEEDS[split])
    length = DEFAULT_ARGUMENTS["seconds"] if seconds is None else seconds
    return [SceneChoice(seed, split, length) for seed in chosen]


def ensure_scenario(scene: SceneChoice, work: Path, *, log=None, workers: int | None = None) -> Path:
    """work/scenarios/<scene.name>: generated now unless a folder made from the same spec by the
    same generator version is there (scenarios are kept outside git and reused across runs)."""
    folder = Path(work) / "scenarios" / scene.name
    spec = scene.spec
    if _is_current(folder, spec):
        return folder
    if log:
        log(f"accuracy: generating {folder}: {spec.command(folder)}")
    generate(spec, folder, workers=workers, show_progress=False)
    return folder


def _is_current(folder: Path, spec: ScenarioSpec) -> bool:
    meta = folder / "scenario.json"
    if not meta.is_file() or not (folder / "gt").is_dir() or not (folder / "cameras.yml").is_file():
        return False
    try:
        doc = json.loads(meta.read_text())
    except ValueError:
        return False
    wanted = {**asdict(spec), "distractors": spec.n_distractors}
    return doc.get("generator_version") == GENERATOR_VERSION and doc.get("spec") == wanted
