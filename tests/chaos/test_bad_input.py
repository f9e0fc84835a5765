"""Bad input, each met with a clear error and nothing lost:

    video files cut short or damaged in the middle, next to a good camera
    garbage, wrong-version and malformed ZeroMQ messages on a reader's socket, between two good ones
    NaN, infinite, all-zero and wrong-width embeddings fed to cross-camera fusion
    a detector or ReID model file missing or cut short

(Also: model files in detail: tests/detect/test_model_files.py; broken YAML edits while running:
tests/runtime/test_live_config.py and tests/config/test_live_reload.py; malformed config files:
tests/fuzz/test_config_fuzz.py; duplicate camera ids: tests/config/test_cameras.py.)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from hashlib import sha256
from pathlib import Path

import numpy as np
import pytest
from chaoskit import free_port

from pyuniproc.config.cameras import CameraSpec, Link, Site, Topology
from pyuniproc.config.module import load_module_config
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.types import Detections

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "module" / "module.yml"
VTEST = REPO / "samples" / "vtest" / "vtest.avi"


# -- files --------------------------------------------------------------------------------------


def test_cut_and_damaged_files_keep_their_good_frames_and_end_with_a_clear_error(tmp_path, monkeypatch):
    data = VTEST.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 25])  # a copy interrupted 4 % of the way (about 30 frames)
    damaged = bytearray(data)
    rng = np.random.default_rng(7)
    start = len(data) // 50  # about 10 frames of noise, from the 16th frame on
    damaged[start : start + 100_000] = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    (tmp_path / "damaged.avi").write_bytes(bytes(damaged))
    monkeypatch.setenv("TELEMETRY_PORT", str(free_port()))
    module = load_module_config(MODULE)
    cameras = (
        CameraSpec("good", str(VTEST)),
        CameraSpec("cut", str(cut)),
        CameraSpec("damaged", str(tmp_path / "damaged.avi")),
    )
    out = tmp_path / "out"
    summary = Pipeline(
        module,
        Site("bad", cameras),
        RunOptions(out_dir=out, progress=False, watch_module=False, max_frames=50),
    ).run()
    assert summary["status"] == "finished"
    good, cut_camera, damaged_camera = (summary["cameras"][c] for c in ("good", "cut", "damaged"))
    assert good["frames_processed"] == 50 and good["state"] == "finished"
    # The cut file: every frame it holds is processed, then it ends.
    assert 10 <= cut_camera["frames_processed"] < 50
    assert cut_camera["state"] in ("finished", "dead")
    if cut_camera["state"] == "dead":
        assert "cut.avi" in cut_camera["last_error"]
    # The damaged file: frames before and after the damage still come through.
    assert damaged_camera["frames_processed"] >= 30 and damaged_camera["state"] in ("finished", "dead")
    for camera in summary["cameras"].values():  # every received frame went through
        assert camera["frames_received"] == camera["frames_processed"] + sum(camera["dropped"].values())
    rows = (out / "tracks.csv").read_text().splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == {"good", "cut", "damaged"}


# -- model files ----------------------------------------------------------------------------------

MODEL_DIRS = {"detector": "person_detector", "reid": "person_reid"}


def models_with(root: Path, broken: str, how: str) -> Path:
    """A MODEL_PATH holding the repo's models, with the ONNX files of `broken` missing or cut short."""
    for name in MODEL_DIRS.values():
        (root / name).mkdir(parents=True)
        for item in (REPO / "module" / "models" / name).iterdir():
            if name != MODEL_DIRS[broken] or item.suffix != ".onnx":
                (root / name / item.name).symlink_to(item)
            elif how == "cut short":  # a copy or checkout interrupted after 1000 bytes
                (root / name / item.name).write_bytes(item.read_bytes()[:1000])
    return root


