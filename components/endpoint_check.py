"""The endpoint check as a resource of the stack: a pulumi-command `local.Command` that runs
`python -m clients.endpoint` on the machine running `pulumi up`, which calls the node's
public endpoint as a user would. It runs when it is created and again whenever a part of
the node changed (its triggers), and its answer stays in the state: a preview of an
unchanged stack shows the outputs as they are, a preview of a change shows them as what
the `up` will find. A check that fails fails the `up`, and is run again by the next one.

The command names the interpreter relative to the program's folder, where the provider
runs it: two clones of the project check alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import pulumi
import pulumi_command as command

from clients.endpoint import CONFIG_UNAPPLIED, Endpoint, ServedCertificate

PROGRAM_DIR = Path(__file__).resolve().parent.parent


def script_digest(script: pulumi.Input[str]) -> pulumi.Output[str]:
    """A step's trigger: what its script says, as a digest (a script may carry a secret)."""
    return pulumi.Output.unsecret(
        pulumi.Output.from_input(script).apply(lambda text: hashlib.sha256(text.encode()).hexdigest())
    )


def check_command() -> str:
    """This interpreter (the project's virtualenv), from the program's folder."""
    return f"{os.path.relpath(sys.executable, PROGRAM_DIR)} -m clients.endpoint"


def endpoint_check(
    name: str,
    endpoint: Endpoint,
    triggers: list[pulumi.Input[str]],
    config_unapplied: pulumi.Input[bool],
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[ServedCertificate]:
    """`triggers`: a value for each part of the node (an address, a step's script digest);
    `config_unapplied`: config.toml was written and nobody restarted the node, which the
    check names as the likely cause when the node's answer is wrong."""
    check = command.local.Command(
        name,
        create=check_command(),
        stdin=json.dumps(dataclasses.asdict(endpoint)),
        environment={
            CONFIG_UNAPPLIED: pulumi.Output.from_input(config_unapplied).apply(lambda yes: "yes" if yes else "")
        },
        triggers=triggers,
        opts=opts,
    )
    return check.stdout.apply(lambda printed: ServedCertificate(**json.loads(printed)))
