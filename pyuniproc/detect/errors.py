"""Errors of the detection stage."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model file is missing, altered or unreadable.

    Raised at load time (never per frame) so that a deployment with a bad model directory fails at start,
    with a message naming the file and how to regenerate it.
    """
