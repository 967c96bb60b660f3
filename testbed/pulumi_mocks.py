"""Pulumi mocks for the unit tests: the program runs in-process, with no engine and no host.

`deploy(config)` runs program.main() with a stack config (the strings `pulumi config set`
would store) and returns every resource it registered, with parent, dependencies and
inputs exactly as the engine would receive them, secret markers included.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from clients.endpoint import ServedCertificate
from components import names
from testbed.configs import STACK
from testbed.credentials import CLOUDFLARE_TOKEN, SSH_KEY

# What the certificate step prints of the certbot it runs, as on a Debian 12 host.
CERTIFICATE_STEP_SAYS = (
    "pactus-secure: distribution family: debian\n"
    "pactus-secure: certbot 2.1.0, the distribution's, does what the stack asks\n"
)
SECRET_SIG = rpc._special_sig_key
SECRET_MARK = rpc._special_secret_sig


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any]  # deserialised: secrets unwrapped
    wire_inputs: dict[str, Any]  # as sent to the engine: secrets wrapped in their marker
    secret_outputs: list[str]  # additional_secret_outputs


@dataclass
class Deployment:
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, suffix: str) -> Registration:
        (match,) = [r for r in self.resources if r.name.endswith(suffix)]
        return match

    def by_urn(self, urn: str) -> Registration:
        (match,) = [r for r in self.resources if r.urn == urn]
        return match

    def depends_on(self, later: Registration, earlier: Registration) -> bool:
        """True when `later` waits for `earlier`, directly or through other resources."""
        seen, todo = set(), list(later.dependencies)
        while todo:
            urn = todo.pop()
            if urn == earlier.urn:
                return True
            if urn not in seen:
                seen.add(urn)
                todo.extend(self.by_urn(urn).dependencies)
        return False


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        printed = {names.CERTIFICATE: CERTIFICATE_STEP_SAYS, names.CHECK: CHECK_SAYS}.get(args.name, "")
        return [f"{args.name}-id", {**args.inputs, "stdout": printed, "stderr": ""}]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object),
                    wire_inputs=json_format.MessageToDict(request.object),
                    secret_outputs=list(request.additionalSecretOutputs),
                )
            )
        return response


def deploy(
    config: dict[str, Any],
    *,
    ssh_key: str | None = SSH_KEY,
    basic_auth: str | None = None,
    cloudflare_token: str | None = CLOUDFLARE_TOKEN,
    stack: str = STACK,
    secret_keys: tuple[str, ...] = (),
    cloudflare_token_secret: bool = True,
    preview: bool = False,
) -> Deployment:
    """Runs the program once, in a fresh context and event loop, and returns what it registered.
    `secret_keys`: keys of `config` set as `pulumi config set --secret` would."""
    secrets = {"sshPrivateKey": ssh_key, "basicAuth": basic_auth}
    return contextvars.Context().run(
        _deploy, config, secrets, cloudflare_token, stack, secret_keys, cloudflare_token_secret, preview
    )


# What the endpoint check prints under mocks, where nothing runs; `python -m clients.endpoint`
# is tested alone (tests/test_endpoint_check.py), and through the engine in tests/host.
SERVED = ServedCertificate(
    expires="2027-02-22T11:00:00+00:00", issuer="Let's Encrypt", renewal_due="2027-01-23T11:00:00+00:00"
)
CHECK_SAYS = json.dumps(dataclasses.asdict(SERVED))


def _reach_no_host(host: str, port: int, **_) -> None:
    """The SSH probe under mocks: the hosts of the unit tests' configs are examples, never dialled."""
    return None


def _deploy(
    config, secrets, cloudflare_token, stack, config_secret_keys, cloudflare_token_secret, preview
) -> Deployment:
    import program  # imported here so that a test sees the program as `pulumi up` runs it

    program.silent_server = _reach_no_host

    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="pactus-secure", stack=stack, preview=preview, monitor=monitor)
    values = {f"pactus-secure:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    secret_keys = [f"pactus-secure:{key}" for key in config_secret_keys]
    for key, value in secrets.items():
        if value is not None:
            values[f"pactus-secure:{key}"] = value
            secret_keys.append(f"pactus-secure:{key}")
    if cloudflare_token is not None:
        values["cloudflare:apiToken"] = cloudflare_token
        if cloudflare_token_secret:
            secret_keys.append("cloudflare:apiToken")
    pulumi.runtime.set_all_config(values, secret_keys)

    pulumi.runtime.test(program.main)()
    loop = asyncio.get_event_loop()
    stack_outputs = {
        key: loop.run_until_complete(value.future()) if isinstance(value, pulumi.Output) else value
        for key, value in pulumi.runtime.get_root_resource().outputs.items()
    }  # what pulumi.export() got
    return Deployment(resources=monitor.registrations, outputs=stack_outputs)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARK


def unsecret(value: Any) -> Any:
    """The value inside a secret marker (inputs holding a secret are wrapped whole)."""
    return value["value"] if is_secret(value) else value


def secret_occurrences(value: Any, secret: str, inside_secret: bool = False) -> list[bool]:
    """For each place `secret` appears in wire inputs: whether it sits inside a secret marker."""
    if isinstance(value, dict):
        wrapped = inside_secret or is_secret(value)
        return [hit for v in value.values() for hit in secret_occurrences(v, secret, wrapped)]
    if isinstance(value, list):
        return [hit for v in value for hit in secret_occurrences(v, secret, inside_secret)]
    return [inside_secret] if isinstance(value, str) and secret in value else []
