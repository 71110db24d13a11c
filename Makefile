# melodygen — `make train` sets up, builds the folk corpus and trains; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned exactly; on a GPU machine pick its build, e.g. TORCH_SPEC="torch==2.11.0"
TORCH_SPEC ?= torch==2.13.0
# a local wheel folder, when the machine has one, saves downloading torch
FIND_LINKS := $(if $(wildcard /opt/wheels/*.whl),--find-links /opt/wheels,)
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check $(FIND_LINKS)
ARGS ?=
CKPT ?= $(shell ls -t outputs/*/runs/*/checkpoints/last.ckpt outputs/*/multiruns/*/*/checkpoints/last.ckpt 2>/dev/null | head -n 1)

.PHONY: setup data train sweep generate test bench lint format clean distclean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[dev]"
	touch $@

data: setup
	$(BIN)/melodygen-corpus

train: data
	$(BIN)/melodygen-train $(ARGS)

# the three sweep axes on a 2 x 2 x 2 grid, one numbered run folder per job
sweep: data
	$(BIN)/melodygen-train --multirun model.hidden_size=64,128 model.num_layers=1,2 data.seq_len=32,64 \
		trainer.max_epochs=2 samples.num_samples=2 $(ARGS)

generate: setup
	@test -n "$(CKPT)" || { echo "error: no checkpoint under outputs/; run make train or pass CKPT=path" >&2; exit 2; }
	$(BIN)/melodygen-generate ckpt_path=$(CKPT) $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)

bench: data
	$(BIN)/python scripts/bench_data.py
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_generate.py

lint: setup
	$(BIN)/ruff check melodygen tests scripts
	$(BIN)/ruff format --check melodygen tests scripts

format: setup
	$(BIN)/ruff check --fix melodygen tests scripts
	$(BIN)/ruff format melodygen tests scripts

clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache data/cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) data *.egg-info
