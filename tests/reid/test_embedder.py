"""The embedder on real vtest crops: matches torch, unit rows, batch-consistent, separates people."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyuniproc.reid import (
    DEFAULT_MODEL_DIR,
    EMBEDDERS,
    KIND_BY_MODEL_FILE,
    Embedder,
    create_embedder,
    kind_for_model_file,
)


@pytest.fixture(scope="module", params=sorted(EMBEDDERS))
def any_embedder(request):
    """Every registered embedder, for the contract tests."""
    return create_embedder(request.param, model_dir=DEFAULT_MODEL_DIR)


# ---------------------------------------------------------------- contract, every registered embedder
def test_is_an_embedder(any_embedder):
    assert isinstance(any_embedder, Embedder)
    assert any_embedder.dimension > 0


def test_empty_input_gives_empty_matrix(any_embedder):
    out = any_embedder.embed([])
    assert out.shape == (0, any_embedder.dimension) and out.dtype == np.float32


def test_rows_are_unit_float32_for_any_crop_size(any_embedder, reference):
    crops = [*reference["crops"][:3], np.zeros((5, 3, 3), np.uint8), np.full((300, 900, 3), 200, np.uint8)]
    out = any_embedder.embed(crops)
    assert out.shape == (5, any_embedder.dimension) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batch_of_four_equals_four_singles(any_embedder, reference):
    crops = reference["crops"][:4]
    batch = any_embedder.embed(crops)
    singles = np.concatenate([any_embedder.embed([crop]) for crop in crops])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10), np.uint8), r"crops\[0\] must be \(H, W, 3\)"),
    (np.zeros((10, 10, 3), np.float32), r"crops\[0\] must be uint8"),
    (np.zeros((0, 10, 3), np.uint8), r"crops\[0\] is empty"),
])
def test_bad_crops_are_rejected_by_index(any_embedder, bad, message):
    with pytest.raises(ValueError, match=message):
        any_embedder.embed([bad])


# ---------------------------------------------------------------- the shipped model
def test_onnx_matches_the_torch_reference(embedder, reference):
    """torch (the package's own network, unfolded, source normalisation) vs our folded ONNX + preprocess.

    The reference was fed OpenCV's INTER_LINEAR resize, ours INTER_LINEAR_EXACT (the same rule rounded
    in bit-exact fixed point, so that embeddings do not depend on the OpenCV build or CPU): some pixels
    differ by one level, which moved the embeddings by at most 0.0030 (cosine >= 0.99980), as much as
    shifting the whole input by half a level does (0.0035). The slips this test is here for are 30x
    larger: BGR order 0.100 (cosine 0.80), the mean not subtracted 0.119, INTER_AREA 0.166."""
    out = embedder.embed(reference["crops"])
    np.testing.assert_allclose(out, reference["torch_embedding"], atol=0.01)
    assert (out * reference["torch_embedding"]).sum(axis=1).min() >= 0.999


def test_same_person_crops_are_closer_than_different_people(embedder, reference):
    """Generic ImageNet features separate people only weakly: measured margin 0.045 of mean cosine, and
    10 of 12 crops closer on average to their own track's other crops. Inputs off by a scale (e.g. /255
    twice) or upside-down crops fall below the bar (0.004 and 0.030); subtler preprocessing slips (BGR
    order, missing mean) barely move it and are caught by the torch reference test above instead."""
    out = embedder.embed(reference["crops"])
    tracks = reference["track_ids"]
    similarity = out @ out.T
    same = (tracks[:, None] == tracks[None, :]) & ~np.eye(len(tracks), dtype=bool)
    different = tracks[:, None] != tracks[None, :]
    assert similarity[same].mean() - similarity[different].mean() >= 0.03
    own = np.array([similarity[i, same[i]].mean() for i in range(len(tracks))])
    other = np.array([similarity[i, different[i]].mean() for i in range(len(tracks))])
    assert (own > other).sum() >= 9
    assert np.all(np.abs(np.diff(reference["frames"].reshape(4, 3), axis=1)) >= 50)  # far apart in time


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown embedder kind 'osnet'.*mobilenetv2_imagenet"):
        create_embedder("osnet", model_dir=DEFAULT_MODEL_DIR)


def test_model_file_of_another_model_is_refused():
    with pytest.raises(ValueError, match=r"model_file 'ssdlite_pedestrian.onnx' is not the mobilenetv2"):
        create_embedder("mobilenetv2_imagenet", model_dir=DEFAULT_MODEL_DIR,
                        model_file="ssdlite_pedestrian.onnx")


def test_model_file_of_the_yaml_maps_to_its_kind():
    provenance = json.loads((DEFAULT_MODEL_DIR / "MODELS.json").read_text())["models"]
    assert KIND_BY_MODEL_FILE == {entry["file"]: kind for kind, entry in provenance.items()}
    assert set(KIND_BY_MODEL_FILE.values()) <= set(EMBEDDERS)
    assert kind_for_model_file("/models/person_reid/mobilenetv2_imagenet.onnx") == "mobilenetv2_imagenet"
    with pytest.raises(ValueError, match=r"no embedder runs model file 'x.onnx'"):
        kind_for_model_file("x.onnx")
    embedder = create_embedder("mobilenetv2_imagenet", model_dir=DEFAULT_MODEL_DIR,
                               model_file="mobilenetv2_imagenet.onnx")
    assert embedder.input_name == "crop"


def test_intra_op_threads_must_be_positive():
    with pytest.raises(ValueError, match=r"intra_op_threads must be >= 1 or None, got 0"):
        create_embedder("mobilenetv2_imagenet", model_dir=DEFAULT_MODEL_DIR, intra_op_threads=0)
