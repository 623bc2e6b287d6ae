"""Raw HTTP/1.x over a socket, so tests see the exact framing a server sends."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    """A response as bytes on the wire: status line, headers (lower-case names), raw body."""

    status_line: str
    headers: dict[str, str]
    raw_body: bytes

    @property
    def status(self) -> int:
        """The numeric status code."""
        return int(self.status_line.split()[1])


def raw_request(
    host: str,
    port: int,
    target: str,
    method: str = "GET",
    version: str = "HTTP/1.1",
    timeout: float = 60,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Send one request with Connection: close and read until the server closes."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = (
        f"{method} {target} {version}\r\nHost: {host}:{port}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        data = bytearray()
        while chunk := sock.recv(256 * 1024):
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    received: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        received[name.strip().lower()] = value.strip()
    return RawResponse(lines[0], received, body)


def dechunk(raw: bytes) -> tuple[bytes, int]:
    """Decode a chunked body strictly; return the payload and the number of data chunks."""
    payload = bytearray()
    chunks = 0
    position = 0
    while True:
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";")[0], 16)
        position = line_end + 2
        if size == 0:
            # Last chunk, no trailers: exactly one CRLF must end the body.
            if raw[position:] != b"\r\n":
                raise ValueError(f"bad chunked ending: {raw[position : position + 20]!r}")
            return bytes(payload), chunks
        chunk = raw[position : position + size]
        if len(chunk) != size or raw[position + size : position + size + 2] != b"\r\n":
            raise ValueError(f"chunk {chunks} is cut short or misframed at byte {position}")
        payload += chunk
        chunks += 1
        position += size + 2
