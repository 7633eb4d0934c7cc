# The README's two commands: `make run` and `make test`. Both set up .venv and var/ only when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DB     := var/creditflow.db

.PHONY: run test setup lint clean

setup: $(STAMP) $(DB)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# init is idempotent: it migrates the schema and redeploys only diagrams whose content changed.
$(DB): $(STAMP) $(wildcard bpmn/*) $(wildcard workflows/migrations/versions/*.py)
	$(BIN)/creditflow init --demo
	touch $(DB)

run: setup
	@echo ""
	@echo "  creditflow: http://127.0.0.1:$${CREDITFLOW_PORT:-5000}   (mail sink at /mail)"
	@echo "  demo logins, password 'demo': sales1 analyst1 manager1 cfo1 collector1 legal1"
	@echo "                                buyer1 pm1 finance1 owner1 admin"
	@echo ""
	$(BIN)/creditflow serve

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check workflows handlers webui tests benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache
