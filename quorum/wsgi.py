"""WSGI entry point, for serving the HTTP API with a sync server (gunicorn) at scale."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quorum.settings")
# A WSGI worker thread serves one request after another, so its SQLite connection can outlive a
# request (see the settings; never under ASGI). Set before the settings are read.
os.environ.setdefault("QUORUM_SQLITE_CONN_MAX_AGE", "600")
application = get_wsgi_application()