def run_with_models(tmp_path, monkeypatch, capsys, broken: str, how: str) -> tuple[int, str, dict]:
    from pyuniproc.cli import main

    root = models_with(tmp_path / "models", broken, how)
    monkeypatch.setenv("MODEL_PATH", str(root))
    monkeypatch.setenv("TELEMETRY_PORT", str(free_port()))
    code = main(
        [
            "run",
            "--module",
            str(MODULE),
            "--source",
            f"cam1={VTEST}",
            "--out",
            str(tmp_path / "out"),
            "--max-frames",
            "2",
            "--no-progress",
        ]
    )
    folder = root / MODEL_DIRS[broken]
    entries = json.loads((folder / "MODELS.json").read_text())["models"].values()
    files = [part for entry in entries for part in (entry, entry.get("int8")) if isinstance(part, dict)]
    return code, capsys.readouterr().err, {folder / f["file"]: f["sha256"] for f in files}  # every ONNX file


@pytest.mark.parametrize("how", ["missing", "cut short"])
@pytest.mark.parametrize("broken", list(MODEL_DIRS))
def test_a_broken_model_file_stops_the_run_with_an_error_naming_it(
    tmp_path, monkeypatch, capsys, broken, how
):
    code, error, expected = run_with_models(tmp_path, monkeypatch, capsys, broken, how)
    assert code == 2, error
    named = [path for path in expected if str(path) in error]
    assert len(named) == 1, (error, list(expected))
    if how == "missing":
        assert f"{named[0]} is missing" in error
    else:  # the file's sha256 and the one MODELS.json records
        assert f"has sha256 {sha256(named[0].read_bytes()).hexdigest()}" in error
        assert f"records {expected[named[0]]}" in error and "altered or corrupt" in error
    # how to get the file back: the converter for downloaded-then-converted weights, the fitting
    # script for the person-adapted embedder (the module's default ReID model)
    assert "convert" in error or "regenerate with `python scripts/adapt_reid.py`" in error


@pytest.mark.parametrize("broken", list(MODEL_DIRS))
def test_a_missing_model_files_error_gives_the_expected_sha256(tmp_path, monkeypatch, capsys, broken):
    code, error, expected = run_with_models(tmp_path, monkeypatch, capsys, broken, "missing")
    assert code == 2 and any(str(path) in error and sha in error for path, sha in expected.items()), error


# -- ZeroMQ -------------------------------------------------------------------------------------


def wrong_version(message: bytes) -> bytes:
    """A valid message stamped with another savant-rs protocol version (same length)."""
    version_at = message.index(b"\n") + 2  # field 1 (protocol version), its length, then the text
    length = message[version_at - 1]
    return message[:version_at] + b"9" * length + message[version_at + length :]


