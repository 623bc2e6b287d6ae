"""The reference download of a user's URL: the length and SHA-256 every cell's bodies must match.

Taken once before the cells, on the run's first stack, so that "the same body on every stack"
is checked by the load generator on every request (loadtests.body.check_own), not assumed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from compare.errors import CompareError
from compare.run.run import Run
from compare.servers.stacks import StackSpec
from compare.system.download import download

REFERENCE_TIMEOUT_S = 300.0  # one read's wait, as locust's --network-timeout


@dataclass(frozen=True)
class Reference:
    """One whole download of a URL: where it was taken and what it returned."""

    url: str
    stack: str
    status: int
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """For the results document."""
        return asdict(self)


def take_reference(run: Run, spec: StackSpec, url: str) -> Reference:
    """Start ``spec`` on the run's target, GET ``url`` once, and stop it."""
    with run.server(spec) as server:
        return fetch_reference(server.base_url, url, spec.name)


def fetch_reference(base_url: str, url: str, stack: str) -> Reference:
    """GET ``url`` once from a running stack; a non-2xx answer is a CompareError (no body to
    hold the others to)."""
    digest = hashlib.sha256()
    got = download(
        base_url + url,
        timeout=REFERENCE_TIMEOUT_S,
        on_piece=lambda _t, piece: digest.update(piece),
    )
    if not 200 <= got.status < 300:
        raise CompareError(f"the reference download of {url} on {stack} got HTTP {got.status}")
    return Reference(url, stack, got.status, got.body_bytes, digest.hexdigest())
