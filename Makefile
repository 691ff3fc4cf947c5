# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/agentos: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: demo test test-fast
demo: $(BIN)/agentos
	$(BIN)/agentos demo --dir demo

test: $(BIN)/agentos
	$(BIN)/python -m pytest

# The core suite, without the real-project corpus, the real-component tests and the slow
# many-process ones.
test-fast: $(BIN)/agentos
	$(BIN)/python -m pytest -m "not corpus and not real_component and not slow"
