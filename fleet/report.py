"""The fleet command's one table, and `status`: the stacks' outputs plus a live TLS check."""

from __future__ import annotations

import socket
import ssl
import sys
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleet.checks import read_all
from fleet.run import visible

COLUMNS = (
    "stack",
    "host",
    "result",
    "created",
    "updated",
    "deleted",
    "unchanged",
    "seconds",
    "endpoint check",
    "certificate expiry",
    "certbot",
)
STATUS_COLUMNS = ("stack", "host", "result", "endpoint", "certificate expiry", "renew by", "days left (live)")


def print_table(rows: list[dict], command: str) -> None:
    columns = STATUS_COLUMNS if command == "status" else COLUMNS
    table = Table(title=f"fleet {command}")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(visible(str(row.get(column, "")))) for column in columns))
    Console(width=None if sys.stdout.isatty() else 220).print(table)  # a log or a pipe gets whole cells


def status_row(fleet, name: str, existing: set[str]) -> dict:
    """Changes nothing: the last `up`'s outputs, and the certificate the endpoint serves now."""
    if name not in existing:
        return {"stack": name, "result": "no stack: never deployed (python -m fleet up creates it)"}
    nodes, problems = read_all({name: fleet.config(name)})
    if problems:
        return {"stack": name, "result": f"refused: {problems[0]}"}
    node = nodes[name]
    outputs = {key: value.value for key, value in fleet.stack(name).outputs().items()}
    target = outputs.get("grpcTarget") or f"{node.name}:443"
    row = {
        "stack": name,
        "host": node.host,
        "endpoint": target,
        "certificate expiry": outputs.get("certificateExpiry", "-"),
        "renew by": outputs.get("renewalDue", "-"),
    }
    try:
        days = days_left(target, node.check_ca_bundle)
    except (OSError, ssl.SSLError) as error:
        return {**row, "result": f"failed: {error}"[:120], "days left (live)": "-"}
    return {**row, "result": "ok", "days left (live)": days}


def days_left(target: str, ca_bundle: str | None) -> int:
    host, port = target.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca_bundle)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"]), UTC)
    return (expires - datetime.now(UTC)).days
