"""`python -m fleet unlock`: the lock a dead run left on a stack, removed, and nothing else.

Pulumi's DIY backends lock a stack for each update with a file of its own,
`.pulumi/locks/organization/<project>/<stack>/<lock id>.json`, naming the user, the host and
the pid that took it. A run killed with SIGKILL leaves its file, and every later run of the
stack fails on it. `pulumi cancel` deletes every lock of the stack, a live run's too; this
removes a lock only when its holder is known to be gone: a pid of this machine that no
longer runs Pulumi, or, for another machine's, when the operator says so (`--holder-gone`).
It reads the backend as Pulumi stores it: a folder (`file://`) or a PostgreSQL table
(`postgres://`, through `psql`, with the password from PGPASSWORD as Pulumi takes it).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOCKS = ".pulumi/locks/organization"
TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Lock:
    key: str
    username: str
    hostname: str
    pid: int
    timestamp: str

    def holder(self) -> str:
        return f"{self.username}@{self.hostname} (pid {self.pid}) since {self.timestamp}"

    def held_here_by_a_live_run(self) -> bool:
        if self.hostname != socket.gethostname():
            return False
        try:
            return b"pulumi" in Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False


class FolderBackend:
    def __init__(self, url: str):
        self.root = Path(urlsplit(url).path)

    def locks(self, prefix: str) -> list[Lock]:
        folder = self.root / prefix
        return [_lock(str(path.relative_to(self.root)), path.read_bytes()) for path in sorted(folder.glob("*.json"))]

    def remove(self, lock: Lock) -> None:
        (self.root / lock.key).unlink(missing_ok=True)


class PostgresBackend:
    """Pulumi's table (`table` in the URL, `pulumi_state` by default): a key, and the blob as
    `{"data": <base64>}` in a json column. The DIY backend puts a URL's path before every key
    of a backend that is not a folder (pkg/backend/diy/backend.go, `blob.PrefixedBucket`), so
    here each key begins with the database's name: `pulumi/.pulumi/locks/...`."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        database = parts.path.strip("/")
        self.key_prefix = f"{database}/" if database else ""
        query = parse_qsl(parts.query)
        self.table = dict(query).get("table", "pulumi_state")
        if not TABLE.fullmatch(self.table):
            raise ValueError(f"the backend URL's table {self.table!r} is no plain table name")
        self.url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "table"])))

    def locks(self, prefix: str) -> list[Lock]:
        rows = self._psql(
            f"SELECT key, data->>'data' FROM {self.table} WHERE starts_with(key, :'value') ORDER BY key",
            f"{self.key_prefix}{prefix}/",
        )
        return [_lock(key, base64.b64decode(data)) for key, data in (row.split("|", 1) for row in rows.splitlines())]

    def remove(self, lock: Lock) -> None:
        self._psql(f"DELETE FROM {self.table} WHERE key = :'value'", lock.key)

    def _psql(self, statement: str, value: str) -> str:
        """psql reads the statement from stdin, where it quotes :'value' itself; the password
        comes from PGPASSWORD (or a passfile), as Pulumi takes it."""
        return subprocess.run(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-v", f"value={value}", self.url],
            input=statement + ";\n",
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout


def backend_for(url: str) -> FolderBackend | PostgresBackend:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FolderBackend(url)
    if scheme in ("postgres", "postgresql"):
        return PostgresBackend(url)
    raise ValueError(
        f"unlock reads file:// and postgres:// backends; for {scheme}://, delete the lock file that "
        "Pulumi's message names (e.g. `aws s3 rm <its URL>`) once its holder is gone"
    )


def unlock(
    backend: FolderBackend | PostgresBackend, project: str, stack: str, *, holder_gone: bool
) -> tuple[bool, str]:
    """Removes the stack's locks whose holder is gone. Returns whether every lock went, and what was done."""
    locks = backend.locks(f"{LOCKS}/{project}/{stack}")
    if not locks:
        return True, f"{stack}: no lock"
    said, whole = [], True
    for lock in locks:
        if lock.held_here_by_a_live_run():
            said.append(f"{stack}: kept the lock of {lock.holder()}: that run is alive on this machine; let it end")
            whole = False
        elif lock.hostname != socket.gethostname() and not holder_gone:
            said.append(
                f"{stack}: kept the lock of {lock.holder()}: this machine cannot see whether that run is alive; "
                "once it is gone (its CI job ended or cancelled), run again with --holder-gone"
            )
            whole = False
        else:
            backend.remove(lock)
            said.append(f"{stack}: removed the lock of {lock.holder()}, whose run is gone")
    return whole, "\n".join(said)


def _lock(key: str, content: bytes) -> Lock:
    fields = json.loads(content)
    return Lock(key, fields["username"], fields["hostname"], int(fields["pid"]), fields["timestamp"])


def pending_operations(export: dict) -> int:
    """What a killed run left half-done, as `pulumi stack export` shows it."""
    return len(export.get("deployment", {}).get("pending_operations") or [])
