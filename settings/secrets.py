"""The secrets a node needs: declared here, their shape checked; never held in Settings.

They are set with `pulumi config set --secret` and travel as secret Outputs. Their values are
read only to check their shape, and a problem names the key, never the value.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from settings.problems import Problems

_HTPASSWD_BCRYPT = re.compile(r"^[^:\s]+:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
_PRIVATE_KEY = re.compile(
    r"^-----BEGIN ((?:OPENSSH |RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----\n"
    r"(.+)\n-----END \1-----$",
    re.S,
)


@dataclass(frozen=True)
class Secret:
    name: str  # in the pactus-secure namespace, or with its own (cloudflare:apiToken)
    help: str
    required: bool  # always; otherwise optional, or required only `when`
    when: str = ""


SSH_PRIVATE_KEY = Secret(
    "sshPrivateKey",
    "the SSH key, without a passphrase: `pulumi config set --secret sshPrivateKey < key`",
    required=True,
)
BASIC_AUTH = Secret(
    "basicAuth",
    "one htpasswd line with a bcrypt hash: `pulumi config set --secret basicAuth "
    '"$(htpasswd -nB alice)"`; every API asks for it: Nginx on JSON-RPC and the HTTP-API, and on '
    "gRPC Nginx or, with `grpc.basicAuth`, the node",
    required=False,
)
CLOUDFLARE_TOKEN = Secret(
    "cloudflare:apiToken",
    "the Cloudflare provider's token, with DNS edit on the zone (or `CLOUDFLARE_API_TOKEN`)",
    required=False,
    when="`manageDns`",
)
SECRETS = (SSH_PRIVATE_KEY, BASIC_AUTH, CLOUDFLARE_TOKEN)
NAMESPACED = tuple(s.name for s in SECRETS if ":" not in s.name)


def check_basic_auth(line: str | None, problems: Problems) -> None:
    if line is not None and not _HTPASSWD_BCRYPT.fullmatch(line.strip()):
        problems.add(
            BASIC_AUTH.name,
            line,
            "must be one htpasswd line with a bcrypt hash, user:$2y$..., "
            'made by `pulumi config set --secret basicAuth "$(htpasswd -nB <user>)"`',
        )


def check_ssh_private_key(key_text: str | None, problems: Problems) -> None:
    """The key's shape only: a public key, a passphrase or a mangled paste fails here, not at the first SSH dial."""
    fix = None
    if key_text is None:
        fix = "required: `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`"
    elif key_text.lstrip().startswith(("ssh-", "ecdsa-", "sk-")):
        fix = (
            "is a public key: set the private key, `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519` "
            "(not the .pub file)"
        )
    elif not (match := _PRIVATE_KEY.match(key_text.strip().replace("\r\n", "\n"))):
        fix = (
            "is not a private key file (-----BEGIN ... PRIVATE KEY----- to -----END ... PRIVATE KEY-----): "
            "set the whole file, `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`"
        )
    elif (
        match.group(1) == "ENCRYPTED PRIVATE KEY"
        or "Proc-Type: 4,ENCRYPTED" in key_text
        or _openssh_cipher(match) not in (None, b"none")
    ):
        fix = (
            "is protected by a passphrase, which a deployment cannot type: use a key without one, "
            "made for deployments (`ssh-keygen -t ed25519 -N '' -f pactus_deploy`)"
        )
    elif match.group(1) == "OPENSSH PRIVATE KEY" and _openssh_cipher(match) is None:
        fix = "is damaged: its base64 body is not an OpenSSH key; set the whole file again"
    if fix is not None:
        problems.add(SSH_PRIVATE_KEY.name, key_text, fix)


def _openssh_cipher(match: re.Match[str]) -> bytes | None:
    """The cipher an OpenSSH key is encrypted with (b"none" for none), None if it is not one."""
    if match.group(1) != "OPENSSH PRIVATE KEY":
        return None
    try:
        body = base64.b64decode("".join(match.group(2).split()), validate=True)
    except ValueError:
        return None
    magic = b"openssh-key-v1\0"
    if not body.startswith(magic) or len(body) < len(magic) + 4:
        return None
    length = int.from_bytes(body[len(magic) : len(magic) + 4], "big")
    return body[len(magic) + 4 : len(magic) + 4 + length] or None
