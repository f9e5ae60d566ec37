# The README's two commands: `make run` and `make test`. Both install what they need into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1

.PHONY: install run test bench translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,postgres,redis]'

run: install
	$(BIN)/flask --app wsgi demo
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: install
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (not part of the test suite): installs wrk (Debian) if missing; needs PostgreSQL at 127.0.0.1:5432.
# BENCH_ARGS="--db sqlite --members 500 --lectures 5" for a quick run.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Refresh the message catalogues after changing user-visible text, then fill in the Chinese.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -w 100 -o lecturehub/translations/messages.pot .
	$(BIN)/pybabel update -i lecturehub/translations/messages.pot -d lecturehub/translations --no-fuzzy-matching -w 100
	$(BIN)/pybabel compile -d lecturehub/translations

clean:
	rm -rf $(VENV) instance