# name: (ZeroMQ parts made from a good message's bytes, TransportError.reason, words of the error)
BAD_MESSAGES = {
    "garbage": (lambda good: [b"cam1", b"definitely not a savant message"], "undecodable", "protobuf"),
    "zero bytes": (lambda good: [b"cam1", bytes(64)], "undecodable", "protobuf"),
    "empty body": (lambda good: [b"cam1", b""], "undecodable", "panicked"),  # a Rust panic in savant-rs
    "cut short": (lambda good: [b"cam1", good[: len(good) // 2]], "undecodable", "buffer underflow"),
    # A sender on another savant-rs: its topic (camera) is checked on its first message.
    "wrong version": (lambda good: [b"cam2", wrong_version(good)], "protocol_version", "protocol 99999"),
    "topic only": (lambda good: [b"cam1"], "incomplete", "topic 'cam1'"),
    "malformed frame": (lambda good: [b"cam1", mixed_embeddings()], "malformed_frame", "topic 'cam1'"),
}


def mixed_embeddings() -> bytes:
    """A well-formed savant-rs message whose two people carry embeddings of different lengths."""
    from savant_rs.primitives import Attribute, AttributeValue, VideoFrame, VideoFrameContent
    from savant_rs.primitives.geometry import RBBox
    from savant_rs.utils.serialization import save_message_to_bytes

    frame = VideoFrame(
        source_id="cam1",
        framerate="10/1",
        width=640,
        height=480,
        content=VideoFrameContent.none(),
        time_base=(1, 1_000_000_000),
        pts=0,
    )
    for dim in (4, 8):
        values = [AttributeValue.floats([0.5] * dim, None)]
        vector = Attribute(namespace="person_reid", name="embedding", values=values)
        frame.create_object(
            "person_detector",
            "person",
            confidence=0.9,
            detection_box=RBBox(50, 50, 20, 40),
            track_id=dim,
            track_box=None,
            attributes=[vector],
        )
    return bytes(save_message_to_bytes(frame.to_message()))


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
def test_bad_zeromq_message_is_a_clear_error_and_nothing_around_it_is_lost(tmp_path, case):
    zmq = pytest.importorskip("zmq")
    from pyuniproc.transport import FrameMessage, FrameReader, TransportError, frame_to_bytes

    make, reason, words = BAD_MESSAGES[case]
    before, after = (frame_to_bytes(FrameMessage("cam1", pts=pts, width=640, height=480)) for pts in (1, 2))
    endpoint = f"ipc://{tmp_path}/in.ipc"
    context = zmq.Context()
    sender = context.socket(zmq.PUB)
    sender.bind(endpoint)
    reader = FrameReader(f"sub+connect:{endpoint}", receive_timeout_ms=100)
    try:
        time.sleep(0.3)  # the subscription reaches the publisher
        sender.send_multipart([b"cam1", before])
        sender.send_multipart(make(before))
        sender.send_multipart([b"cam1", after])
        errors, frames = [], []
        deadline = time.monotonic() + 5
        while len(frames) < 2 and time.monotonic() < deadline:
            try:
                message = reader.receive()
            except Exception as error:  # noqa: BLE001 (what is raised is the point of the test)
                errors.append(error)
                continue
            if message is not None:
                frames.append(message)
        assert [f.pts for f in frames] == [1, 2], (errors, frames)  # nothing lost before or after it
        assert len(errors) == 1, errors
        error = errors[0]
        assert isinstance(error, TransportError) and error.reason == reason, repr(error)
        assert endpoint in str(error) and words in str(error), str(error)
        assert "\n" not in str(error)  # one log line, without savant-rs' Rust backtrace
        stats = reader.stats()
        assert (stats["frames"], stats["rejected"], stats["rejected_by_reason"]) == (2, 1, {reason: 1})
        assert stats["last_error"] == str(error)
    finally:
        reader.close()
        sender.close(linger=0)
        context.term()


# -- embeddings ---------------------------------------------------------------------------------


# name: (one bad embedding, 8 wide; the intake counter it is counted in, None: not counted)
BAD_ROWS = {
    "all NaN": (np.full(8, np.nan), None),  # the "no fresh embedding" marker: not an error
    "one NaN": (np.r_[np.nan, np.ones(7)], "embeddings_rejected_not_finite"),
    "+inf": (np.full(8, np.inf), "embeddings_rejected_not_finite"),
    "-inf in one place": (np.r_[np.ones(7), -np.inf], "embeddings_rejected_not_finite"),
    "all zero": (np.zeros(8), "embeddings_rejected_zero"),
}


def bad_embedding_site():
    from pyuniproc.fusion import Fusion, FusionConfig

    site = Site(
        name="bad-embeddings",
        cameras=(CameraSpec("a", "a.mp4"), CameraSpec("b", "b.mp4")),
        topology=Topology(links=(Link("a", "b", 1.0, 10.0), Link("b", "a", 1.0, 10.0))),
    )
    return Fusion(site, FusionConfig(min_embeddings=1, decision_seconds=0.2))


def people(track_ids, embeddings) -> Detections:
    n = len(track_ids)
    return Detections(
        xyxy=np.tile(np.array([[10, 10, 50, 120]], np.float32), (n, 1)),
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, np.int64),
        tracker_id=np.array(track_ids),
        data={"embedding": np.asarray(embeddings, np.float32)},
    )


def test_bad_embedding_values_are_refused_at_the_intake_with_a_counted_reason_and_a_log_line(caplog):
    from pyuniproc.fusion import intake

    rows = np.stack([np.eye(8)[0], *(values for values, _ in BAD_ROWS.values())])
    rejected: dict[str, int] = {}
    intake._warned.clear()  # each reason is logged once per process
    with caplog.at_level("WARNING", logger="pyuniproc.fusion.intake"):
        embeddings, weights = intake.fresh_embeddings(people(range(len(rows)), rows), rejected)
    assert weights.tolist() == [1, 0, 0, 0, 0, 0]  # only the good row counts
    np.testing.assert_allclose(embeddings[0], np.eye(8)[0])
    assert np.isfinite(embeddings).all()
    assert rejected == Counter(reason for _, reason in BAD_ROWS.values() if reason)
    assert rejected == {"embeddings_rejected_not_finite": 3, "embeddings_rejected_zero": 1}
    logged = [r.getMessage() for r in caplog.records]
    assert any("3 embedding(s) with NaN or infinite values ignored (rows [2, 3, 4])" in m for m in logged), (
        logged
    )
    assert any("1 embedding(s) with all zeros ignored (rows [5])" in m for m in logged), logged
    # A frame without one usable embedding does not fix the embedding width (a placeholder frame of the
    # wrong width, or zero-width vectors, would otherwise make every real embedding an error).
    assert intake.fresh_embeddings(people([1, 2], np.full((2, 3), np.nan)))[0] is None
    assert intake.fresh_embeddings(people([1, 2], np.zeros((2, 0))))[0] is None


def test_nan_infinite_and_zero_embeddings_are_ignored_not_fatal():
    fusion = bad_embedding_site()
    good = np.eye(8, dtype=np.float32)[0]
    written = 0
    for step in range(40):
        pts = step * 0.1
        camera, track_id = ("a", 1) if pts < 2.0 else ("b", 7)
        bad = [values for values, _ in BAD_ROWS.values()]
        tracks = people([track_id, *(100 + 10 * i + step % 3 for i in range(len(bad)))], [good, *bad])
        out = fusion.update(camera, pts, tracks)
        assert len(out) == len(tracks)  # every row comes back
        assert np.isfinite(out.xyxy).all()
        written += len(out)
    fusion.flush()
    ids = {(t.from_camera, t.to_camera) for t in fusion.transitions}
    assert written == 40 * 6
    assert ("a", "b") in ids  # the person with a real embedding is followed from a to b
    stats = fusion.stats()
    json.dumps(stats, allow_nan=False)
    # the refusals show in the counters dashboards read (all-NaN rows mean "no embedding": not counted)
    assert stats["embeddings_rejected_not_finite"] > 0 and stats["embeddings_rejected_zero"] > 0


def test_an_embedding_of_another_width_is_refused_and_the_gallery_keeps_working():
    fusion = bad_embedding_site()
    good = np.eye(8, dtype=np.float32)[0]
    fusion.update("a", 0.0, people([1], [np.full(4, np.nan)]))  # a placeholder of the wrong width: ignored
    fusion.update("a", 0.1, people([1], [good]))
    before = fusion.stats()
    with pytest.raises(ValueError, match="embedding width changed from 8 to 4"):
        fusion.update("a", 0.2, people([1, 2], [[1, 0, 0, 0], [0, 1, 0, 0]]))
    assert fusion.stats()["rows"] == before["rows"]  # the refused frame left nothing behind
    for step in range(3, 40):
        pts = step * 0.1
        camera, track_id = ("a", 1) if pts < 2.0 else ("b", 7)
        fusion.update(camera, pts, people([track_id], [good]))
    fusion.flush()
    assert ("a", "b") in {(t.from_camera, t.to_camera) for t in fusion.transitions}
