# Two commands do everything on a fresh machine:
#   make demo   - create .venv, install, run configs/default.yaml on data_samples/ into out/
#   make test   - create .venv, install, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# `make test EXTRAS=test,transformers` also runs the encoder scorer's tests (torch, ~1 GB;
# +~2 min of install and tests, which CI's time budget does not hold: they skip there)
EXTRAS ?= test

.PHONY: demo test bench lint clean chromium

$(STAMP): pyproject.toml setup.py codesieve/core/_kernels.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	@# bytecode of the checkout's modules (an editable install has none; without it every
	@# process, each Ray worker too, compiles them, ~0.3 CPU-s, where PYTHONDONTWRITEBYTECODE is set)
	$(BIN)/python -m compileall -q codesieve pipeline filters scorers configs
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/codesieve run --config default --input data_samples --output out

test: $(STAMP) chromium
	$(BIN)/pytest -q --durations=20

# headless Chromium for the report's browser test (tests/test_report.py); skipped when unavailable
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium unavailable: the browser test will skip"

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline_speed.py

lint: $(STAMP)
	$(BIN)/ruff check codesieve pipeline filters scorers configs tests benchmarks

clean:
	rm -rf out .pytest_cache
