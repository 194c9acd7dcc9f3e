# The commands the README shows. Everything runs from the project's own .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-postgres lint bench bench-render bench-poll bench-scale bench-dashboard contact-sheet screenshots translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/signage serve --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# The same suite on PostgreSQL; POSTGRES_URL names a role that may create databases (.ci/run makes one).
test-postgres: $(VENV)/.installed-test
	SIGNAGE_TEST_POSTGRES_URL="$(POSTGRES_URL)" $(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: bench-render bench-poll bench-scale

bench-render: $(VENV)/.installed
	$(BIN)/python bench/bench_render.py

# The console's home page: median of 20 loads on the demo network and on the demo plus 1,000 generated screens.
bench-dashboard: $(VENV)/.installed
	$(BIN)/python bench/bench_dashboard.py

# Needs wrk (Debian's package): installed here when missing, as root on Debian.
bench-poll: $(VENV)/.installed
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python bench/bench_poll.py

# After changing any text a person reads: refresh the catalogue, translate the new entries in the .po, run it
# again. Refusals are extracted from the error classes' first argument (IngestError's second): renderer/errors.py.
ERROR_KEYWORDS := -k N_ -k Problem -k RenderError -k RuleError -k ContentError -k ContentNotFound -k ResolveError \
	-k ScreenError -k PairingError -k UserError -k StoreError -k StatsError -k ExportError -k ExportNotFound \
	-k ReportError -k TooManyPairings -k ClaimThrottled -k IngestError:2
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F server/babel.cfg -k _l $(ERROR_KEYWORDS) --no-location --omit-header -o server/translations/messages.pot .
	$(BIN)/pybabel update -i server/translations/messages.pot -d server/translations
	$(BIN)/pybabel compile -d server/translations

# 10,000 screens built through the staff API, a cold start, 120 s of steady drive with edits: on SQLite, then on
# a fresh database of the local PostgreSQL cluster (skipped, saying so, when none answers). Needs wrk and nginx.
bench-scale: $(VENV)/.installed
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	@command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)
	$(BIN)/python bench/bench_scale.py $(BENCH_SCALE_ARGS)
	$(BIN)/python bench/bench_scale.py --postgres $(BENCH_SCALE_ARGS)

# The README's pictures of the console (docs/screenshots/): the demo network in Chromium (needs the test extra).
screenshots: $(VENV)/.installed-test
	$(BIN)/python docs/screenshots.py

contact-sheet: $(VENV)/.installed
	$(BIN)/python -m renderer.sheet docs/contact-sheet.png

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
