# The README's quick start: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint pytest bench bench-fingerprints audio-robustness video-robustness clean container-test test-py310

# invisible-watermark is test-only and installed without its declared deps: they are torch (for its unused
# rivaGan method) and the GUI opencv-python (the test extra has the headless one).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps invisible-watermark==0.2.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Lint, type-check, then the whole suite.
test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint docker/Dockerfile

pytest: $(STAMP)
	$(BIN)/pytest

# bench_fingerprints fills SQLite and PostgreSQL with 1,000,000 fingerprints each: it needs more than 600 s.
bench: $(STAMP)
	$(BIN)/python bench/run.py --timeout 1800

bench-fingerprints: $(STAMP)
	$(BIN)/python bench/bench_fingerprints.py

# The audio watermark's full robustness table (48 clips of 3-60 s, minutes of CPU); exit 1 below the targets.
audio-robustness: $(STAMP)
	$(BIN)/python bench/audio_robustness.py

# The video watermark's robustness table (22 generated clips, 240p-1080p, 2-30 s, five attacks; many minutes of
# CPU: FFmpeg encodes every attacked copy); exit 1 below the targets.
video-robustness: $(STAMP)
	$(BIN)/python bench/video_robustness.py

# The oldest supported Python (requires-python >= 3.10): the core suite without the Gradio extra.
PY310 ?= python3.10
test-py310:
	$(PY310) -m venv .venv-py310
	.venv-py310/bin/python -m pip install --quiet --upgrade pip
	.venv-py310/bin/python -m pip install --quiet -e ".[fastapi,server,text,audio,test]"
	.venv-py310/bin/python -m pip install --quiet --no-deps invisible-watermark==0.2.0
	.venv-py310/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/gradio \
		--ignore=tests/test_examples.py --ignore=tests/test_readme.py

# Builds docker/Dockerfile with buildah on a Debian base made by debootstrap and runs it (root; no Docker engine).
container-test: $(STAMP)
	bash docker/container_test.sh

clean:
	rm -rf $(VENV) .venv-py310 .pytest_cache .mypy_cache .ruff_cache .hypothesis artifacts
