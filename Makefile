# The two README commands are `make demo` and `make test`; everything else is a step of
# theirs. Each step is idempotent and stamped, so a warm re-run takes seconds.
PYTHON311 := $(shell command -v python3.11 2>/dev/null)
export PYTHONUNBUFFERED := 1
# a different distro's venv started from inside one must bootstrap its own libraries
unexport _ROS_WHEELS_BOOTSTRAP_COMPLETE

# ROS 2 distros: each has its own lock (ros_env/requirements-<distro>.lock) and venv (.venv
# for Kilted, .venv-<distro> for the others). ROS_DISTRO=jazzy picks one for every target;
# without it, `make test` is what CI runs: the whole suite on Kilted, then on Jazzy the
# suites where the distros differ (the node, its lifecycle manager and bond, bag replay,
# regression, the message packages and the input gate).
DEFAULT_DISTRO := kilted
CI_DISTROS := kilted jazzy
DISTRO_SUITES := test/node test/lifecycle_bond test/bags test/regression test/environment \
	test/input_gate test/input_qos
DISTRO := $(or $(ROS_DISTRO),$(DEFAULT_DISTRO))
venv_of = $(if $(filter $(DEFAULT_DISTRO),$(1)),.venv,.venv-$(1))
suites_of = $(if $(filter $(DEFAULT_DISTRO),$(1)),,$(DISTRO_SUITES))
VENV := $(call venv_of,$(DISTRO))
PY := $(VENV)/bin/python

.PHONY: all env models data exports test lint demo demo-classify bench soak clean-env help

all: test

help:
	@echo "make demo   - set everything up, replay the street-video bag through the node"
	@echo "make test   - set everything up, run the tests CI runs (Kilted: all; Jazzy: the ROS suites)"
	@echo "make bench  - benchmarks (JSON + markdown under out/bench/; makes the INT8 artefacts first)"
	@echo "ROS_DISTRO=jazzy make ...  - the same on one distro (kilted, jazzy)"

env: env-$(DISTRO)

# env-kilted, env-jazzy: one distro's venv (never .PHONY: make skips pattern rules for those)
env-%:
ifeq ($(PYTHON311),)
	@echo "error: python3.11 not found: apt-get install python3.11 python3.11-venv python3.11-dev" >&2; exit 2
endif
	@$(PYTHON311) ros_env/setup_env.py --distro $*

models: env
	@$(VENV)/bin/jetson-infer models

data: env
	@$(VENV)/bin/jetson-infer data

# Real YOLO/SSD exports by Ultralytics and torchvision with their own answers, for
# test/postprocess/test_real_exports.py (tool env + 38 exports, cached by their key).
exports: data
	@$(VENV)/bin/jetson-infer exports

test: $(addprefix test-,$(or $(ROS_DISTRO),$(CI_DISTROS)))

# test-kilted: the whole suite; test-<other>: DISTRO_SUITES. The detector exports are
# shared by both (test/node quotes them too); the second distro finds them cached.
test-%: env-%
	@$(call venv_of,$*)/bin/jetson-infer models
	@$(call venv_of,$*)/bin/jetson-infer data
	@$(call venv_of,$*)/bin/jetson-infer exports
	@echo "== ROS 2 $*: $(or $(call suites_of,$*),the whole suite) ==" >&2
	@$(call venv_of,$*)/bin/python -m pytest $(call suites_of,$*)

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
	rm -rf .venv $(foreach d,$(filter-out $(DEFAULT_DISTRO),$(CI_DISTROS)),.venv-$(d))
