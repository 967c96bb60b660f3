"""The SSH probe before the steps, against loopback listeners that stand in for the servers
it must tell apart (the real sshd answers it in every host suite's `up`)."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from clients.ssh_greeting import silent_server

KEXINIT_PACKET = struct.pack(">IBB", 12, 10, 20) + b"\0" * 10


def listener(answer: bytes | None, *, close: bool = False) -> int:
    """A server on loopback that, to each connection, sends `answer` (None: nothing) and then
    stays silent, or closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        held = []
        while True:
            connection, _ = server.accept()
            if answer is not None:
                connection.sendall(answer)
            if close:
                connection.close()
            else:
                held.append(connection)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_a_server_that_accepts_and_never_speaks_is_named_within_its_tries():
    started = time.monotonic()
    problem = silent_server("127.0.0.1", listener(None), timeout=1, tries=2)
    assert 2 <= time.monotonic() - started < 4
    assert problem.startswith("127.0.0.1:") and "sent no SSH greeting within 1 s, 2 times" in problem
    assert "No step was started" in problem


def test_a_greeting_without_a_key_exchange_is_named_too():
    problem = silent_server("127.0.0.1", listener(b"SSH-2.0-OpenSSH_9.2\r\n"), timeout=1, tries=1)
    assert "sent no key-exchange packet within 1 s" in problem


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH_9.2\r\n" + KEXINIT_PACKET, b"a banner line first\r\nSSH-2.0-OpenSSH_9.2\r\n" + KEXINIT_PACKET],
)
def test_a_server_that_speaks_ssh_passes(answer):
    assert silent_server("127.0.0.1", listener(answer), timeout=2, tries=1) is None


def test_what_does_not_hang_is_left_to_the_steps_to_report():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = unused.getsockname()[1]
    assert silent_server("127.0.0.1", refused, timeout=1, tries=3) is None
    assert silent_server("127.0.0.1", listener(None, close=True), timeout=1, tries=3) is None
