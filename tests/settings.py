"""Settings for in-process tests: the project's own, with a test key and test hosts."""

import os

# project.settings reads the environment when imported; tests never depend on the shell's.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost,[::1]")

from project.settings import *  # noqa: F403
