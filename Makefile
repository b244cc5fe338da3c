# voicelab: one entry point. `make run` = set up + quickstart experiment; `make test` = set up + tests.
# Set-up is idempotent: the venv is rebuilt only when pyproject.toml changes, and assets
# already verified in $(VOICELAB_HOME) (default ~/.cache/voicelab) are not rebuilt.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup assets run test clean-venv

setup: $(STAMP) assets

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, from the local CPU wheel: nothing may resolve a newer (CUDA) build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# silero-vad only for its ONNX file: its dependencies pin torchaudio
	$(PY) -m pip install -q --no-deps silero-vad==6.2.3
	@touch $(STAMP)

assets: $(STAMP)
	$(PY) -m voicelab.assets build

run: setup
	$(VENV)/bin/voicelab run experiments/quickstart.yaml --out results/quickstart

test: setup
	$(VENV)/bin/pytest -ra

clean-venv:
	rm -rf $(VENV)
