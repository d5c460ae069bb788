# Quorum — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast serve migrate demo browser lint clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0

demo: migrate
	$(PY) manage.py demo --url http://$(HOST):$(PORT)

# The background worker `make run` starts beside the server: RQ's with REDIS_URL, else the one
# that runs the tasks waiting in the database (none with QUORUM_TASKS=immediate).
ifdef REDIS_URL
WORKER ?= rqworker default --job-class django_tasks_rq.Job
else ifeq ($(QUORUM_TASKS),immediate)
WORKER ?=
else
WORKER ?= db_worker --no-reload
endif

## make run: set up, migrate, load the demo project and serve at http://127.0.0.1:8000, with the
## background worker beside the server. Ctrl-C (or SIGTERM to make) stops both: the server at
## once, the worker after the task it is running (Ctrl-C again: at once). The worker runs in its
## own process group, so the terminal's Ctrl-C reaches it only through the trap, once.
run: demo
	@trap 'stop=1; kill -TERM $$server $$worker 2>/dev/null' INT TERM; \
	if [ -n "$(strip $(WORKER))" ]; then \
	  $(PY) -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
	    $(PY) manage.py $(WORKER) & worker=$$!; \
	fi; \
	$(PY) manage.py runserver $(HOST):$(PORT) & server=$$!; \
	while kill -0 $$server 2>/dev/null; do wait $$server; done; \
	if [ -n "$$worker" ]; then \
	  [ -n "$$stop" ] || kill -TERM $$worker 2>/dev/null; \
	  while kill -0 $$worker 2>/dev/null; do wait $$worker; done; \
	fi

# Browser tests drive Debian's Chromium; install it if this machine lacks it (needs root).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Chromium at $(CHROMIUM): sudo apt-get install -y chromium" >&2; exit 1; fi; }

## make test: the whole suite on the embedded default (SQLite, in-memory channels, immediate tasks)
# pytest's exit 5 (no tests collected) counts as a failure.
test: $(STAMP) browser
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not postgres and not redis" $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) media db.sqlite3 staticfiles test-artifacts
