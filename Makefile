# Two entry points for a fresh machine: `make demo` and `make test`. Both install what they need
# into .venv first (Python 3.11+ and pip are the only prerequisites).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo up test lint asyncapi bench chaos documents clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jamsos demo

up: $(STAMP)
	$(BIN)/jamsos up

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check services schemas tests
	$(BIN)/mypy

asyncapi: $(STAMP)
	$(BIN)/jamsos asyncapi --out schemas/asyncapi.yaml

documents: $(STAMP)
	$(BIN)/python scripts/render_documents.py

bench: $(STAMP)
	$(BIN)/jamsos bench
	$(BIN)/jamsos bench billing

# The chaos suite at full size (30,000 submissions; JAMSOS_CHAOS_SIZE=reduced or a number).
chaos: $(STAMP)
	JAMSOS_CHAOS_SIZE=$${JAMSOS_CHAOS_SIZE:-full} $(BIN)/pytest -s tests/chaos

clean:
	rm -rf $(VENV) .state .pytest_cache .mypy_cache .ruff_cache
