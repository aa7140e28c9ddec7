# The two commands of the README: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Join links, the allowed Origin and printed logins follow the address `make run` serves on.
export PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: run test venv migrate demo lint bench soak recovery clean translations catalogs

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed catalogs

# Translations (Flask-Babel). The msgids are Danish, the source language; English is a catalog.
# Compiled catalogs (.mo) are not in git: every target that needs the venv compiles them first
# (and again whenever a .po changes), so `make run` and `make test` on a fresh clone have them.
# `make translations` re-extracts every marked string, merges it into the catalogs and compiles;
# then translate what tests/test_i18n.py reports as missing, and run it again.
LOCALES := en
CATALOGS := $(foreach l,$(LOCALES),translations/$(l)/LC_MESSAGES/messages.mo)
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel -q compile -d translations -l $*

catalogs: $(CATALOGS)

translations: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --sort-by-file \
		--project Samskab --copyright-holder Samskab -o translations/messages.pot .
	$(foreach l,$(LOCALES),$(BIN)/pybabel -q update -i translations/messages.pot -d translations \
		-l $(l) --no-fuzzy-matching --ignore-obsolete;)
	$(BIN)/pybabel -q compile -d translations --statistics

migrate: venv
	$(BIN)/flask --app workshop db upgrade

demo: migrate
	$(BIN)/flask --app workshop demo --if-empty

# The real server: gunicorn with one gevent worker (Flask-SocketIO needs -w 1 per process).
run: demo
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl+C stops)"
	$(BIN)/gunicorn --worker-class gevent --workers 1 --worker-connections 10000 \
		--bind $(HOST):$(PORT) 'workshop.wsgi:app'

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check workshop tests bench

# The load benchmark of issue 6 (not part of the test suite): see bench/README.md.
# Options through BENCH_ARGS, e.g. `make bench BENCH_ARGS=--quick`.
$(BIN)/.bench-installed: bench/requirements.txt $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: venv $(BIN)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The soak run of issue 7 (not part of the test suite): 300 participants, 10 minutes of mixed
# activity, the server's memory sampled every second; see bench/README.md ("Soak").
# Options through SOAK_ARGS, e.g. `make soak SOAK_ARGS="--participants 50 --minutes 1"`.
soak: venv $(BIN)/.bench-installed
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# How soon everyone is back after the only server is killed (issue 7; not part of the test
# suite); see bench/README.md ("Recovery"). Options through RECOVERY_ARGS.
recovery: venv $(BIN)/.bench-installed
	$(BIN)/python bench/recovery.py $(RECOVERY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-output
