"""App profiles: which apps and middleware the project runs (DJANGO_APP_PROFILE).

``minimal`` (the default) is the like-for-like comparison: one middleware, native under both
interfaces. ``startproject`` is what ``django-admin startproject`` gives a new Django 5.2
project: its seven middleware and six contrib apps, sessions and auth in the configured
database. Under ASGI every hook of those sync middleware runs through ``sync_to_async``, a
thread hop per hook per request that the minimal profile does not pay; measuring that tax is
this profile's point. project.middleware.interface_middleware stays first in both: it routes
ASGI requests to the async views and checks the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

AppProfile = Literal["minimal", "startproject"]
APP_PROFILES: tuple[AppProfile, ...] = ("minimal", "startproject")
INTERFACE_MIDDLEWARE = "project.middleware.interface_middleware"

# As in django/conf/project_template/project_name/settings.py-tpl (Django 5.2).
STARTPROJECT_APPS = (
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
)
STARTPROJECT_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
STARTPROJECT_TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
STARTPROJECT_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]


@dataclass(frozen=True)
class AppSettings:
    """The settings an app profile decides."""

    name: AppProfile
    installed_apps: list[str]
    middleware: list[str]
    templates: list[dict[str, Any]]
    password_validators: list[dict[str, str]]


def app_profile(raw: str | None) -> AppSettings:
    """The profile named by ``raw`` (empty: minimal); a ValueError names the valid ones."""
    name = (raw or "").strip() or "minimal"
    if name == "minimal":
        return AppSettings("minimal", ["project.export"], [INTERFACE_MIDDLEWARE], [], [])
    if name == "startproject":
        return AppSettings(
            "startproject",
            [*STARTPROJECT_APPS, "project.export"],
            [INTERFACE_MIDDLEWARE, *STARTPROJECT_MIDDLEWARE],
            STARTPROJECT_TEMPLATES,
            STARTPROJECT_PASSWORD_VALIDATORS,
        )
    raise ValueError(f"DJANGO_APP_PROFILE must be one of {', '.join(APP_PROFILES)}, got {name!r}")
