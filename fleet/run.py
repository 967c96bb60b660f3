"""Running one operation over many stacks at once, through the Automation API, with a live
view from the engine's own events."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pulumi import automation as auto
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from render.scripts import CERTBOT_PLAN
from render.templating import FAILS
from settings import Settings

COMMANDS = ("preview", "up", "refresh", "destroy")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TOOLS_BIN = Path(__file__).resolve().parent.parent / "tools" / "bin"
DIY_PARALLEL = "PULUMI_DIY_BACKEND_PARALLEL"
LOCKED = "the stack is currently locked"  # Pulumi's DIY backends, when another run holds the stack


class Stop(threading.Event):
    """Set by Ctrl-C: no new stack starts. The CLIs got the same SIGINT (they share the
    terminal's process group) and finish their current step, then stop."""


class Workspace(auto.LocalWorkspace):
    """The Automation API's workspace, but it never selects a stack: `pulumi stack select`
    rewrites the operator's selected stack, and parallel ones race on that file
    (pulumi/pulumi#8186). Every command names its stack with --stack anyway."""

    def select_stack(self, stack_name: str) -> None:
        self._run_pulumi_cmd_sync(["stack", "--stack", stack_name, "--show-name"])  # fails if there is none

    def create_stack(self, stack_name: str) -> None:
        self._run_pulumi_cmd_sync(["stack", "init", stack_name, "--no-select"])


class Fleet:
    """The project folder's stacks, with the user's own Pulumi environment (backend, secrets)."""

    def __init__(self, project: Path):
        self.project = project
        environment = dict(os.environ)
        # Pulumi's PostgreSQL backend lists a stack's files holding one pooled connection while
        # each row asks for another; its 10 parallel workers take the whole pool (2 x GOMAXPROCS)
        # and wait for one more, forever. One worker needs two connections, and every pool has two.
        environment.setdefault(DIY_PARALLEL, "1")
        if (TOOLS_BIN / "pulumi").exists():  # tools/build's CLI, where there is one
            environment["PATH"] = f"{TOOLS_BIN}:{environment.get('PATH', '')}"
            command = auto.PulumiCommand(root=str(TOOLS_BIN.parent), skip_version_check=True)
        else:
            command = auto.PulumiCommand(skip_version_check=True)
        self.workspace = Workspace(work_dir=str(project), env_vars=environment, pulumi_command=command)
        # Made by this run for a preview only, with their stack files as they were: put back at its end.
        self.created: dict[str, str] = {}

    def select(self, globs: list[str]) -> list[str]:
        names = sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in self.project.glob("Pulumi.*.yaml"))
        return [name for name in names if any(fnmatch.fnmatchcase(name, glob) for glob in globs)]

    def existing(self) -> set[str]:
        return {summary.name for summary in self.workspace.list_stacks()}

    def stack(self, name: str) -> auto.Stack:
        return auto.Stack.select(name, self.workspace)

    def prepare(self, command: str, names: list[str]) -> list[str]:
        """The stacks `command` can run on. `up` creates what is missing, as `pulumi up` would
        after `stack init`; a preview needs a stack too, so it gets one that this run removes
        again (`remove_created`); refresh and destroy have nothing to do on a missing one."""
        existing = self.existing()
        missing = [name for name in names if name not in existing]
        if command in ("up", "preview"):
            for name in missing:
                if command == "preview":  # `stack init` adds an encryptionsalt to the file
                    self.created[name] = self._stack_file(name).read_text()
                auto.Stack.create(name, self.workspace)
            return names
        return [name for name in names if name not in missing]

    def remove_created(self) -> None:
        """The stacks made for a preview: empty (a preview writes no resource), their files as
        they were. `pulumi stack rm` unselects the operator's stack, whichever it removes: it is
        selected again."""
        if not self.created:
            return
        try:
            selected = self.workspace._run_pulumi_cmd_sync(["stack", "--show-name"]).stdout.strip()
        except auto.CommandError:  # none is selected
            selected = ""
        for name, text in sorted(self.created.items()):
            self.workspace.remove_stack(name, preserve_config=True)
            self._stack_file(name).write_text(text)
        self.created.clear()
        if selected:
            self.workspace._run_pulumi_cmd_sync(["stack", "select", "--stack", selected])

    def _stack_file(self, name: str) -> Path:
        return self.project / f"Pulumi.{name}.yaml"

    def project_name(self) -> str:
        return self.workspace.project_settings().name

    def export(self, name: str) -> dict:
        """`pulumi stack export`, secrets left encrypted."""
        return json.loads(self.workspace._run_pulumi_cmd_sync(["stack", "export", "--stack", name]).stdout)

    def clear_pending(self, name: str) -> None:
        self.workspace._run_pulumi_cmd_sync(
            ["refresh", "--yes", "--skip-preview", "--clear-pending-creates", "--stack", name]
        )

    def config(self, name: str) -> dict[str, auto.ConfigValue]:
        """The stack's config as the program gets it: the project's values under the stack's."""
        return self.workspace.get_all_config(name)


@dataclass
class Progress:
    stack: str
    state: str = "waiting"
    step: str = ""
    started: float = 0.0
    ended: float = 0.0
    log: list[str] = field(default_factory=list)
    certbot: str = "-"  # which certbot the host runs, as the program says it


