"""The fleet command's one table."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
STATUS_COLUMNS = (
    "stack",
    "state",
    "endpoint",
    "apis",
    "days left (live)",
    "renew by",
    "height",
    "lag",
    "last block",
    "certbot",
    "findings",
)


def print_table(rows: list[dict], command: str) -> None:
    columns = STATUS_COLUMNS if command == "status" else COLUMNS
    table = Table(title=f"fleet {command}")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(visible(str(row.get(column, "")))) for column in columns))
    Console(width=None if sys.stdout.isatty() else 220).print(table)  # a log or a pipe gets whole cells
