VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

# espeak-ng: the approximate speech backend (voice_list) says the lines with it.
$(STAMP_RUN): pyproject.toml | $(PY)
	command -v espeak-ng >/dev/null || (apt-get update -qq && apt-get install -y -qq espeak-ng)
	$(PIP) install -e .
	touch $@

# torch is pinned first so that no dependency range can pull the CUDA build. The test extra brings moto[server]
# (the S3 server the test session starts on loopback) and boto3; PostgreSQL and Redis are the machine's.
# chromium: Debian's browser, which the studio's browser tests drive through Playwright (never its own download).
$(STAMP_TEST): pyproject.toml | $(PY)
	command -v espeak-ng >/dev/null && command -v openssl >/dev/null && test -x /usr/bin/chromium || \
		(apt-get update -qq && apt-get install -y -qq espeak-ng openssl chromium)
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[test,diffusion,otel]" torch==2.13.0
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
