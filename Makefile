# Two commands do all set-up on a fresh machine (Python 3.11, no venv):
#   make demo   create .venv, install levercast, run the main job on the dataset
#   make test   create .venv if missing, then ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv installs the stack in seconds (pip takes ~80 s); fall back to pip if uv is unavailable.
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv 2>/dev/null \
	  && $(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]' \
	  || $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
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
