"""The detector worker threads: same boxes as calling the detector directly, whatever the number of
workers, and a pipeline with several workers writes exactly what a single worker writes."""

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import RuntimeSettings
from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
from pyuniproc.runtime.build import detector_threads
from pyuniproc.runtime.detect_stage import DetectStage, detect_batch
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    with av.open(str(VTEST)) as container:
        decoded = zip(range(12), container.decode(video=0), strict=False)
        return [frame.to_ndarray(format="rgb24") for _, frame in decoded]


def test_worker_threads_return_the_boxes_of_a_direct_call(frames):
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, precision="int8",
                               intra_op_threads=1)
    batches = [frames[i:i + 4] for i in range(0, len(frames), 4)]
    expected = [detector.detect(batch) for batch in batches]
    woken = []
    stage = DetectStage(workers=3, on_done=lambda: woken.append(True))
    futures = [stage.submit(detector, batch) for batch in batches]  # all three run at once
    results = [future.result() for future in futures]
    stage.close()
    assert len(woken) == len(batches)
    assert sum(len(d) for batch in expected for d in batch) > 0
    for result, reference in zip(results, expected, strict=True):
        assert result.started <= result.preprocessed <= result.inferred <= result.decoded
        for got, want in zip(result.boxes, reference, strict=True):
            np.testing.assert_array_equal(got.xyxy, want.xyxy)
            np.testing.assert_array_equal(got.confidence, want.confidence)


def test_a_detector_error_reaches_the_caller(frames):
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR)
    with pytest.raises(ValueError, match="must be uint8"):
        detect_batch(detector, [frames[0].astype(np.float32)])
    stage = DetectStage(workers=1)
    future = stage.submit(detector, [frames[0].astype(np.float32)])
    with pytest.raises(ValueError, match="must be uint8"):
        future.result()
    stage.close()


def test_detector_threads_share_the_cpus_among_the_workers():
    assert detector_threads(RuntimeSettings(detector_workers=2), cpus=2) == 1
    assert detector_threads(RuntimeSettings(detector_workers=2), cpus=16) == 8
    assert detector_threads(RuntimeSettings(detector_workers=4), cpus=2) == 1
    assert detector_threads(RuntimeSettings(detector_workers=2, detector_threads=3), cpus=2) == 3


def run_cameras(module, out: Path, workers: int) -> dict:
    module = replace(module, runtime=replace(module.runtime, detector_workers=workers, annotated_video=False))
    cameras = tuple(CameraSpec(id=f"cam{i}", uri=str(VTEST)) for i in (1, 2, 3))
    options = RunOptions(out_dir=out, progress=False, max_frames=60)
    return Pipeline(module, Site(name="workers", cameras=cameras), options).run()


def test_several_workers_write_what_one_worker_writes(tmp_path, module_config):
    one = run_cameras(module_config, tmp_path / "one", workers=1)
    three = run_cameras(module_config, tmp_path / "three", workers=3)
    assert one["frames_processed"] == three["frames_processed"] == 180
    for camera in ("cam1", "cam2", "cam3"):
        rows = (tmp_path / "three" / "mot" / f"{camera}.txt").read_text().splitlines()
        frames_in_order = [int(row.split(",")[0]) for row in rows]
        assert frames_in_order == sorted(frames_in_order)  # batches are tracked in the order taken
        assert rows == (tmp_path / "one" / "mot" / f"{camera}.txt").read_text().splitlines()
        assert len({row.split(",")[1] for row in rows}) >= 3  # several people tracked
