"""`python -m project seed_session [USERNAME]`: a logged-in session for load tests."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model, login
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError
from django.http import HttpRequest

DEFAULT_USERNAME = "bench"


class Command(BaseCommand):
    """Create (or reuse) a user, log it in with Django's own login(), print the session key."""

    help = "Create or reuse USERNAME, log it in, and print the session key (the sessionid cookie)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", nargs="?", default=DEFAULT_USERNAME)

    def handle(self, *args: Any, **options: Any) -> None:
        if not apps.is_installed("django.contrib.sessions"):
            raise CommandError("sessions are not installed: set DJANGO_APP_PROFILE=startproject")
        user, created = get_user_model()._default_manager.get_or_create(
            username=options["username"]
        )
        if created:
            user.set_unusable_password()  # logged in by session only; no password to guess
            user.save()
        # What a login view does: the session records the user, its backend and its hash.
        request = HttpRequest()
        request.session = SessionStore()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session.save()
        self.stdout.write(request.session.session_key or "")
