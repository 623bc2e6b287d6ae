"""Developers' tools that are not tests: the Debian packages `make test` installs, headless
Chromium, a live ``compare ui`` driven over HTTP, and the README's screenshot made with them.

Nothing in the harness imports this folder; the Makefile, the tests and developers do.
"""
