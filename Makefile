# voicelab: one entry point. `make run` = set up + quickstart experiment; `make test` = set up + tests.
# Set-up is idempotent: the venv is rebuilt only when pyproject.toml changes, and assets
# already verified in $(VOICELAB_HOME) (default ~/.cache/voicelab) are not rebuilt.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup syslibs assets browser postgres run test test-unit test-notebooks docs clean-venv

setup: $(STAMP) syslibs assets

# Debian's libspeexdsp1: speexdsp-aec (aec.kind=speex) loads libspeexdsp.so.1 with ctypes.
# Idempotent: apt runs only when the library is not already installed.
syslibs:
	@/sbin/ldconfig -p | grep -q 'libspeexdsp.so.1 ' || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libspeexdsp1; } \
	  || echo "warning: could not install Debian libspeexdsp1; aec.kind=speex will fail (SPEEXDSP_LIB may point at a copy)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, from the local CPU wheel: nothing may resolve a newer (CUDA) build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,docs]'
	# silero-vad only for its ONNX file: its dependencies pin torchaudio
	$(PY) -m pip install -q --no-deps silero-vad==6.2.3
	@touch $(STAMP)

assets: $(STAMP)
	$(PY) -m voicelab.assets build
	$(PY) -m voicelab.corpus build

run: setup
	$(VENV)/bin/voicelab run experiments/quickstart.yaml --out results/quickstart

# Debian Chromium for the real-browser microphone test (Playwright's own browser download
# does not work here). Idempotent: nothing is installed when /usr/bin/chromium exists.
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	  || echo "warning: could not install Debian chromium; tests/test_jupyterlab_mic.py will be skipped (and say so)"

# Debian's PostgreSQL server binaries for the store tests (tests/postgres.py starts a throw-away
# cluster with initdb/pg_ctl in a temp dir; no system service is used). Idempotent.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } \
	  || echo "warning: could not install Debian postgresql; the PostgreSQL store tests will be skipped (and say so)"

# ruff first (pyproject.toml [tool.ruff]: a lint error fails `make test` before pytest starts),
# then unit + integration + browser tests, then every notebook under nbval in quick mode
# (VOICELAB_QUICK=1: one clip, no warm-up; outputs compared only in cells marked
# `# NBVAL_CHECK_OUTPUT`). A failing notebook cell fails `make test`.
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=600

test: setup browser postgres docs
	$(VENV)/bin/ruff check voicelab tests benchmarks docs/hooks
	VOICELAB_QUICK=1 $(VENV)/bin/pytest -ra tests notebooks $(NBVAL)

# The fast subset while working on the code: every test not marked `integration` (it loads a real
# model) or `browser`, no notebooks, no docs build (about 2 minutes on 2 cores).
test-unit: setup
	$(VENV)/bin/ruff check voicelab tests benchmarks docs/hooks
	$(VENV)/bin/pytest -q -m "not integration and not browser" tests

# The documentation site (mkdocs.yml) into site/. --strict: a broken link, a missing anchor or a
# missing page fails the build, and so `make test`. No model is loaded (the API pages are read
# statically; the config reference imports voicelab.config only).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test-notebooks: setup
	VOICELAB_QUICK=1 $(VENV)/bin/pytest -ra notebooks $(NBVAL) --durations=0

clean-venv:
	rm -rf $(VENV)
