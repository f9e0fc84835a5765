"""Scoring tracks against ground truth with TrackEval's metrics: per camera HOTA/MOTA/IDF1 and the
multi-camera IDF1 over all cameras pooled. See mot_io.py for the files read."""

from .metrics import Sequence, evaluate, score_sequences

__all__ = ["Sequence", "evaluate", "score_sequences"]
