# The two commands: `make serve` runs DocStore, `make test` runs every check. Both set up
# the system packages and the project's virtual environment first (again only when pyproject.toml or
# scripts/system-packages.sh changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: serve test lint typecheck pytest bench schema clean

$(STAMP): pyproject.toml scripts/system-packages.sh
	@bash scripts/system-packages.sh
	@echo "==> setting up $(VENV) (Python packages from pyproject.toml)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

serve: $(STAMP)  ## run the API, the sweeper and the embedded AWS; GraphiQL at http://127.0.0.1:8000/graphql
	$(BIN)/docstore serve

test: lint typecheck pytest  ## everything CI runs

lint: $(STAMP)
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@echo "==> lint-imports (the layering, [tool.importlinter] in pyproject.toml)"
	@$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	@echo "==> mypy"
	@$(BIN)/mypy

pytest: $(STAMP)
	@echo "==> pytest"
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks; results go in docs/BENCHMARKS.md
	$(BIN)/python -m bench

schema: $(STAMP)  ## write gql/schema.graphql from the code
	$(BIN)/docstore export-schema --output gql/schema.graphql

clean:
	rm -rf $(VENV) docstore-data .mypy_cache .ruff_cache .pytest_cache
