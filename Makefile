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

.PHONY: setup abc2midi fluidsynth data train sweep generate study test bench lint format clean distclean

setup: $(VENV)/.installed

# every extra (folk corpus, SLURM, dev tools), at the exact versions of constraints.txt; then abc2midi
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "$(TORCH_SPEC)"
	$(PIP) -c constraints.txt -e ".[folk,slurm,audio,dev]"
	@$(MAKE) --no-print-directory abc2midi fluidsynth
	touch $@

# Debian's abcmidi turns the folk corpus's ABC into MIDI in seconds; music21, the fallback, takes minutes
abc2midi:
	@if command -v abc2midi >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's abcmidi (abc2midi)"; \
		apt-get install -y -qq --no-install-recommends abcmidi >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends abcmidi >/dev/null 2>&1; } || \
		echo "note: could not install abcmidi; the folk corpus will be built with music21 (about 10 minutes)"; \
	else echo "note: abc2midi not found; 'sudo apt-get install abcmidi' makes the folk corpus build in seconds"; fi

# Debian's libfluidsynth3 lets pyfluidsynth render WAVs with a SoundFont piano; without it, sine tones
fluidsynth:
	@if ldconfig -p 2>/dev/null | grep -q libfluidsynth; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's libfluidsynth3 (FluidSynth)"; \
		apt-get install -y -qq --no-install-recommends libfluidsynth3 >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends libfluidsynth3 >/dev/null 2>&1; } || \
		echo "note: could not install libfluidsynth3; audio will be sine tones"; \
	else echo "note: libfluidsynth3 not found; 'sudo apt-get install libfluidsynth3' gives WAVs a SoundFont piano"; fi

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

# the blog post's model, the categorical and the event model at an equal budget: docs/blog-post-study.md
study: data
	$(BIN)/python scripts/blog_post_study.py $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)

bench: data
	$(BIN)/python scripts/bench_data.py
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_generate.py
	$(BIN)/python scripts/bench_sweep.py

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
