"""GPU memory of one `pyuniproc run` worker's networks, stage by stage (the figures behind
benchmarks/gpu/README.md's memory table).

    python scripts/probe_gpu_memory.py [--module module/module.yml]

One process: CUDA context; the module's detector built and its batch buckets captured as CUDA graphs;
the embedder likewise; then a detect of 1..64 host 1080p RGB frames and an embed of 16..512 crops.
After each stage one JSON line: MiB that torch's allocator holds (`process_gpu_memory`, as summary.json
reports it: `allocated`, `reserved`, `peak_reserved`) and `device_used` (total - free, so the CUDA
context and anything outside torch too). Needs torch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

MIB = 2**20


def report(stage: str, started: float) -> None:
    import torch

    from pyuniproc.gpu.backend import process_gpu_memory

    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    print(json.dumps({"stage": stage, **(process_gpu_memory() or {}), "device_used": (total - free) // MIB,
                      "seconds": round(time.monotonic() - started, 1)}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default="module/module.yml")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        parser.error("needs torch with CUDA (pip install 'pyuniproc[gpu]')")
    from pyuniproc.config.module import load_module_config
    from pyuniproc.runtime.build import build_detector, build_reid

    if not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    started = time.monotonic()
    torch.zeros(1, device="cuda")
    report("context", started)
    module = load_module_config(args.module)
    detector = build_detector(module, "gpu")
    report("detector captured", started)
    reid = build_reid(module, "gpu")
    report("embedder captured", started)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(8)]
    for count in (1, 8, 16, 32, 64):
        detector.detect([frames[i % len(frames)] for i in range(count)])
    report("detected 1..64 frames", started)
    if reid is not None:
        crops = [rng.integers(0, 255, (160, 64, 3), dtype=np.uint8) for _ in range(512)]
        for count in (16, 100, 300, 512):
            reid.embedder.embed(crops[:count])
        report("embedded 16..512 crops", started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
