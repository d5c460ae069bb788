"""WSGI entry point, for serving the HTTP API with a sync server (gunicorn) at scale."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quorum.settings")
application = get_wsgi_application()
