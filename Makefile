# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment and installs what is missing first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-slow lint bench dagster browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Generate a realistic data set, land it, run the warehouse job, print gold numbers.
demo: $(STAMP)
	$(BIN)/dwh demo

## The linters, then the whole test suite (real PostgreSQL, dbt, Dagster, GX); scale tests
## excluded. Test modules run on TEST_WORKERS processes (pytest-xdist), each with its own
## embedded server; a module's tests stay on one worker, so they share its warehouse.
TEST_WORKERS ?= 2
test: $(STAMP) lint browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

## Scale tests, on request.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

## Debian's Chromium, for the test that renders `dwh report` in a real headless browser;
## installed once if missing (the machines reach Debian's registry).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version 2>/dev/null

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project --processes 0 --disable-progress-bar

bench: $(STAMP)
	$(BIN)/dwh bench

dagster: $(STAMP)
	$(BIN)/dwh dagster

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
