"""`python -m project ...` is Django's manage.py for this project."""

import importlib
import os
import secrets
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management import execute_from_command_line

from project.envvars import env_bool

SETTINGS = "project.settings"
KEY_ENV = "DJANGO_SECRET_KEY"


def _throwaway_key_by_hand() -> None:
    """From a terminal and without a key, use a random one, as the harness does for each stack.

    migrate and seed_rows sign nothing, so any key will do for them; a script (no terminal)
    still has to set one, as a server must never run with a key it did not choose.
    """
    if os.environ.get(KEY_ENV) or env_bool("DJANGO_DEBUG", False) or not sys.stdin.isatty():
        return
    os.environ[KEY_ENV] = secrets.token_urlsafe(50)
    print(
        f"python -m project: {KEY_ENV} is not set; this command uses a throwaway key "
        "(a session it signs verifies on no server)",
        file=sys.stderr,
    )


def main() -> None:
    """Run a Django management command; a settings error is one line, not a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    if os.environ["DJANGO_SETTINGS_MODULE"] == SETTINGS:
        _throwaway_key_by_hand()
        try:
            importlib.import_module(SETTINGS)
        except (ImproperlyConfigured, ValueError) as error:  # a variable is missing or wrong
            sys.exit(f"python -m project: {error}")
    execute_from_command_line([sys.argv[0], *sys.argv[1:]])


if __name__ == "__main__":
    main()
