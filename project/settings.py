"""Django settings, read from environment variables only (same settings for every stack)."""

from __future__ import annotations

import os
from pathlib import Path

from project.dburl import database_from_url
from project.envvars import env_bool, env_int
from project.profiles import app_profile

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("DJANGO_DATA_DIR", BASE_DIR / "data"))

DEBUG = env_bool("DJANGO_DEBUG", False)
# Without a key from the environment only DEBUG may fall back to an insecure development key.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "insecure-development-key-set-DJANGO_SECRET_KEY" if DEBUG else ""
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY (any long random string; DJANGO_DEBUG=1 for a development key)."
    )

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]

# minimal (default): only middleware that runs natively under both WSGI and ASGI, since a
# sync-only one would put a thread hop in front of every ASGI request and make the comparison
# unfair. startproject: what a new project runs, to measure that very cost (project.profiles).
APP_PROFILE = app_profile(os.environ.get("DJANGO_APP_PROFILE"))
INSTALLED_APPS = APP_PROFILE.installed_apps
MIDDLEWARE = APP_PROFILE.middleware
TEMPLATES = APP_PROFILE.templates
AUTH_PASSWORD_VALIDATORS = APP_PROFILE.password_validators
STATIC_URL = "static/"

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

# Security headers, set by project.middleware on both interfaces (see its docstring). TLS ends at
# the proxy in front (nginx); HSTS is on once DJANGO_SECURE_HSTS_SECONDS says the site is HTTPS.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SILENCED_SYSTEM_CHECKS = [
    # SecurityMiddleware and XFrameOptionsMiddleware: project.middleware sets their headers
    # natively under both interfaces instead (they would add a thread hop under ASGI only).
    "security.W001",
    "security.W002",
    # CSRF: every view is GET/HEAD only (require_safe); there is no state-changing request.
    "security.W003",
]

EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 50_000_000)
# mode=buffered and mismatched iterators hold the whole body in memory: about 0.6 GB at 5M rows
# (the bench's largest sweep size), where 50M would take 6 GB per request.
EXPORT_MAX_BUFFERED_ROWS = env_int("EXPORT_MAX_BUFFERED_ROWS", 5_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "project": {
            "handlers": ["stderr"],
            "level": os.environ.get("EXPORT_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        # Django sends a 500's traceback here, and by default on to handlers that drop it
        # unless DEBUG is on (and mail_admins, with no admins): an error nobody would see.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
