# Thin wrappers: the logic lives in Python (compare/, project/). `make help` lists the targets:
# each one's `## ` comment is its line there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv constraints test test-fast lint typecheck system-packages bench report diff locust-ui docker-up docker-down serve-wsgi serve-asgi encode-bench measure-once clean

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## .venv with the exact tested versions (constraints.txt)

# Re-install whenever pyproject.toml or constraints.txt changes. The .pth file makes `locust -f
# loadtests/locustfile.py --help` list the project's options (loadtests/helphook.py says why).
$(STAMP): pyproject.toml constraints.txt loadtests/helphook.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[dev]'
	$(BIN)/python -c "from loadtests.helphook import write_pth; print('wrote', write_pth())"
	touch $(STAMP)

constraints: $(STAMP) ## pin constraints.txt to what .venv holds (after a tested upgrade)
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy, strict, on project, compare, loadtests and tests
	$(BIN)/mypy

# Without nginx, chromium or postgresql the tests that need them skip.
system-packages: $(STAMP) ## install the Debian packages some tests need, where possible
	$(BIN)/python -m compare.dev.system_packages

# Two passes: the tests that measure nothing share the cores (pytest-xdist, one worker more than
# the CPUs (tests/conftest.py), one module per worker, so a module's servers start once); those
# that assert a time, rate, CPU or memory figure (marker serial) then run alone. Each pass lists
# its 15 slowest.
test: lint typecheck system-packages ## everything CI runs: lint, mypy, every test; the slowest listed
	$(BIN)/python -m pytest -m "not serial" --numprocesses auto --dist loadscope --durations=15
	$(BIN)/python -m pytest -m serial --durations=15

test-fast: $(STAMP) ## the tests that start no server or load generator (under a minute)
	$(BIN)/python -m pytest -m "not server"

bench: $(STAMP) ## the comparison, ending in a report; QUICK=1, FULL=1, BENCH_ARGS='--stacks all'
	$(BIN)/python -m compare bench $(if $(QUICK),--quick) $(if $(FULL),--full) $(BENCH_ARGS)

# Without RESULTS, compare report picks the newest run itself (results/latest, or DSC_OUT's).
report: $(STAMP) ## re-render report.html and report.md of RESULTS (default the newest run)
	$(BIN)/python -m compare report $(RESULTS)

diff: $(STAMP) ## OLD=results/A NEW=results/B: exit 1 on a regression, 2 on unusable input
	@test -n "$(OLD)" && test -n "$(NEW)" || { echo "make diff compares two runs:" \
	    "make diff OLD=results/A NEW=results/B (results/latest is the newest run)" >&2; exit 2; }
	$(BIN)/python -m compare diff $(OLD) $(NEW) $(DIFF_ARGS)

locust-ui: $(STAMP) ## stacks and the locust web UI; STACKS=a,b PORT=8090 UI_ARGS='-- --rows 1000000'
	$(BIN)/python -m compare ui $(if $(STACKS),--stacks $(STACKS)) --port $(or $(PORT),8089) $(UI_ARGS)

serve-wsgi: $(STAMP) ## gunicorn-sync in the foreground on PORT (default 8000)
	$(BIN)/python -m compare serve gunicorn-sync --port $(or $(PORT),8000)

serve-asgi: $(STAMP) ## uvicorn in the foreground on PORT (default 8001)
	$(BIN)/python -m compare serve uvicorn --port $(or $(PORT),8001)

encode-bench: $(STAMP) ## rows/s of the row source and chunker, in-process and through each server
	$(BIN)/python -m compare encode-bench

measure-once: $(STAMP) ## one download per installed server, measured as the size sweep does
	$(BIN)/python -m compare measure-once --repeat 3

COMPOSE := docker compose -f docker/compose.yaml

docker-up: $(STAMP) ## stacks behind nginx and the locust UI in docker; MORE=1 every stack, WORKERS=N
	$(BIN)/python -m compare.servers.nginx docker --check
	$(COMPOSE) $(if $(MORE),--profile more) up --build --detach --scale locust-worker=$(or $(WORKERS),1)

docker-down: ## stop what docker-up started
	$(COMPOSE) --profile more down --remove-orphans

clean: ## remove .venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
