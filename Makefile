# Two commands do all set-up on a fresh machine (Python 3.11, no venv):
#   make demo   create .venv, install levercast, run the main job on the dataset
#   make test   create .venv if missing, then ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest venv clean

# Installs byte-compile (issue 22). These machines, and many containers, set
# PYTHONDONTWRITEBYTECODE=1: nothing is cached at import, so without .pyc files every process
# recompiles pandas, scipy, scikit-learn and MLflow (`import pandas` ~4x slower). uv compiles only
# when asked (--compile-bytecode); pip compiles what it installs, and the compileall step after the
# pip fallback covers anything a failed uv run left behind (compileall and py_compile write .pyc
# whatever PYTHONDONTWRITEBYTECODE says; a file that does not compile is only compiled at import).
# The project's own modules are compiled too: a .pyc is checked against its source's mtime, so an
# edited module is simply recompiled in memory until the next install.
PURELIB = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv installs the stack in seconds (pip takes ~80 s); fall back to pip if uv is unavailable.
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv 2>/dev/null \
	  && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]' \
	  || { $(BIN)/python -m pip install -q --disable-pip-version-check --compile -e '.[dev]' \
	       && { $(BIN)/python -m compileall -q -j0 "$(PURELIB)" >/dev/null || true; }; }
	@$(BIN)/python -m compileall -q -j0 levercast features models markets experiments >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@MLFLOW_DISABLE_TELEMETRY=true $(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' package-dir mapping, so it checks a link tree shaped like the
# installed package: .typecheck/levercast/{__init__.py, features -> ../../features, ...}.
typecheck: $(STAMP)
	@rm -rf .typecheck && mkdir -p .typecheck/levercast
	@for f in levercast/*.py; do ln -s ../../$$f .typecheck/levercast/; done
	@for d in features models markets experiments; do ln -s ../../$$d .typecheck/levercast/$$d; done
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml

pytest: $(STAMP)
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/python -m pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .typecheck
