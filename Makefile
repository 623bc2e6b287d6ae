# Thin wrappers: the logic lives in Python (compare/, project/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv constraints test test-fast lint typecheck system-packages bench report diff locust-ui docker-up docker-down serve-wsgi serve-asgi encode-bench measure-once clean

venv: $(STAMP)

# Re-install whenever pyproject.toml or constraints.txt changes; the exact tested versions.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[dev]'
	touch $(STAMP)

# Pin constraints.txt to what .venv holds now (after a tested upgrade).
constraints: $(STAMP)
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# nginx, chromium and postgresql for the proxy, browser and PostgreSQL tests; without them
# those tests skip.
system-packages: $(STAMP)
	$(BIN)/python -m tests.system_packages

# The whole suite (CI runs this): real servers, nginx, PostgreSQL, locust; the slowest listed.
test: lint typecheck system-packages
	$(BIN)/python -m pytest --durations=15

# What starts no server or load generator (pure, in-process, the CLI's quick paths).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not server"

# make bench QUICK=1 for a short run, FULL=1 for the wide one; BENCH_ARGS='--stacks all' etc.
bench: $(STAMP)
	$(BIN)/python -m compare bench $(if $(QUICK),--quick) $(if $(FULL),--full) $(BENCH_ARGS)

# Re-render report.html and report.md from a results directory (default: the newest run).
report: $(STAMP)
	$(BIN)/python -m compare report $(or $(RESULTS),results/latest)

# make diff OLD=results/A NEW=results/B: exit 1 on a regression, 2 on unusable input (for CI).
diff: $(STAMP)
	$(BIN)/python -m compare diff $(OLD) $(NEW) $(DIFF_ARGS)

# make locust-ui STACKS=gunicorn-gthread,uvicorn PORT=8090 UI_ARGS='-- --rows 1000000'
locust-ui: $(STAMP)
	$(BIN)/python -m compare ui $(if $(STACKS),--stacks $(STACKS)) --port $(or $(PORT),8089) $(UI_ARGS)

serve-wsgi: $(STAMP)
	$(BIN)/python -m compare serve gunicorn-sync --port $(or $(PORT),8000)

serve-asgi: $(STAMP)
	$(BIN)/python -m compare serve uvicorn --port $(or $(PORT),8001)

encode-bench: $(STAMP)
	$(BIN)/python -m compare encode-bench

measure-once: $(STAMP)
	$(BIN)/python -m compare measure-once --repeat 3

COMPOSE := docker compose -f docker/compose.yaml

# Stacks behind nginx + locust UI on http://127.0.0.1:8089/; MORE=1 every stack, WORKERS=N.
docker-up: $(STAMP)
	$(BIN)/python -m compare.nginx docker --check
	$(COMPOSE) $(if $(MORE),--profile more) up --build --detach --scale locust-worker=$(or $(WORKERS),1)

docker-down:
	$(COMPOSE) --profile more down --remove-orphans

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
