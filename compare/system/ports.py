"""Loopback ports: find a free one, tell whether one is taken."""

from __future__ import annotations

import errno
import socket

from compare.errors import CompareError

LOOPBACK = "127.0.0.1"
HIGHEST_PORT = 65535


class AddressError(CompareError):
    """An address this machine cannot bind at all (not a port someone else holds)."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bind(sock: socket.socket, host: str, port: int) -> None:
    """Bind, or raise AddressError when the address itself is the problem."""
    if not 0 <= port <= HIGHEST_PORT:
        raise AddressError(f"port {port} is not a port: give 0 to {HIGHEST_PORT}")
    try:
        sock.bind((host.strip("[]"), port))
    except socket.gaierror as error:
        raise AddressError(f"cannot bind {host}: {error.strerror or error}") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise
        raise AddressError(f"cannot bind {host}:{port}: {error.strerror or error}") from None


def free_port(host: str = LOOPBACK) -> int:
    """Return a port that nothing listens on right now (the kernel picks it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        _bind(sock, host, 0)
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """Tell whether binding ``host:port`` would fail the way a server's bind would (taken); an
    address this machine does not have raises AddressError instead."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port held only by TIME_WAIT sockets is free for them too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            _bind(sock, host, port)
        except OSError:
            return True
        return False