def run_all(
    fleet: Fleet, command: str, nodes: Mapping[str, Settings], parallel: int, stop: Stop, *, live: bool
) -> list[dict]:
    """`command` on each stack of `nodes` (their Settings, as the checks read them)."""
    stacks = list(nodes)
    progress = {name: Progress(name) for name in stacks}
    console = Console(stderr=True)
    rows: dict[str, dict] = {}
    with (
        Live(_view(progress), console=console, refresh_per_second=4, transient=False, auto_refresh=live) as view,
        ThreadPoolExecutor(max_workers=max(1, parallel)) as pool,
    ):

        def one(name: str) -> None:
            entry = progress[name]
            if stop.is_set():
                entry.state = "not started"
                rows[name] = _row(name, nodes[name].host, "not started (stopped)", None, entry)
                return
            entry.state, entry.started = "running", time.monotonic()
            try:
                result = _operate(fleet.stack(name), command, entry)
                entry.state = "succeeded"
                rows[name] = _row(name, nodes[name].host, "succeeded", result, entry)
            except auto.CommandError as error:
                entry.state = "failed"
                entry.log.append(_stderr(error))  # its stdout is the log already
                rows[name] = _row(name, nodes[name].host, f"failed: {_reason(error)}", None, entry)
                print_failure(view.console, name, entry.log)
            finally:
                entry.ended = time.monotonic()
                view.update(_view(progress))

        futures = [pool.submit(one, name) for name in stacks]
        while not all(future.done() for future in futures):
            view.update(_view(progress))
            time.sleep(0.25)
        for future in futures:
            future.result()
    return [rows[name] for name in stacks]


def print_failure(console: Console, name: str, log: list[str]) -> None:
    """A failed stack's last lines, as text: nothing in a log is markup or a terminal control."""
    console.print(
        Text(f"{name} failed", style="bold red"),
        Text("; its log:\n" + visible("\n".join(log[-60:]))),
        sep="",
        highlight=False,
    )


def _operate(stack: auto.Stack, command: str, entry: Progress):
    def on_event(event: auto.EngineEvent) -> None:
        said = event.diagnostic_event and event.diagnostic_event.message.strip()
        if said and said.startswith(CERTBOT_PLAN):
            entry.certbot = said.removeprefix(CERTBOT_PLAN)
        step = event.resource_pre_event and event.resource_pre_event.metadata
        if step is not None and not step.urn.endswith("pulumi:pulumi:Stack::" + step.urn.rsplit("::", 1)[1]):
            entry.step = f"{getattr(step.op, 'value', step.op)} {step.urn.rsplit('::', 1)[1]}"

    options = {"on_output": entry.log.append, "on_event": on_event, "color": "never"}
    return {"preview": stack.preview, "up": stack.up, "refresh": stack.refresh, "destroy": stack.destroy}[command](
        **options
    )


def _row(name: str, host: str, result: str, answer, entry: Progress) -> dict:
    changes = (
        getattr(answer, "change_summary", None)
        or (answer.summary.resource_changes if answer is not None and getattr(answer, "summary", None) else {})
        or {}
    )
    outputs = {k: v.value for k, v in (getattr(answer, "outputs", None) or {}).items()}
    return {
        "stack": name,
        "host": host,
        "result": result,
        "created": changes.get("create", 0),
        "updated": changes.get("update", 0) + changes.get("replace", 0),
        "deleted": changes.get("delete", 0),
        "unchanged": changes.get("same", 0),
        "seconds": round(entry.ended - entry.started if entry.ended else time.monotonic() - entry.started, 1)
        if entry.started
        else 0.0,
        "endpoint check": "passed" if "certificateExpiry" in outputs else "-",
        "certificate expiry": outputs.get("certificateExpiry", "-"),
        "certbot": entry.certbot,
    }


def _stderr(error: auto.CommandError) -> str:
    """What the CLI wrote to stderr, from the Automation API's error text (` stderr: ...`)."""
    text = str(error)
    return text.split("\n stderr: ", 1)[1] if "\n stderr: " in text else text


def visible(text: str) -> str:
    """Text from hosts and endpoints, safe for a terminal: control characters but the newline
    and the tab shown as escapes, so that none moves the cursor, retitles the window or hides text."""
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def _reason(error: auto.CommandError) -> str:
    """Our scripts' or the program's own error line, else the CLI's first."""
    lines = [re.sub(r"^(stdout|stderr): ", "", line.strip()) for line in str(error).splitlines()]
    ours = [line.split(FAILS, 1)[1] for line in lines if FAILS in line]
    errors = [
        line.removeprefix("error: ")
        for line in lines
        if line.startswith("error: ")
        and "update failed" not in line
        and "unhandled error" not in line
        and "Process exited" not in line
    ]
    holders = [line.split(": created by ", 1)[1] for line in lines if ": created by " in line]
    if errors and errors[0].startswith(LOCKED) and holders:  # Pulumi's lock message names who, since when
        return f"{LOCKED} by {holders[0]}; see `python -m fleet unlock` if that run is gone"[:200]
    return (ours or errors or lines[-1:] or ["unknown"])[0][:200]


def _view(progress: dict[str, Progress]) -> Table:
    table = Table(title="fleet", expand=False)
    for column in ("stack", "state", "step", "seconds"):
        table.add_column(column)
    now = time.monotonic()
    for entry in progress.values():
        seconds = (entry.ended or now) - entry.started if entry.started else 0
        table.add_row(*(Text(visible(cell)) for cell in (entry.stack, entry.state, entry.step, f"{seconds:.0f}")))
    return table
