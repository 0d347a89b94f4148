# The two commands a user needs: `make run` and `make test`. Both start with `make setup`,
# which is idempotent and quick when nothing changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GAZESERVE := $(VENV)/bin/gazeserve
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-test system-packages run test test-fast test-native-memcheck lint goldens \
	fuzz clean

setup: $(STAMP)
	$(GAZESERVE) models prepare
	$(GAZESERVE) media fetch --quiet
	$(PY) -m gazeserve.native.build --optional

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,dev]'
	touch $@

# The service on http://127.0.0.1:8000 (GAZE_HOST / GAZE_PORT and the other settings apply).
run: setup
	$(GAZESERVE) serve

# The MediaPipe reference environment (its own venv, never the runtime one) for parity tests.
# promtool (Debian's prometheus package) checks the /metrics exposition; Chromium runs the demo
# page's browser tests, ffmpeg makes their fake-webcam video.
setup-test: setup
	$(PY) -c "from gazeserve.reference.env import ensure_mediapipe_env; ensure_mediapipe_env()"
	$(PY) -c "from gazeserve.bench.servers import ensure_mediapipe_service_env; \
		ensure_mediapipe_service_env()"
	@$(PY) -c "import ray.serve" 2>/dev/null || $(PY) -m pip install --quiet -e '.[server,dev,ray]'
	@command -v promtool >/dev/null && command -v chromium >/dev/null && \
		command -v ffmpeg >/dev/null || $(MAKE) --no-print-directory system-packages

# Debian packages the tests use; needs root (CI runs as root) or sudo.
system-packages:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq prometheus chromium ffmpeg >/dev/null

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts deploy
	$(VENV)/bin/mypy

test: setup-test lint
	$(VENV)/bin/mypy --strict deploy/ray/serve_app.py deploy/docker/healthcheck.py
	$(PY) -m pytest

test-fast: setup lint
	$(PY) -m pytest -m "not slow"

# The attention delegate's tests under AddressSanitizer + LeakSanitizer + UBSan (a CI step):
# any sanitizer report makes pytest exit non-zero. Needs gcc (libasan). About 30 s.
test-native-memcheck: setup
	$(PY) -m gazeserve.native.build --sanitize address
	LD_PRELOAD="$$(cc -print-file-name=libasan.so) $$(cc -print-file-name=libstdc++.so)" \
	ASAN_OPTIONS=detect_leaks=1:malloc_context_size=2 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/unit/native/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	GAZE_NATIVE_TEST_SANITIZE=address \
	$(PY) -m pytest tests/unit/native tests/integration/test_attention_mesh.py -p no:cacheprovider -q

# Coverage-guided fuzzing of decode -> pipeline (atheris); a crash's input lands in
# $(FUZZ_DIR)/crashes. CI runs a bounded 40 s run inside `make test`.
FUZZ_SECONDS ?= 600
FUZZ_DIR ?= .fuzz
fuzz: setup
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/crashes
	$(PY) tests/fuzz/atheris_decode.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=3072 -max_len=65536 -artifact_prefix=$(FUZZ_DIR)/crashes/ $(FUZZ_DIR)/corpus

goldens: setup-test
	$(PY) scripts/make_goldens.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
