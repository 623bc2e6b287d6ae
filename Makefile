# Thin wrappers: the logic lives in Python (compare/, project/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck serve-wsgi serve-asgi encode-bench clean

venv: $(STAMP)

# Re-install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

serve-wsgi: $(STAMP)
	$(BIN)/python -m compare serve gunicorn-sync --port $(or $(PORT),8000)

serve-asgi: $(STAMP)
	$(BIN)/python -m compare serve uvicorn --port $(or $(PORT),8001)

encode-bench: $(STAMP)
	$(BIN)/python -m compare.encode_bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
