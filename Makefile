# The two README commands are `make demo` and `make test`; everything else is a step of
# theirs. Each step is idempotent and stamped, so a warm re-run takes seconds.
PYTHON311 := $(shell command -v python3.11 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: all env models data test lint demo demo-classify bench soak clean-env help

all: test

help:
	@echo "make demo   - set everything up, replay the street-video bag through the node"
	@echo "make test   - set everything up, run the whole test suite (what CI runs)"
	@echo "make bench  - benchmarks (JSON + markdown under out/bench/; makes the INT8 artefacts first)"

env:
ifeq ($(PYTHON311),)
	@echo "error: python3.11 not found: apt-get install python3.11 python3.11-venv python3.11-dev" >&2; exit 2
endif
	@$(PYTHON311) ros_env/setup_env.py

models: env
	@$(VENV)/bin/jetson-infer models

data: env
	@$(VENV)/bin/jetson-infer data

test: models data
	@$(PY) -m pytest

lint: env
	@$(PY) -m pytest test/lint

demo: models data
	@$(VENV)/bin/jetson-infer demo --config config/detect.yaml

demo-classify: models data
	@$(VENV)/bin/jetson-infer demo --config config/infer.yaml

# Both default models, FP32 and INT8, 640x480 and 1280x720. The bench calibrates and
# evaluates each model's INT8 artefact on the study split itself (jetson_infer_ros/bench/
# int8.py), cached under ~/.cache/jetson_infer_ros/bench_int8/<model>-<key>, the key
# hashing the model, the frames, the settings and the quantisation code.
bench: models data
	@$(VENV)/bin/jetson-infer bench --out out/bench

soak: models data
	@$(VENV)/bin/jetson-infer soak --config config/detect.yaml --duration 1800 --out out/soak

clean-env:
	rm -rf $(VENV)
