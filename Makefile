# The two commands a user needs: `make run` and `make test`. Both start with `make setup`,
# which is idempotent and quick when nothing changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GAZESERVE := $(VENV)/bin/gazeserve
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-test system-packages run test test-fast lint goldens clean

setup: $(STAMP)
	$(GAZESERVE) models prepare
	$(GAZESERVE) media fetch --quiet

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The service on http://127.0.0.1:8000 (GAZE_HOST / GAZE_PORT and the other settings apply).
run: setup
	$(GAZESERVE) serve

# The MediaPipe reference environment (its own venv, never the runtime one) for parity tests.
# promtool (Debian's prometheus package) checks the /metrics exposition.
setup-test: setup
	$(PY) -c "from gazeserve.reference.env import ensure_mediapipe_env; ensure_mediapipe_env()"
	@command -v promtool >/dev/null || $(MAKE) --no-print-directory system-packages

# Debian packages the tests use; needs root (CI runs as root) or sudo.
system-packages:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq prometheus >/dev/null

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/mypy

test: setup-test lint
	$(PY) -m pytest

test-fast: setup lint
	$(PY) -m pytest -m "not slow"

goldens: setup-test
	$(PY) scripts/make_goldens.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
