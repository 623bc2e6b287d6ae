"""``compare check``'s verdict from one request's evidence: streams, buffered or failed, and why.

The rule (docs/own-project.md states it) must hold for small bodies too, where the arrival
timeline cannot tell: a body that fits the socket buffers arrives at once, streamed or not. So
it rests on what the server side saw, in this order:

1. no HTTP answer, or a status of 400 or more: ``failed``;
2. Django's own warning that it consumed an iterator whole (a sync iterator under ASGI, an async
   one under WSGI), or the wrapper seeing Django hand over a whole body (an ``HttpResponse``, or
   a streamed one a middleware read whole) or an async iterator to a WSGI server: ``buffered``;
3. the stack's memory growing during the response by half the body or more, for a body of at
   least MEMORY_EVIDENCE_BYTES (below that, interpreter noise is as large): ``buffered``;
4. Django handing over an iterator or a file: ``streams``; with no word from the wrapper, a
   chunked answer read in more than one piece: ``streams``; anything else: ``buffered``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from compare.results import MB

Word = Literal["streams", "buffered", "failed"]
MEMORY_EVIDENCE_BYTES = int(4 * MB)
MEMORY_SHARE = 0.5

SYNC_UNDER_ASGI = "must consume synchronous iterators"
ASYNC_UNDER_WSGI = "must consume asynchronous iterators"

ADVICE_SYNC_UNDER_ASGI = (
    "sync iterator under ASGI: Django reads it whole in a thread before sending a byte; return "
    "an async generator (async for over queryset.aiterator(), or values().aiterator()), or serve "
    "this view with a WSGI stack"
)
ADVICE_ASYNC_UNDER_WSGI = (
    "async iterator under WSGI: Django collects it whole with async_to_sync first; return a sync "
    "generator (queryset.iterator()), or serve this view with an ASGI stack"
)
ADVICE_WHOLE = (
    "Django handed the server one whole body: return a StreamingHttpResponse over a generator; "
    "if the view already does, a middleware or decorator read it whole (one that touches "
    "response.content or joins streaming_content): skip it for streamed responses"
)
ADVICE_FILE_UNDER_ASGI = (
    "a FileResponse is a sync iterator: under ASGI Django reads the file whole; serve files from "
    "nginx (X-Accel-Redirect) or a WSGI stack, or stream it from an async generator"
)
ADVICE_MEMORY = (
    "the server's memory grew with the body: something between the view and the socket holds "
    "it (a middleware, the server's own buffering)"
)
ADVICE_NGINX = (
    "nginx buffers in front (proxy_buffering on): a slow client is spooled by nginx, to a temp "
    "file past its buffers, while the worker runs ahead; in your nginx, X-Accel-Buffering: no on "
    "this response (unless proxy_ignore_headers lists it, as this stack does) or proxy_buffering "
    "off for its location streams end to end"
)


@dataclass(frozen=True)
class Evidence:
    """What one request to one URL on one stack showed."""

    url: str
    stack: str
    interface: str
    front: str | None
    status: int | None  # None: no HTTP answer at all
    error: str | None
    headers: dict[str, str] = field(default_factory=dict)
    ttfb_s: float | None = None
    ttlb_s: float | None = None
    body_bytes: int = 0
    body_sha256: str = ""
    reads: int = 0  # the client's reads that returned data
    timeline: tuple[tuple[float, int], ...] = ()  # (seconds since the request, bytes so far)
    peak_increase_bytes: int | None = None  # None: the kernel's marks were unreadable
    body_kind: str | None = None  # the wrapper's word: iterator, file, whole, async-iterator
    warnings: tuple[str, ...] = ()
    hangup_stops_work: bool | None = None
    hangup_note: str = ""


@dataclass(frozen=True)
class Verdict:
    """A check's word on one (url, stack), the reasons behind it and what to change."""

    word: Word
    reasons: tuple[str, ...]
    advice: tuple[str, ...]

    @property
    def streams(self) -> bool:
        """True only for ``streams``."""
        return self.word == "streams"


