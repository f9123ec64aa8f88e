# dockerweb — `make run` starts the product, `make test` checks everything. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run install install-dev system-packages test lint typecheck migrations-check pytest bench clean

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

run: install
	$(PY) manage.py serve

# Debian packages the tests need (dockerd, registry, busybox, socat...), installed when missing and root.
system-packages:
	@scripts/install-system-packages.sh

test: system-packages install-dev lint typecheck migrations-check pytest

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

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
