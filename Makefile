# Office AI: `make run` starts the embedded default; `make test` runs lint, types and the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_PORT ?= 8001
SERVE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/officeai_serve
SERVE_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run serve smoke test lint typecheck deploycheck pytest jstest install install-dev system-deps messages clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

messages: $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore '.venv' -v 0

## run: install, migrate, seed the demo tenants and serve http://127.0.0.1:8000 (SQLite, in-memory layer, eager Celery)
run: install messages
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

## serve: the production topology here (Procfile): 2 daphne processes on SERVE_PORT and SERVE_PORT+1, a Celery
## worker and beat, on this machine's PostgreSQL and Redis; metrics summed over the processes (var/prometheus)
serve: install-dev messages
	$(PY) -m config.ensure_database "$(SERVE_DATABASE_URL)"
	rm -rf var/prometheus && mkdir -p var/prometheus
	export DATABASE_URL="$(SERVE_DATABASE_URL)" REDIS_URL="$(SERVE_REDIS_URL)" PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/prometheus" \
	  DJANGO_DEBUG=false DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-serve-local-only-not-secret-$$(whoami)-0123456789abcdef}" \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	  $(PY) manage.py migrate --no-input -v 0 && $(PY) manage.py seed_demo && \
	  $(PY) manage.py collectstatic --no-input -v 0 && \
	  exec honcho start -f Procfile -c web=2 -p $(SERVE_PORT)

## smoke: the run command on a fresh clone of HEAD (runtime requirements only), then a sign-in and a websocket chat
smoke: install-dev
	bash .ci/smoke

# Debian packages the tests drive: Chromium for browser tests, gettext for the catalogue checks, Node.js for the
# chat page's module tests.
system-deps:
	@need=""; [ -x /usr/bin/chromium ] || need="$$need chromium"; command -v msgfmt >/dev/null || need="$$need gettext"; \
	command -v node >/dev/null || need="$$need nodejs"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q $$need; \
	  else sudo apt-get update -q && sudo apt-get install -y -q $$need; fi; fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install-dev
	$(VENV)/bin/mypy .

# Production settings with dummy values must pass Django's deployment checks.
deploycheck: install-dev
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY="$$(head -c 48 /dev/urandom | base64)" \
	  DATABASE_URL=postgres://u@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/0 ALLOWED_HOSTS=ai.example.com \
	  FIELD_ENCRYPTION_KEYS="$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	  AUDIT_HMAC_KEYS="k1:$$(head -c 48 /dev/urandom | base64 | tr -d '\n')" AUDIT_DIGEST_KEY="$$(head -c 32 /dev/urandom | base64)" \
	  $(PY) manage.py check --deploy --fail-level WARNING

pytest: install-dev system-deps messages
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Unit tests of the chat page's ES modules (static/js/chat/): offsets and gaps, streaming Markdown, state.
jstest: system-deps
	node --test tests/js/

## test: install what tests need, then lint, type check, deploy check, the JavaScript unit tests and the whole suite
test: install-dev system-deps messages lint typecheck deploycheck jstest pytest

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .mypy_cache .ruff_cache .pytest_cache
