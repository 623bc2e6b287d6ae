"""The check's verdict rule on evidence built by hand, and what a user's project's stacks get."""

from __future__ import annotations

import dataclasses

from compare.report.streaming import MEMORY_EVIDENCE_BYTES, Evidence, judge
from compare.servers.server import stack_environment

BASE = Evidence("/x/", "uvicorn", "asgi", None, status=200, error=None, body_bytes=7000)
SYNC_WARNING = (
    "asgi.py:336: Warning: StreamingHttpResponse must consume synchronous iterators in order "
    "to serve them asynchronously. Use an asynchronous iterator instead."
)


def test_a_small_body_is_told_apart_by_what_the_server_saw() -> None:
    # 7 kB arrive in one read either way: the wrapper's word and Django's warning decide.
    streamed = dataclasses.replace(BASE, body_kind="iterator", reads=1)
    assert judge(streamed).word == "streams"
    warned = dataclasses.replace(streamed, warnings=(SYNC_WARNING,))
    verdict = judge(warned)
    assert verdict.word == "buffered"
    assert "async generator" in verdict.advice[0]


def test_a_file_under_asgi_gets_the_file_advice() -> None:
    sized = dataclasses.replace(
        BASE, body_kind="iterator", warnings=(SYNC_WARNING,), headers={"content-length": "7000"}
    )
    assert "FileResponse" in judge(sized).advice[0]


def test_memory_decides_only_for_bodies_above_the_noise() -> None:
    big = MEMORY_EVIDENCE_BYTES * 2
    grown = dataclasses.replace(BASE, body_kind="iterator", body_bytes=big, peak_increase_bytes=big)
    assert judge(grown).word == "buffered"
    small = dataclasses.replace(grown, body_bytes=MEMORY_EVIDENCE_BYTES // 2)
    assert judge(small).word == "streams"


def test_without_the_wrappers_word_a_chunked_body_in_pieces_streams() -> None:
    chunked = {"transfer-encoding": "chunked"}
    assert judge(dataclasses.replace(BASE, headers=chunked, reads=5)).word == "streams"
    assert judge(dataclasses.replace(BASE, headers=chunked, reads=1)).word == "buffered"
    assert judge(dataclasses.replace(BASE, status=500)).word == "failed"
    assert judge(dataclasses.replace(BASE, status=None, error="refused")).word == "failed"


def test_a_buffered_front_adds_its_advice_but_not_its_verdict() -> None:
    fronted = dataclasses.replace(BASE, body_kind="iterator", front="nginx-buffered")
    verdict = judge(fronted)
    assert verdict.word == "streams" and "X-Accel-Buffering" in verdict.advice[0]


def test_a_users_settings_keep_their_django_variables() -> None:
    mine = {"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "shop.example", "PATH": "/bin"}
    env = stack_environment(mine, {"DJANGO_SETTINGS_MODULE": "shop.settings"})
    assert env["DJANGO_DEBUG"] == "1" and env["DJANGO_ALLOWED_HOSTS"] == "shop.example"
    assert env["DJANGO_SETTINGS_MODULE"] == "shop.settings"
    ours = stack_environment(mine)
    assert "DJANGO_DEBUG" not in ours and ours["DJANGO_SETTINGS_MODULE"] == "project.settings"
