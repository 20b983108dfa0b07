# The README's quick start: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint pytest bench clean container-test test-py310 audio-robustness

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Lint, type-check, then the whole suite.
test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint docker/Dockerfile

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The audio watermark's full robustness table (48 clips of 3-60 s, minutes of CPU); exit 1 below the targets.
audio-robustness: $(STAMP)
	$(BIN)/python bench/audio_robustness.py

# The oldest supported Python (requires-python >= 3.10): the core suite without the Gradio extra.
PY310 ?= python3.10
test-py310:
	$(PY310) -m venv .venv-py310
	.venv-py310/bin/python -m pip install --quiet --upgrade pip
	.venv-py310/bin/python -m pip install --quiet -e ".[fastapi,server,audio]" pytest httpx hypothesis http-sf PyWavelets
	.venv-py310/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/test_gradio.py \
		--ignore=tests/test_gradio_browser.py --ignore=tests/test_examples.py --ignore=tests/test_readme.py

# Builds docker/Dockerfile with buildah on a Debian base made by debootstrap and runs it (root; no Docker engine).
container-test: $(STAMP)
	bash docker/container_test.sh

clean:
	rm -rf $(VENV) .venv-py310 .pytest_cache .mypy_cache .ruff_cache .hypothesis artifacts
