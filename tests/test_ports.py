"""Loopback ports: a free one is free, a listening one is taken."""

from __future__ import annotations

import socket

from compare.system.ports import free_port, port_in_use


def test_free_port_is_free_and_a_listening_one_is_not() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert not port_in_use("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use("127.0.0.1", port)
