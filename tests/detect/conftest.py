"""Real footage and real models for the detector tests, loaded once per session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
DATA = REPO / "tests" / "data" / "detect"
REFERENCE_FRAMES = (100, 400, 700)


@pytest.fixture(scope="session")
def vtest_frames() -> dict[int, np.ndarray]:
    """Frames 100, 400, 700 of vtest.avi as (576, 768, 3) uint8 RGB, decoded as the references were."""
    frames = {}
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in REFERENCE_FRAMES:
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= max(REFERENCE_FRAMES):
                break
    recorded = np.load(DATA / "ssdlite_reference.npz")["frame_sha256"]
    decoded = [hashlib.sha256(frames[i].tobytes()).hexdigest() for i in REFERENCE_FRAMES]
    assert decoded == list(recorded), "vtest.avi decodes to other pixels than when references were recorded"
    return frames


@pytest.fixture(scope="session")
def ssdlite_reference() -> dict[str, np.ndarray]:
    return dict(np.load(DATA / "ssdlite_reference.npz"))


@pytest.fixture(scope="session")
def nanodet_reference() -> dict[str, np.ndarray]:
    return dict(np.load(DATA / "nanodet_reference.npz"))


@pytest.fixture(scope="session")
def ssdlite():
    return create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.5)


@pytest.fixture(scope="session")
def nanodet():
    return create_detector("nanodet_coco", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.5)
