"""MODELS.json bookkeeping shared by the ReID model scripts, kept free of onnx and torch.

Why a module of its own: the converter needs onnx and torch (a throwaway venv), but the rule it applies
when rewriting MODELS.json (keep the entries other scripts made) is tested in CI, which has neither.
"""

from __future__ import annotations

import json
from pathlib import Path


def models_made_elsewhere(provenance_path: Path, made_here: str) -> dict:
    """The entries of MODELS.json other than `made_here` (e.g. scripts/adapt_reid.py's), kept as they are."""
    if not provenance_path.exists():
        return {}
    models = json.loads(provenance_path.read_text()).get("models", {})
    return {kind: entry for kind, entry in models.items() if kind != made_here}
