# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_ARGS ?=

.PHONY: demo test test-fast lint format browser-deps bench-env clean

# The extension package first (editable, from its folder), so that the project's requirement on
# ndx-drug-stress is met by this checkout's, not looked for on an index.
$(BIN)/nwb-ketamine: pyproject.toml ndx-drug-stress/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./ndx-drug-stress
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	touch $@

# Simulate -> check -> convert -> validate -> catalog -> explore (DEMO_ARGS=--no-explore stops before serving).
demo: $(BIN)/nwb-ketamine
	$(BIN)/python examples/demo.py $(DEMO_DIR) $(DEMO_ARGS)

# Debian's Chromium for the Playwright browser tests and nginx for the remote-archive tests (a real web
# server with range requests), each installed only when missing.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx >/dev/null)

# ruff (style, imports, docstring rules), mypy (types) and numpydoc (every public function documents its
# parameters) on the package; tests, benchmarks and examples get ruff only.
PACKAGE_DIRS := nwb_ketamine converters explorer schemas ndx-drug-stress/src/pynwb/ndx_drug_stress ndx-drug-stress/src/spec

lint: $(BIN)/nwb-ketamine
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy $(PACKAGE_DIRS)
	$(BIN)/python -m numpydoc lint $$(find $(PACKAGE_DIRS) -name '*.py' | sort)

format: $(BIN)/nwb-ketamine
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: $(BIN)/nwb-ketamine browser-deps lint
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

# The unit tests only (seconds): no conversion of the shared study, no browser, no wheel build.
test-fast: $(BIN)/nwb-ketamine
	$(BIN)/python -m pytest -q -m "not slow and not browser and not realdata" tests/unit tests/analysis tests/test_packaging.py

# NeuroConv for the side-by-side benchmarks, in its own venv (benchmarks/.neuroconv-venv, gitignored): it is
# no dependency of nwb-ketamine, and the benchmarks run it as a subprocess.
bench-env:
	$(PYTHON) benchmarks/neuroconv_env.py

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_DIR) .pytest_cache .ruff_cache
