VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

# torch is pinned first so that no dependency range can pull the CUDA build.
$(STAMP_TEST): pyproject.toml | $(PY)
	command -v espeak-ng >/dev/null && command -v openssl >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq espeak-ng openssl)
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[test,diffusion]" torch==2.13.0
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(VENV)/bin/reelserve serve --data-dir $${REELSERVE_DATA_DIR:-./reelserve-data}

test: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests bench
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP_TEST)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) reelserve-data
