# The two commands of the README:
#   make demo   set up a venv, run the multi-camera demo on the sample footage, say where results are
#   make test   set up the same venv and run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo
# The committed 4-camera benchmark scenario (exact ground truth in samples/scenario_default/gt).
# samples/demo/cameras.yml is the smaller one: vtest.avi as two cameras.
SCENARIO ?= samples/scenario_default
CAMERAS ?= $(SCENARIO)/cameras.yml
# A run is scored only against the ground truth of its own scenario: the gt/ folder next to the
# cameras file. samples/demo/cameras.yml has none, so `make demo CAMERAS=samples/demo/cameras.yml`
# is not scored (scoring it against another scenario's people would give nonsense, e.g. MOTA -1.98).
GT_DIR := $(patsubst %/,%,$(dir $(CAMERAS)))
SCORED := $(wildcard $(GT_DIR)/gt)

.PHONY: demo test bench accuracy lint lock clean system-deps

# Installs come from requirements.lock: exact versions with hashes for every runtime, eval, Kafka
# and dev dependency (--no-deps: the lock is the whole set; TrackEval's unused GUI extras are left
# out on purpose, see requirements/overrides.txt). `make lock` refreshes it, on purpose only.
$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Pin what pyproject.toml asks for, with hashes (all platforms' wheels). Pins already in the lock are
# kept (a new dependency is added, nothing else moves); `make lock UPGRADE=1` re-resolves everything
# to the newest versions the ranges allow. Run it on purpose, then `make test` before committing.
UV_VERSION := 0.13.8
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'
	.venv-lock/bin/uv pip compile pyproject.toml requirements/build.in \
	    --extra dev --extra eval --extra kafka --override requirements/overrides.txt \
	    --generate-hashes --universal --python-version 3.11 --no-header -o requirements.lock \
	    $(if $(UPGRADE),--upgrade)

demo: $(BIN)/.installed
	rm -rf $(OUT)  # a fresh run each time (pyuniproc itself appends to an existing --out)
	RECORDING_MOSAIC=true $(BIN)/pyuniproc run --module module/module.yml --cameras $(CAMERAS) --out $(OUT)
	$(if $(SCORED),$(BIN)/pyuniproc eval --gt $(GT_DIR) --pred $(OUT) --json $(OUT)/eval.json,@echo "not scored: no gt/ folder next to $(CAMERAS)")
	$(BIN)/pyuniproc report --run $(OUT) --cameras $(CAMERAS) --out $(OUT)/report.html$(if $(SCORED), --metrics $(OUT)/eval.json)

# Debian packages the tests use (prometheus + promtool, chromium, GStreamer's RTSP server);
# installed only when missing.
system-deps:
	bash scripts/system-deps.sh

test: $(BIN)/.installed system-deps lint
	$(BIN)/python -m pytest -q

# The naive peer loop needs Roboflow's `trackers`, which brings the GUI build of OpenCV: keep it
# in its own venv so the runtime's opencv-python-headless stays alone in .venv.
.venv-bench/.installed:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet 'trackers==2.6.*' onnxruntime numpy
	touch $@

bench: $(BIN)/.installed .venv-bench/.installed
	$(BIN)/pyuniproc bench --cameras 4 --json out/bench.json

# The accuracy protocol on its 6 held-out scenes (benchmarks/accuracy/README.md); scenes and pipeline
# recordings are cached in out/accuracy, results written to out/accuracy/results.
accuracy: $(BIN)/.installed
	$(BIN)/pyuniproc accuracy --split test --work out/accuracy --ablation

lint: $(BIN)/.installed
	$(BIN)/ruff check pyuniproc module tests scripts setup.py

clean:
	rm -rf $(VENV) .venv-lock out .pytest_cache
