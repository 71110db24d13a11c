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

.PHONY: setup debs data train pretrained sweep generate study study-architectures study-tokenizations test docs bench bench-idyom lint format clean distclean

setup: $(VENV)/.installed

# every extra (folk corpus, SLURM, audio, MidiTok and symusic, ONNX export, the docs site, dev tools), at the exact versions of
# constraints.txt, installed by uv (half a minute, bytecode compiled as pip does; INSTALLER=pip for pip, a
# minute and a half); then debs. `make train` (and `make data`, `make sweep`) installs only what they use,
# the folk corpus's and the audio extras (a third less to install); any other target completes the set.
# A failed install is tried once more with pip without its cache (a package index that sent a cut-off page).
INSTALLER ?= uv
EXTRAS := folk,slurm,audio,miditok,export,docs,dev
TRAIN_EXTRAS := folk,audio
packages = "$(TORCH_SPEC)" -c constraints.txt -e ".[$(1)]"
define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	{ test "$(INSTALLER)" = uv && $(PIP) -c constraints.txt uv && \
		$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(FIND_LINKS) $(call packages,$(1)); } || \
	{ test "$(INSTALLER)" != uv || echo "uv failed; installing with pip"; $(PIP) $(call packages,$(1)); } || \
	{ echo "pip failed; retrying once without its cache"; sleep 5; $(PIP) --no-cache-dir $(call packages,$(1)); }
	@$(MAKE) --no-print-directory debs
endef

$(VENV)/.installed: pyproject.toml constraints.txt
	$(call install,$(EXTRAS))
	touch $@ $(VENV)/.installed-train

$(VENV)/.installed-train: pyproject.toml constraints.txt
	$(call install,$(TRAIN_EXTRAS))
	touch $@

# Debian packages that melodygen uses when they are there: abcmidi (abc2midi exports the folk corpus in
# seconds; music21, the fallback, takes minutes) and libfluidsynth3 (WAVs with a SoundFont piano; the
# fallback is sine tones); `make test` adds chromium (the test that opens the listening report in a headless
# browser; skipped without it). Installed as root with apt-get; otherwise the line to run is printed.
MISSING_DEBS = $(if $(shell command -v abc2midi),,abcmidi) \
	$(if $(shell ldconfig -p 2>/dev/null | grep libfluidsynth),,libfluidsynth3) \
	$(if $(BROWSER),$(if $(shell command -v chromium || command -v chromium-browser),,chromium))
APT_GET = apt-get install -y -qq --no-install-recommends $(MISSING_DEBS) >/dev/null 2>&1

debs:
	@if [ -z "$(strip $(MISSING_DEBS))" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's $(strip $(MISSING_DEBS))"; \
		$(APT_GET) || { apt-get update -qq >/dev/null 2>&1 && $(APT_GET); } || \
		echo "note: could not install $(strip $(MISSING_DEBS)); without them music21 builds the corpus (minutes), audio is sine tones, the browser test is skipped"; \
	else echo "note: 'sudo apt-get install $(strip $(MISSING_DEBS))' builds the folk corpus in seconds, gives WAVs a piano and runs the browser test"; fi

data: $(VENV)/.installed-train
	$(BIN)/melodygen-corpus

train: data
	$(BIN)/melodygen-train $(ARGS)

# the pretrained models of melodygen/pretrained/, trained again from their recipes (conf/experiment/folk_*.yaml)
# and packed with their cards; ARGS="--names folk-lstm -- trainer=gpu" makes one, on a GPU
pretrained: setup data
	$(BIN)/python scripts/make_pretrained.py $(ARGS)

# the three sweep axes on a 2 x 2 x 2 grid, one numbered run folder per job
sweep: data
	$(BIN)/melodygen-train --multirun model.hidden_size=64,128 model.num_layers=1,2 data.seq_len=32,64 \
		trainer.max_epochs=2 samples.num_samples=2 $(ARGS)

generate: setup
	@test -n "$(CKPT)" || { echo "error: no checkpoint under outputs/; run make train or pass CKPT=path" >&2; exit 2; }
	$(BIN)/melodygen-generate ckpt_path=$(CKPT) $(ARGS)

# the blog post's model, the categorical and the event model at an equal budget: docs/blog-post-study.md
study: setup data
	$(BIN)/python scripts/blog_post_study.py $(ARGS)

# one worker per core (pytest-xdist), each pinned to its own core; a file's tests stay on one worker, so the
# runs a module shares are made once
test: setup
	@$(MAKE) --no-print-directory debs BROWSER=1
	$(BIN)/python -m pytest -n auto --dist loadfile $(ARGS)

# the documentation site, built offline into site/ (strict: a broken link or a page left out fails)
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup data
	$(BIN)/python scripts/bench_data.py
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_generate.py
	$(BIN)/python scripts/bench_attention.py
	$(BIN)/python scripts/bench_sweep.py
	$(BIN)/python scripts/bench_hostile_midi.py

# the LSTM, the GRU and the Transformer at one budget on the folk corpus: docs/architectures.md
study-architectures: setup data
	$(BIN)/python scripts/architecture_study.py $(ARGS)

# categorical, event and MidiTok's REMI, TSD, REMI + BPE at an equal budget: docs/tokenizations.md
study-tokenizations: setup data
	$(BIN)/python scripts/tokenization_study.py $(ARGS)

# pitch bits per note on the Essen nursery songs, 10-fold cross-validated, beside IDyOM (README: IDyOM)
bench-idyom: setup data
	$(BIN)/python scripts/bench_idyom.py --models lstm,gru,transformer --json outputs/bench_idyom/kinder.json \
		--markdown outputs/bench_idyom/kinder.md $(ARGS)

lint: setup
	$(BIN)/ruff check melodygen tests scripts examples
	$(BIN)/ruff format --check melodygen tests scripts examples

format: setup
	$(BIN)/ruff check --fix melodygen tests scripts examples
	$(BIN)/ruff format melodygen tests scripts examples

clean:
	rm -rf outputs multirun site .pytest_cache .ruff_cache data/cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) data *.egg-info
