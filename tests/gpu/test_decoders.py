"""`--decoder`: how `pyuniproc run` decodes video files. The rules run on any machine (torch made
unimportable where it matters); NVDEC itself is exercised on the GPU machine (scripts/compare_runs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyuniproc.config.cameras import CameraSpec
from pyuniproc.gpu import decoders
from pyuniproc.sources.nv12_source import Nv12Source

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


@pytest.fixture
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_named_host_decoders_are_kept_on_either_backend(backend):
    assert decoders.resolve_decoder("cpu", backend) == "cpu"
    assert decoders.resolve_decoder("nv12-cpu", backend) == "nv12-cpu"


def test_auto_on_the_cpu_backend_decodes_on_the_cpu():
    assert decoders.resolve_decoder("auto", "cpu") == "cpu"


def test_auto_on_the_gpu_backend_without_nvdec_falls_back_to_the_cpu(no_torch):
    assert decoders.nvdec_kind() == (None, "torch is not installed")
    assert decoders.resolve_decoder("auto", "gpu") == "cpu"


def test_nvdec_asked_for_where_it_cannot_run_says_what_is_missing(no_torch):
    missing = "decoder 'nvdec' asked for, but torch is not installed"
    with pytest.raises(decoders.DecoderUnavailable, match=missing):
        decoders.resolve_decoder("nvdec", "gpu")


@pytest.mark.parametrize("name", ["NVDEC", "gpu", ""])
def test_unknown_decoder_names_are_refused_quoting_them(name):
    with pytest.raises(ValueError, match=f"got {name!r}"):
        decoders.resolve_decoder(name, "cpu")


def test_only_video_files_get_the_nv12_source(tmp_path, pyav):
    options = {"realtime": False, "loop": False, "max_frames": 3, "first_index": 0}
    assert decoders.open_nv12_source(CameraSpec("a", str(VTEST)), "cpu", **options) is None
    assert decoders.open_nv12_source(CameraSpec("a", "rtsp://cam.local/live"), "nv12-cpu", **options) is None
    assert decoders.open_nv12_source(CameraSpec("a", str(tmp_path)), "nv12-cpu", **options) is None  # images
    source = decoders.open_nv12_source(CameraSpec("a", str(VTEST)), "nv12-cpu", **options)
    assert isinstance(source, Nv12Source) and source.fps == 10.0
    assert [f.index for f in source.frames()] == [0, 1, 2]
    with pytest.raises(ValueError, match="video not found"):
        decoders.open_nv12_source(CameraSpec("a", str(tmp_path / "gone.mp4")), "nv12-cpu", **options)
