"""Developers' tools that are not tests: the Debian packages `make test` installs, headless
Chromium, a live ``compare ui`` driven over HTTP, the README's screenshot made with them, and an
independent slow-reader client to hold slow-client's figures against.

Nothing in the harness imports this folder; the Makefile, the tests and developers do.
"""
