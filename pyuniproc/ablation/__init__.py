"""Fusion ablation: record the pipeline's tracks and embeddings once, replay them through `Fusion` with
each constraint setting, score each with the benchmark's evaluation.

    stream   `TrackStream` (what fusion sees, frame by frame) and `StreamRecorder` (the observer)
    capture  `capture_pipeline` (the real pipeline, fusion off) and `capture_oracle` (GT boxes)
    replay   `replay(stream, site, config) -> Replay`: the runtime's fusion calls, in order
    score    `Scorer`: per-camera and multi-camera scores, wrong merges and splits per local track
    command  `pyuniproc ablation` (`register(subparsers)`), `run_ablation`, the printed table
"""

from pyuniproc.ablation.replay import Replay, replay
from pyuniproc.ablation.stream import StreamRecorder, TrackStream

__all__ = ["Replay", "StreamRecorder", "TrackStream", "replay"]
