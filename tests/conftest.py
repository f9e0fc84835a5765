"""Fixtures every test folder can ask for."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pyav() -> object:
    """PyAV, or a skip where it cannot decode: the GPU machine has no PyAV, only a stand-in that imports
    and fails on first use (so `pytest.importorskip("av")` passes there)."""
    av = pytest.importorskip("av")
    try:
        av.open  # noqa: B018 - the stand-in raises on any attribute
    except RuntimeError as exc:
        pytest.skip(f"PyAV cannot decode here: {exc}")
    return av
