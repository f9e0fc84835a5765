"""Fixtures of the deployment tests."""

from __future__ import annotations

import av
import numpy as np
import pytest
from deploykit import VTEST


@pytest.fixture(scope="session")
def vtest_frame() -> np.ndarray:
    """Frame 400 of vtest.avi, (576, 768, 3) uint8 RGB: three pedestrians."""
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 400:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError("vtest.avi has fewer than 401 frames")
