# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch pinned for this machine: 2.13.0 is the CPU build on disk; an unpinned torch pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/optlab lecture --profile quick --out lecture-report

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)  # the tests marked slow (over ~5 s each) left out: a minute or two
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/optimizer_step.py
	$(BIN)/python benchmarks/train_loop.py

clean:
	rm -rf $(VENV) runs lecture-report .pytest_cache
