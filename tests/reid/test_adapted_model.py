"""The person-adapted embedder (scripts/adapt_reid.py): provenance, checksum, size, and that it tells
people it never saw apart better than the ImageNet model it was built on."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pyuniproc.detect.models import sha256_of
from pyuniproc.reid import DEFAULT_MODEL_DIR, ModelError, create_embedder, kind_for_model_file
from pyuniproc.reid.identity_eval import embed_all, identity_scores
from pyuniproc.reid.scenario_crops import collect_scenario_crops
from pyuniproc.scenario import ScenarioSpec, generate
from pyuniproc.scenario.sprites import load_sprite_bank

BASE = "mobilenetv2_imagenet"
ADAPTED = "mobilenetv2_person_adapted"
# Held-out people only (split "test"), 4 cameras x 30 s: ~10 s to render on 2 cores.
HELD_OUT = ScenarioSpec(seed=301, cameras=4, people=20, seconds=30, overlaps=1, split="test")


@pytest.fixture(scope="module")
def provenance() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "MODELS.json").read_text())["models"]


@pytest.fixture(scope="module")
def adapted():
    return create_embedder(ADAPTED, model_dir=DEFAULT_MODEL_DIR)


def test_provenance_names_its_base_and_training_data(provenance):
    entry, base = provenance[ADAPTED], provenance[BASE]
    assert entry["base_model"] == {"kind": BASE, "file": base["file"], "sha256": base["sha256"]}
    assert entry["input"] == base["input"]  # same crop, same preprocessing: nvinfer settings unchanged
    assert entry["output"]["name"] == "embedding" and entry["output"]["shape"] == ["batch", 128]
    data = entry["training_data"]
    assert data["split"] == "train" and data["seeds"] and data["generator_version"] >= 2
    path = DEFAULT_MODEL_DIR / entry["file"]
    assert sha256_of(path) == entry["sha256"]
    assert path.stat().st_size == entry["size_bytes"] < 15_000_000


def test_trained_only_on_train_split_sprites(provenance):
    bank = load_sprite_bank()
    used = set(provenance[ADAPTED]["training_data"]["sprite_identities"])
    assert used and used <= set(bank.identities("train"))
    assert not used & set(bank.identities("test"))


def test_loads_checked_with_its_dimension(adapted, reference):
    assert adapted.dimension == 128
    assert kind_for_model_file("module/models/person_reid/mobilenetv2_person_adapted.onnx") == ADAPTED
    out = adapted.embed(reference["crops"])
    assert out.shape == (12, 128) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_altered_or_missing_adapted_model_is_refused_naming_its_script(tmp_path):
    for path in DEFAULT_MODEL_DIR.iterdir():
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / f"{ADAPTED}.onnx"
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0xFF  # one flipped byte in the projection
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=rf"{ADAPTED}\.onnx has sha256 .* altered or corrupt.*adapt_reid"):
        create_embedder(ADAPTED, model_dir=tmp_path)
    path.unlink()
    with pytest.raises(ModelError, match=rf"{ADAPTED}\.onnx is missing.*scripts/adapt_reid\.py"):
        create_embedder(ADAPTED, model_dir=tmp_path)


def test_is_the_base_graph_plus_a_projection(provenance, adapted, reference):
    """Every weight of the base network is in the adapted file unchanged, and the output is the stored
    projection of [base embedding, colour-stripe means]: one file, the base network, nothing retrained.
    Needs the `onnx` package (the gpu extra) to read the weights; skipped without it."""
    onnx = pytest.importorskip("onnx")
    numpy_helper = onnx.numpy_helper
    base_model = onnx.load(str(DEFAULT_MODEL_DIR / provenance[BASE]["file"]))
    model = onnx.load(str(adapted.model_path))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for tensor in base_model.graph.initializer:
        np.testing.assert_array_equal(weights[tensor.name], numpy_helper.to_array(tensor))
    projection, bias = weights["adapt.projection"], weights["adapt.bias"]
    assert projection.shape == (1280 + 24, 128) and bias.shape == (128,)

    base = create_embedder(BASE, model_dir=DEFAULT_MODEL_DIR)
    net_input = adapted.preprocess(reference["crops"])
    colour = net_input.reshape(len(net_input), 3, 8, -1).mean(axis=3).reshape(len(net_input), 24)
    expected = np.concatenate([base.embed(reference["crops"]), colour], axis=1) @ projection + bias
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(adapted.embed(reference["crops"]), expected, atol=2e-5)


@pytest.fixture(scope="module")
def held_out_crops(tmp_path_factory):
    out = tmp_path_factory.mktemp("reid_held_out")
    generate(HELD_OUT, out, show_progress=False, workers=1)  # no fork from a process running onnxruntime
    data = collect_scenario_crops(out, frame_step=3)
    assert set(data.split) == {"test"}
    return data


def test_tells_unseen_people_apart_better_than_the_base(held_out_crops, adapted, embedder):
    """GT crops of a test-split scenario (people the adaptation never saw), across cameras.

    Measured here (668 crops, 20 people, 352 queries with a match in another camera): base -> adapted
    crop rank-1 0.798 -> 0.855, mAP 0.540 -> 0.648; pair AUC 0.860 -> 0.955, EER 0.213 -> 0.116. A
    random 128-d projection of the same 1304-d input fails every bar below (three draws: rank-1
    0.71-0.72, mAP 0.43-0.44, AUC 0.81-0.82, EER 0.26-0.28), so they need the fitted projection."""
    data = held_out_crops
    scores = {name: identity_scores(embed_all(model, data.crops), data.person_ids, data.cameras, data.frames,
                                    data.quality, data.sprite)
              for name, model in (("base", embedder), ("adapted", adapted))}
    base, ours = scores["base"], scores["adapted"]
    assert ours["crop_retrieval"]["rank1"] >= max(base["crop_retrieval"]["rank1"] + 0.03, 0.82)
    assert ours["crop_retrieval"]["mAP"] >= max(base["crop_retrieval"]["mAP"] + 0.06, 0.60)
    assert ours["pairs"]["auc"] >= max(base["pairs"]["auc"] + 0.05, 0.93)
    assert ours["pairs"]["eer"] <= min(base["pairs"]["eer"] - 0.05, 0.14)
