"""Settings of the test project: no database, no apps, a middleware that buffers one path."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-project-not-secret"  # a test project, served on loopback only
DEBUG = False
ALLOWED_HOSTS: list[str] = []  # the harness adds loopback names, nothing else
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["shop.middleware.BufferingMiddleware"]
ROOT_URLCONF = "shop.urls"
# A database the harness must never create, migrate or write (tests/test_check.py looks).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"
USE_TZ = True
