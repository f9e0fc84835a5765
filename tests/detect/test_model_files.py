"""Model files are checked at load: missing, altered or corrupt files fail at start with ModelError."""

import json
import shutil

import pytest

from pyuniproc.detect import DEFAULT_MODEL_DIR, ModelError, create_detector
from pyuniproc.detect.models import sha256_of


@pytest.fixture
def model_copy(tmp_path):
    """A private copy of the model directory that a test may damage."""
    for path in DEFAULT_MODEL_DIR.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_model_error_is_a_runtime_error():
    assert issubclass(ModelError, RuntimeError)


def test_provenance_records_sources_and_matches_the_committed_files():
    provenance = json.loads((DEFAULT_MODEL_DIR / "MODELS.json").read_text())
    for kind, entry in provenance["models"].items():
        assert entry["source"]["licence"] == "MIT", kind
        assert entry["source"]["version"] and len(entry["source"]["sha256"]) == 64
        assert sha256_of(DEFAULT_MODEL_DIR / entry["file"]) == entry["sha256"], kind
        assert entry["input"]["layout"] == "NCHW" and entry["input"]["shape"][0] == "batch"


def test_missing_model_file_says_where_and_how_to_regenerate(model_copy):
    (model_copy / "ssdlite_pedestrian.onnx").unlink()
    with pytest.raises(ModelError, match=r"ssdlite_pedestrian\.onnx is missing.*scripts/convert_models\.py"):
        create_detector("ssdlite_pedestrian", model_dir=model_copy)


def test_missing_provenance_file(model_copy):
    (model_copy / "MODELS.json").unlink()
    with pytest.raises(ModelError, match=r"MODELS\.json is missing"):
        create_detector("nanodet_coco", model_dir=model_copy)


def test_altered_model_fails_its_checksum(model_copy):
    path = model_copy / "nanodet_coco.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"nanodet_coco\.onnx has sha256 .* altered or corrupt"):
        create_detector("nanodet_coco", model_dir=model_copy)


def test_altered_anchors_fail_their_checksum(model_copy):
    (model_copy / "ssdlite_pedestrian_anchors.npy").write_bytes(b"not anchors")
    with pytest.raises(ModelError, match=r"ssdlite_pedestrian_anchors\.npy has sha256"):
        create_detector("ssdlite_pedestrian", model_dir=model_copy)


def test_corrupt_onnx_with_matching_checksum_is_still_refused(model_copy):
    path = model_copy / "ssdlite_pedestrian.onnx"
    path.write_bytes(path.read_bytes()[:4096])  # truncated, e.g. an interrupted copy
    provenance_path = model_copy / "MODELS.json"
    provenance = json.loads(provenance_path.read_text())
    provenance["models"]["ssdlite_pedestrian"]["sha256"] = sha256_of(path)  # someone "fixed" the checksum
    provenance_path.write_text(json.dumps(provenance))
    with pytest.raises(ModelError, match=r"onnxruntime cannot load model file .*ssdlite_pedestrian\.onnx"):
        create_detector("ssdlite_pedestrian", model_dir=model_copy)
