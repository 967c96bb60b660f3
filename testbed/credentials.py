"""Secrets for the unit tests, shaped like the real ones and holding nothing real."""

from __future__ import annotations

import base64


def openssh_key(cipher: bytes = b"none") -> str:
    """A key file shaped like `ssh-keygen` writes one (magic, cipher, ...), with no real key in it."""

    def string(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    body = (
        b"openssh-key-v1\0"
        + string(cipher)
        + string(b"none" if cipher == b"none" else b"bcrypt")
        + string(b"")
        + (1).to_bytes(4, "big")
        + b"material-for-unit-tests-only" * 4
    )
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"


SSH_KEY = openssh_key()
CLOUDFLARE_TOKEN = "cf-token-for-unit-tests-0123456789"
# `htpasswd -nbB -C 5 operator 'correct horse battery staple'`
BASIC_AUTH = "operator:$2y$05$1PukGhfoe2P9QPBXxNMAsORUU9IAuI17OMFO78CJ6HGTOeWCE1.1W"
SECRETS = {"sshPrivateKey": SSH_KEY, "cloudflare:apiToken": CLOUDFLARE_TOKEN}
# What `ssh-keyscan -t ed25519` prints after the address.
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPniercauu1o3SylZuQW4OiFKeCkGocVgA4o3V9v0ffk"
