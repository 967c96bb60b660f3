"""Self-signed certificates for what stands beside the program in tests: pebble's own API,
throwaway sites for `nginx -t`, a fake root's certbot."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(certificate: Path, key: Path, *, name: str, days: int, alt_names: str = "") -> None:
    """An RSA certificate and its key, by openssl; `alt_names` as subjectAltName takes them."""
    extension = ["-addext", f"subjectAltName={alt_names}"] if alt_names else []
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days), "-subj", f"/CN={name}"]
        + extension
        + ["-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
