# dockerweb — `make run` starts the product, `make test` checks everything. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
NPM ?= npm
# The dashboard's sources: a build older than any of them is stale.
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html frontend/package.json \
	frontend/package-lock.json frontend/vite.config.ts frontend/tsconfig.json

.PHONY: run install install-dev system-packages test lint typecheck migrations-check pytest bench clean \
	frontend frontend-check api-types

# Runtime environment: locked dependencies, then the project itself without touching them.
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("dockerweb needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.lock
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install frontend
	$(PY) manage.py serve

# The dashboard's npm packages, exactly as package-lock.json pins them (again only when the lock changes).
frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && $(NPM) ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && $(NPM) run build

# Builds the dashboard when it is missing or older than its sources. Without Node.js `make run` still
# works: the server then answers the dashboard's pages with one saying how to build it (API, admin and
# gateway are unaffected).
frontend:
	@if command -v node >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory frontend/dist/index.html; \
	else \
		echo "dockerweb: node/npm not found: the dashboard is not built (install Node.js 20+, then make frontend)"; \
	fi

# Type check, unit tests (Vitest) and the production build of the dashboard.
frontend-check: frontend/node_modules/.package-lock.json
	cd frontend && $(NPM) run typecheck
	cd frontend && $(NPM) test
	cd frontend && $(NPM) run build

# Regenerates frontend/src/api/schema.d.ts from the OpenAPI schema (tests/frontend/test_api_types.py fails
# while it is stale).
api-types: install-dev frontend/node_modules/.package-lock.json
	cd frontend && $(NPM) run api:types

# Debian packages the tests need (dockerd, registry, busybox, socat...), installed when missing and root.
system-packages:
	@scripts/install-system-packages.sh

test: system-packages install-dev lint typecheck migrations-check frontend-check pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy .

migrations-check:
	$(PY) manage.py makemigrations --check --dry-run

pytest:
	$(PY) -m tests $(PYTEST_ARGS)

bench: install-dev
	$(PY) bench/refresh_hosts.py
	$(PY) bench/policy_check.py
	$(PY) bench/containers.py
	$(PY) bench/gateway.py
	$(PY) bench/dashboard.py
	$(PY) bench/images.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache frontend/node_modules frontend/dist
