"""How a rendered script reaches the host: one pulumi-command `remote.Command` per step.

The script goes to `bash -s` on stdin, so a command string (which the provider prints
whole when a command fails) stays a few words long and nothing in a script reaches it.
`delete` runs with the stdin stored at create time, which is the create script, so an
undo script brings its own input as a here-document inside the command string.
"""

from __future__ import annotations

import pulumi
import pulumi_command as command

from settings import Settings

_UNDO_DELIMITER = "PACTUS_SECURE_END_OF_SCRIPT"


def host_connection(settings: Settings, ssh_private_key: pulumi.Input[str]) -> command.remote.ConnectionArgs:
    """An unreachable host fails the step after sshDialErrorLimit tries of sshPerDialTimeout seconds each;
    with sshHostKey, a server that shows another key fails it at once."""
    return command.remote.ConnectionArgs(
        host=settings.ssh_host,
        port=settings.ssh_port,
        user=settings.ssh_user,
        private_key=ssh_private_key,
        host_key=settings.ssh_host_key,
        dial_error_limit=settings.ssh_dial_error_limit,
        per_dial_timeout=settings.ssh_per_dial_timeout,
    )


def step_options(component: pulumi.ComponentResource,
                 opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """A component's step waits for what the component waits for, stated on the step itself:
    the engine does not hand a component's depends_on down to its children."""
    return pulumi.ResourceOptions(parent=component, depends_on=opts.depends_on if opts else None)


def root_shell(settings: Settings) -> str:
    """bash reading its script from stdin, as root: non-root users go through passwordless sudo."""
    return "bash -s" if settings.ssh_user == "root" else "sudo -n bash -s"


def remote_script(
    name: str,
    *,
    settings: Settings,
    connection: command.remote.ConnectionArgs,
    script: pulumi.Input[str],
    undo_script: str | None = None,
    replace_on: list[str] | None = None,
    carries_secret: bool = False,
    opts: pulumi.ResourceOptions,
) -> command.remote.Command:
    """Runs `script` on create and whenever it changes; `undo_script` on destroy.

    `replace_on`: values that name what the step owns (a file path); when one changes the
    step is replaced, so the old one's undo script cleans up after it.
    `carries_secret`: the script holds a secret, so it is stored as one, and the step's
    output is neither logged nor kept in plain state.
    """
    shell = root_shell(settings)
    undo = None
    if undo_script is not None:
        if _UNDO_DELIMITER in undo_script:
            raise ValueError(f"an undo script may not contain {_UNDO_DELIMITER}")
        undo = f"{shell} <<'{_UNDO_DELIMITER}'\n{undo_script}{_UNDO_DELIMITER}\n"
    if carries_secret:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["stdout", "stderr"]))
    return command.remote.Command(
        name,
        connection=connection,
        create=shell,
        stdin=pulumi.Output.secret(script) if carries_secret else script,
        delete=undo,
        triggers=replace_on,
        add_previous_output_in_env=False,
        logging=command.remote.Logging.NONE if carries_secret else None,
        opts=opts,
    )
