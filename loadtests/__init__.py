"""Locust scenarios for the comparison; ``catalog``, ``options`` and ``body`` import no locust."""
