"""`python -m project ...` is Django's manage.py for this project."""

import os
import sys

from django.core.management import execute_from_command_line


def main() -> None:
    """Run a Django management command."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    execute_from_command_line([sys.argv[0], *sys.argv[1:]])


if __name__ == "__main__":
    main()
