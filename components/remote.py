"""How a rendered script reaches the host: one pulumi-command `remote.Command` per step.

The script goes to `bash -s` on stdin, so a command string (which the provider prints
whole when a command fails) stays a few words long and nothing in a script reaches it.
`delete` runs with the stdin stored at create time, which is the create script, so an
undo script brings its own input as a here-document inside the command string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

_UNDO_DELIMITER = "PACTUS_SECURE_END_OF_SCRIPT"


@dataclass(frozen=True)
class Host:
    """Where the steps run: the SSH connection, and the shell that reads a script as root."""

    connection: command.remote.ConnectionArgs
    shell: str


def connect(
    *,
    address: str,
    port: int,
    user: str,
    private_key: pulumi.Input[str],
    host_key: str | None,
    dial_error_limit: int,
    per_dial_timeout: int,
) -> Host:
    """An unreachable host fails a step after dial_error_limit tries of per_dial_timeout seconds
    each; with host_key, a server that shows another key fails it at once. A user other than
    root runs the scripts through passwordless sudo."""
    return Host(
        connection=command.remote.ConnectionArgs(
            host=address,
            port=port,
            user=user,
            private_key=private_key,
            host_key=host_key,
            dial_error_limit=dial_error_limit,
            per_dial_timeout=per_dial_timeout,
        ),
        shell="bash -s" if user == "root" else "sudo -n bash -s",
    )


@dataclass(frozen=True)
class Step:
    """One script to run on the host, and how it is undone.

    `undo_script`: run on destroy, or after a replacement. `replace_on`: values naming what
    the step owns (a file path); when one changes the step is replaced, so the old one's
    undo script cleans up after it. `carries_secret`: the script holds a secret, so it is
    stored as one, and the step's output is neither logged nor kept in plain state.
    """

    script: pulumi.Input[str]
    undo_script: str | None = None
    replace_on: tuple[str, ...] = ()
    carries_secret: bool = False


def run_step(
    name: str, host: Host, step: Step, *, parent: pulumi.ComponentResource, after: Sequence[pulumi.Resource] = ()
) -> command.remote.Command:
    """Runs the step's script on create and whenever it changes; its undo script on destroy."""
    undo = None
    if step.undo_script is not None:
        if _UNDO_DELIMITER in step.undo_script:
            raise ValueError(f"an undo script may not contain {_UNDO_DELIMITER}")
        undo = f"{host.shell} <<'{_UNDO_DELIMITER}'\n{step.undo_script}{_UNDO_DELIMITER}\n"
    return command.remote.Command(
        name,
        connection=host.connection,
        create=host.shell,
        stdin=pulumi.Output.secret(step.script) if step.carries_secret else step.script,
        delete=undo,
        triggers=list(step.replace_on) or None,
        add_previous_output_in_env=False,
        logging=command.remote.Logging.NONE if step.carries_secret else None,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(after),
            additional_secret_outputs=["stdout", "stderr"] if step.carries_secret else None,
        ),
    )


def waits_for(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """What a component waits for, to be stated on each of its steps: the engine does not
    hand a component's depends_on down to its children."""
    depends_on = opts.depends_on if opts else None
    if depends_on is None:
        return []
    return list(depends_on) if isinstance(depends_on, (list, tuple)) else [depends_on]
