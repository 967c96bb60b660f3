"""Whether an SSH server answers before the steps dial it. pulumi-command's
`perDialTimeout` bounds only the TCP connect (x/crypto/ssh's ClientConfig.Timeout): a host
that accepts and never speaks (a tarpit, a wedged sshd, a firewall that half-opens) would
hold every step, and so `pulumi up`, without end. This asks for what the provider will
wait on, the server's greeting and its first key-exchange packet, each within the timeout."""

from __future__ import annotations

import socket
import time

GREETING = b"SSH-2.0-pactus-secure-probe\r\n"
KEXINIT = 20  # SSH_MSG_KEXINIT, the first packet a server sends (RFC 4253, 7.1)


def silent_server(host: str, port: int, *, timeout: float, tries: int) -> str | None:
    """What is wrong when the server accepts connections but does not speak SSH in time, after
    `tries` attempts; None when it speaks, or when it cannot be reached at all (the steps then
    fail as they do, after their own tries, with the provider's reason)."""
    waited = ""
    for _ in range(tries):
        try:
            connection = socket.create_connection((host, port), timeout=timeout)
        except OSError:
            return None
        with connection:
            waited = _what_is_missing(connection, timeout)
        if not waited:
            return None
    return (
        f"{host}:{port} accepts connections but sent no {waited} within {timeout:g} s, {tries} times "
        "(sshPerDialTimeout, sshDialErrorLimit): a tarpit, an overloaded or wedged sshd, or a firewall that "
        "half-opens connections. No step was started; check sshHost and sshPort, then run `pulumi up` again"
    )


def _what_is_missing(connection: socket.socket, timeout: float) -> str:
    """What did not come within `timeout`: "" when the server sent its greeting and a
    key-exchange packet in time, or closed the connection (no hang)."""
    deadline = time.monotonic() + timeout
    received = b""
    try:
        connection.sendall(GREETING)
        while b"\n" not in received or not received.startswith(b"SSH-"):
            received = _more(connection, received, deadline)
            if b"\n" in received and not received.startswith(b"SSH-"):  # lines before the greeting are allowed
                received = received.split(b"\n", 1)[1]
        packet = received.split(b"\n", 1)[1]
        deadline = time.monotonic() + timeout
        while len(packet) < 6:
            packet = _more(connection, packet, deadline)
    except TimeoutError:
        return "key-exchange packet" if received.startswith(b"SSH-") and b"\n" in received else "SSH greeting"
    except OSError:  # it closed the connection: no hang, and the steps say what the server answers
        return ""
    return "" if packet[5] == KEXINIT else "key-exchange packet"


def _more(connection: socket.socket, received: bytes, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    connection.settimeout(left)
    chunk = connection.recv(4096)
    if not chunk:
        raise ConnectionResetError
    return received + chunk