def judge(evidence: Evidence) -> Verdict:
    """Apply the module's rule to one request's evidence."""
    e = evidence
    notes = (ADVICE_NGINX,) if e.front == "nginx-buffered" else ()
    if e.status is None or e.status >= 400:
        what = e.error or f"HTTP {e.status}"
        hint = ("the view failed: its traceback is among the warnings",) if e.warnings else ()
        return Verdict("failed", (what,), hint)
    joined = "\n".join(e.warnings)
    reasons: list[str] = []
    advice: list[str] = []
    if SYNC_UNDER_ASGI in joined:
        reasons.append("Django warned that it consumed a sync iterator whole under ASGI")
        # A generator has no length to announce; a FileResponse has its file's.
        sized = "content-length" in e.headers
        advice.append(ADVICE_FILE_UNDER_ASGI if sized else ADVICE_SYNC_UNDER_ASGI)
    if ASYNC_UNDER_WSGI in joined or e.body_kind == "async-iterator":
        reasons.append("Django collected an async iterator whole under WSGI")
        advice.append(ADVICE_ASYNC_UNDER_WSGI)
    if e.body_kind == "whole":
        reasons.append("Django handed the server a whole body, not an iterator")
        advice.append(ADVICE_WHOLE)
    grew = e.peak_increase_bytes or 0
    if e.body_bytes >= MEMORY_EVIDENCE_BYTES and grew >= MEMORY_SHARE * e.body_bytes:
        reasons.append(f"memory grew {grew / MB:.1f} MB for a {e.body_bytes / MB:.1f} MB body")
        if not advice:
            advice.append(ADVICE_MEMORY)
    if reasons:
        return Verdict("buffered", tuple(reasons), (*advice, *notes))
    if e.body_kind in ("iterator", "file"):
        return Verdict("streams", (f"Django handed the server {_kind(e.body_kind)}",), notes)
    chunked = e.headers.get("transfer-encoding", "").lower() == "chunked"
    if e.body_kind is None and chunked and e.reads > 1:
        return Verdict("streams", ("a chunked body read in several pieces",), notes)
    return Verdict("buffered", ("no evidence that the body was sent as it was made",), notes)


def _kind(kind: str) -> str:
    return "an iterator" if kind == "iterator" else "a file to send as it reads it"


def as_json(evidence: Evidence, verdict: Verdict) -> dict[str, Any]:
    """One (url, stack) as ``check --json`` prints it; the issue's keys first."""
    e = evidence
    return {
        "url": e.url,
        "stack": e.stack,
        "interface": e.interface,
        "status": e.status,
        "verdict": verdict.word,
        "streams": verdict.streams,
        "ttfb_ms": _ms(e.ttfb_s),
        "ttlb_ms": _ms(e.ttlb_s),
        "body_bytes": e.body_bytes,
        "peak_increase_mb": (
            None if e.peak_increase_bytes is None else round(e.peak_increase_bytes / MB, 2)
        ),
        "hangup_stops_work": e.hangup_stops_work,
        "warnings": list(e.warnings),
        "advice": list(verdict.advice),
        "reasons": list(verdict.reasons),
        "evidence": {
            "body_handed_over_as": e.body_kind,
            "transfer_encoding": e.headers.get("transfer-encoding"),
            "content_length": e.headers.get("content-length"),
            "reads": e.reads,
            "timeline_ms_bytes": [[round(t * 1000, 1), n] for t, n in e.timeline],
            "hangup": e.hangup_note,
            "body_sha256": e.body_sha256,
            "error": e.error,
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def table(rows: list[tuple[Evidence, Verdict]]) -> str:
    """The human output: one line per (url, stack), then each piece of advice once."""
    head = (
        "url",
        "stack",
        "status",
        "verdict",
        "ttfb ms",
        "ttlb ms",
        "body MB",
        "mem +MB",
        "hang-up",
    )
    lines = [head]
    for e, v in rows:
        grew = "-" if e.peak_increase_bytes is None else f"{e.peak_increase_bytes / MB:.1f}"
        hang = {True: "stops", False: "runs on", None: "-"}[e.hangup_stops_work]
        lines.append(
            (
                e.url,
                e.stack,
                str(e.status or "-"),
                v.word,
                _cell(e.ttfb_s),
                _cell(e.ttlb_s),
                f"{e.body_bytes / MB:.1f}",
                grew,
                hang,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    for e, v in rows:
        if v.word == "streams" and not v.advice:
            continue
        text.append("")
        text.append(f"{e.url} on {e.stack}: {v.word} ({'; '.join(v.reasons)})")
        text += [f"  warning: {w}" for w in e.warnings[:5]]
        text += [f"  advice: {a}" for a in v.advice]
    return "\n".join(text)


def _cell(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"
