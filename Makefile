# Every target that needs the project creates .venv when missing and installs into it,
# so `make run` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench format docs schema clean

# Set-up steps are silent (@) so that `make bench` prints nothing but its JSON on stdout.
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip 1>&2

$(STAMP): $(BIN)/python pyproject.toml
	@$(BIN)/python -m pip install --quiet -e '.[dev]' 1>&2
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term

# The heavy randomized runs (thousands of Raft fault schedules, 10,000-agent rounds).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[bench]' 1>&2
	@$(BIN)/python -m benchmarks

# The documentation site, into site/; strict: a broken link or reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The JSON Schema of scenario files, generated from the msgspec types (a test checks it is current).
schema: $(STAMP)
	$(BIN)/python -m mabeam schema > docs/scenario.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
