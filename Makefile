# Two commands for a fresh machine: `make demo` and `make test`.
# Both create the virtual environment (.venv) themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCALES := iportal/web/locale
STAMP := $(VENV)/.installed

.PHONY: demo test lint messages serve worker migrate bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/iportal demo

serve: $(STAMP)
	$(BIN)/iportal serve

worker: $(STAMP)
	$(BIN)/iportal worker

migrate: $(STAMP)
	$(BIN)/iportal migrate

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict iportal/

# Extract every translatable string and merge it into the nl, fr and de catalogues.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --project=iportal \
		-o $(LOCALES)/messages.pot .
	$(BIN)/pybabel -q update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/login.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/documents.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts
