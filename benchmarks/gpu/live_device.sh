#!/usr/bin/env bash
# The live `pyuniproc run` rows of README.md ("Live `pyuniproc run`"), on the GPU machine, from the
# repository root:
#
#   C=DIR bash benchmarks/gpu/live_device.sh [--checks] [--mps] -- --run realtime 32 8 45 --run loop 8 1 30
#
# What the GPU machine lacks travels in C (default .carry/nvdec, ignored by git): wheels (OmegaConf,
# OpenTelemetry, Starlette, uvicorn; or their files unpacked in C/site), an `av` stub (no PyAV there),
# the native NVDEC loop built on a CPU machine (pyuniproc.gpu.native_nvdec.build_library), the 1080p
# clip as raw H.264 (vtest_1080p.h264), and the CPU fp32 reference run of that clip (cpu_fp32/:
# CPU_PRECISION=fp32 pyuniproc run --source cam=vtest_1080p.h264 --out cpu_fp32 --backend cpu).
# --checks: after the rows, the parity run against that reference and the torch/CUDA tests;
# --mps: the CUDA MPS daemon runs the worker processes' kernels side by side.
# Everything after -- goes to scripts/gpu_live_bench.py (rows appended to $OUT/live.json).
set -u
C=${C:-.carry/nvdec}
OUT=${OUT:-/tmp/gpu_live_out}
checks=0 mps=0
while [ $# -gt 0 ]; do
  case $1 in
    --checks) checks=1 ;; --mps) mps=1 ;; --) shift; break ;; *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
C=$(cd "$C" && pwd)
if [ -d "$C/site" ]; then site=$C/site  # the wheels' files, unpacked (smaller to carry)
else
  site=/tmp/site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target $site "$C"/whl/*.whl || exit 1
fi
export PYTHONPATH=$site:$C/stub PYUNIPROC_NVDEC_LOOP=$(ls "$C"/libnvdec_loop-*.so | head -1)
export METRICS=false PYTHONUNBUFFERED=1 TRITON_CACHE_DIR=/tmp/triton_cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/device.txt"
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cv2', cv2.__version__, 'cpus', __import__('os').cpu_count())" \
  | tee -a "$OUT/device.txt"
if [ $mps = 1 ]; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
  nvidia-cuda-mps-control -d && echo "MPS daemon started"
fi
if [ $# -gt 0 ]; then
  python3 scripts/gpu_live_bench.py --clip "$C/vtest_1080p.h264" --fps 30 --out "$OUT/live.json" "$@"
fi
if [ $mps = 1 ]; then echo quit | nvidia-cuda-mps-control; fi
if [ $checks = 1 ]; then
  echo "== parity: GPU backend + NVDEC vs the CPU fp32 reference (30 frames, 1080p)"
  timeout 120 python3 -m pyuniproc run --source cam="$C/vtest_1080p.h264" --out /tmp/parity_gpu --backend gpu \
    --decoder nvdec --no-progress > "$OUT/parity_log.txt" 2>&1
  python3 scripts/compare_runs.py "$C/cpu_fp32" /tmp/parity_gpu --max-count-gap 1 --min-mean-iou 0.95 \
    --min-same-id 0.9 --json "$OUT/parity.json" 2>&1 | tail -12
  echo "== torch/CUDA tests"
  timeout ${TEST_SECONDS:-150} python3 -m pytest -q -p no:cacheprovider tests/gpu tests/test_nv12.py tests/sources/test_nv12_source.py \
    -o junit_family=xunit2 --junitxml="$OUT/tests.xml" 2>&1 | tail -25
fi
