"""Synthetic multi-camera benchmark: real pedestrians (sprites cut out of vtest.avi) composited
over real backgrounds, with exact ground truth. See generate.py for the output layout."""

from .generate import ScenarioSpec, generate

__all__ = ["ScenarioSpec", "generate"]
