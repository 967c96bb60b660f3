"""A PostgreSQL cluster of the tests' own, from Debian's packages, as a team's shared Pulumi
backend would be reached: over TCP with TLS that the client verifies (`sslmode=verify-full`
against the cluster's own CA), a password that lives in `PGPASSWORD` only, never in the URL.

It runs as Debian's `postgres` user (PostgreSQL refuses root), in a folder `mkdtemp` makes in
/tmp, which that user alone may enter: nobody else can plant or read anything there, and no
fixed path is used. `stop()` ends the server and removes the folder; nothing stays running.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from testbed.processes import terminate

BINARIES = Path("/usr/lib/postgresql/15/bin")  # Debian 12's postgresql-15
OWNER = "postgres"
ROLE = "pulumi"
DATABASE = "pulumi"


@dataclass
class Postgres:
    folder: Path
    port: int
    password: str
    ca: Path  # the client verifies the server against it (sslrootcert)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The backend URL, password-free: lib/pq reads PGPASSWORD (see `environment`)."""
        return self._url(DATABASE)

    def _url(self, database: str) -> str:
        return (
            f"postgres://{ROLE}@localhost:{self.port}/{database}"
            f"?sslmode=verify-full&sslrootcert={quote(str(self.ca), safe='/')}"
        )

    @property
    def environment(self) -> dict[str, str]:
        return {"PULUMI_BACKEND_URL": self.url, "PGPASSWORD": self.password}

    def psql(self, sql: str, database: str = DATABASE) -> str:
        """One statement over the same TLS connection the backend uses, as its role."""
        return subprocess.run(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, self._url(database)],
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def stop(self) -> None:
        terminate(self.process, timeout=30)  # SIGTERM: PostgreSQL's "smart" shutdown
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb, a CA and a server certificate for localhost, TLS-only password login on
    127.0.0.1, then the server on a free port, waited for until it takes a login."""
    owner = pwd.getpwnam(OWNER)
    folder = Path(tempfile.mkdtemp(prefix="pactus-secure-postgres-"))
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    database = Postgres(folder, _free_port(), secrets.token_urlsafe(24), folder / "ca.pem")
    try:
        _init_cluster(folder, database.password)
        log = open(folder / "server.log", "w")  # noqa: SIM115 (the server writes it; ours is closed at once)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": database.port,
            "unix_socket_directories": folder,
            "ssl": "on",
            "ssl_cert_file": folder / "server.pem",
            "ssl_key_file": folder / "server.key",
            "max_connections": 200,
        }
        database.process = subprocess.Popen(
            [str(BINARIES / "postgres"), "-D", str(folder / "data")]
            + [part for name, value in settings.items() for part in ("-c", f"{name}={value}")],
            stdout=subprocess.DEVNULL,
            stderr=log,
            user=owner.pw_uid,
            group=owner.pw_gid,
            extra_groups=[],
            cwd=folder,
        )
        log.close()
        _wait_for_login(database)
        database.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
    except BaseException:
        database.stop()
        raise
    return database


def _init_cluster(folder: Path, password: str) -> None:
    """initdb with the role's password (from a file of the owner's alone, removed after), the
    server's certificates, and TLS-only password logins on 127.0.0.1."""
    _as_owner(["install", "-m", "0600", "/dev/null", str(folder / "password")])
    (folder / "password").write_text(password + "\n")
    _as_owner(
        [
            str(BINARIES / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            ROLE,
            "--pwfile",
            str(folder / "password"),
            "--auth-host=scram-sha-256",
            "--auth-local=reject",
        ]
    )
    (folder / "password").unlink()
    _certificates(folder)
    (folder / "data" / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n")


def _wait_for_login(database: Postgres, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            database.psql("SELECT 1", database="postgres")
            return
        except subprocess.CalledProcessError as error:
            if database.process.poll() is not None or time.monotonic() > deadline:
                log = (database.folder / "server.log").read_text()
                raise RuntimeError(f"PostgreSQL did not take a login: {error.stderr}{log}") from None
            time.sleep(0.2)


def _certificates(folder: Path) -> None:
    """A CA of the cluster's own and a server certificate from it, for localhost and 127.0.0.1."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=pactus-secure test PostgreSQL CA", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem")  # fmt: skip
    (folder / "ca.key").unlink()
    owner = pwd.getpwnam(OWNER)
    for name in ("server.key", "server.pem", "ca.pem"):
        os.chown(folder / name, owner.pw_uid, owner.pw_gid)
    os.chmod(folder / "server.key", 0o600)
    os.chmod(folder / "ca.pem", 0o644)


def _as_owner(command: list[str]) -> None:
    subprocess.run(["runuser", "-u", OWNER, "--", *command], check=True, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
