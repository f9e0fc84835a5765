"""The committed embedder and its torch reference (12 real vtest crops of 4 tracks), loaded once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyuniproc.reid import DEFAULT_MODEL_DIR, create_embedder

DATA = Path(__file__).resolve().parents[1] / "data" / "reid"


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    """crops (list of (h, w, 3) uint8 RGB), track_ids (12,), frames (12,), torch_embedding (12, 1280)."""
    with np.load(DATA / "mobilenetv2_reference.npz") as data:
        values = dict(data)
    count = len(values["track_ids"])
    values["crops"] = [values.pop(f"crop_{k:02d}") for k in range(count)]
    return values


@pytest.fixture(scope="session")
def embedder():
    return create_embedder("mobilenetv2_imagenet", model_dir=DEFAULT_MODEL_DIR)
