"""A stack of this project run by the real Pulumi engine: the CLI and the Python language host
from tools/build, pulumi-command's provider installed into a PULUMI_HOME of the caller's,
through the Automation API (`pulumi.automation`).

Each `Project` is a copy of the program (so stack files never land in the repository) with a
file backend, a PULUMI_HOME and a passphrase of its own. Secrets reach the CLI on stdin
(`pulumi config set --secret KEY`), never on a command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation._stack_settings import StackSettingsSecureConfigValue

from settings import NAMESPACE
from testbed.tools import PROVIDER_VERSION, TOOLS_BIN, provider, tool

REPO = Path(__file__).resolve().parent.parent
PROGRAM = (
    "Pulumi.yaml",
    "__main__.py",
    "program.py",
    "clients",
    "components",
    "render",
    "settings",
    "templates",
    "schema",
)
COMMAND = "command:remote:Command"
# The tests' stacks, in folders of root's alone that go with the test; the demo makes its own.
TEST_PASSPHRASE = "pactus-secure test passphrase"


def pulumi_home(directory: Path) -> Path:
    """A PULUMI_HOME of its own, with pulumi-command's provider installed (testbed/tools.py)."""
    tool("pulumi-language-python")  # the CLI finds it on PATH: here, to say so when it is missing
    installed = directory / "plugins" / f"resource-command-v{PROVIDER_VERSION}"
    if not installed.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [tool("pulumi"), "plugin", "install", "resource", "command", PROVIDER_VERSION, "--file", str(provider())],
            env=cli_environment(directory),
            check=True,
            capture_output=True,
            text=True,
        )
    return directory


def cli_environment(home: Path, backend: Path | None = None, passphrase: str = TEST_PASSPHRASE) -> dict[str, str]:
    environment = {
        "PULUMI_HOME": str(home),
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PATH": f"{TOOLS_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    if backend is not None:
        environment["PULUMI_BACKEND_URL"] = file_backend(backend)
    return environment


def file_backend(directory: Path) -> str:
    """The backend URL docs/operations.md gives: `metadata=skip` keeps gocloud's fileblob from
    writing a `.attrs` file beside the state, which it truncates before it writes; a kill in
    between leaves the stack unreadable ("failed to load checkpoint: EOF")."""
    return f"file://{directory}?metadata=skip"


@dataclass
class StepRun:
    """A remote command the engine created, updated, replaced or deleted, and what it printed."""

    name: str
    op: str
    output: str = ""  # its stdout, then its stderr ("[secret]" for a step that carries a secret)


@dataclass
class Result:
    """What one `preview`, `up` or `destroy` did, from the engine's own events."""

    changes: dict[str, int]  # op -> count, as the engine's summary gives them
    steps: list[StepRun] = field(default_factory=list)
    planned: dict[str, str] = field(default_factory=dict)  # preview: resource name -> op (same, update, ...)
    outputs: dict[str, Any] = field(default_factory=dict)
    output: str = ""  # what the CLI printed
    diagnostics: list[str] = field(default_factory=list)

    def ran(self) -> list[str]:
        return [step.name for step in self.steps]

    def step(self, name: str) -> StepRun:
        (match,) = [step for step in self.steps if step.name == name]
        return match


class StackFailed(AssertionError):
    """The CLI failed: `output` is what it printed, as a user would see it."""

    def __init__(self, command: str, output: str, result: Result):
        super().__init__(f"pulumi {command} failed:\n{output}")
        self.output = output
        self.result = result


class Project:
    """A copy of this project, its own backend and PULUMI_HOME; stacks are made from it."""

    def __init__(
        self,
        work: Path,
        home: Path | None = None,
        source: Path = REPO,
        refresh: bool = False,
        passphrase: str = TEST_PASSPHRASE,
    ):
        """`refresh`: copy the program again over an existing copy (its stack files stay)."""
        self.directory = work / "project"
        self.backend = work / "state"
        self.home = pulumi_home(home or work / "pulumi-home")
        self.backend.mkdir(parents=True, exist_ok=True)
        if refresh or not self.directory.exists():
            copy_program(source, self.directory)
        self.pulumi = tool("pulumi")
        self.environment = cli_environment(self.home, self.backend, passphrase)
        self.command = auto.PulumiCommand(root=str(Path(self.pulumi).parent.parent), skip_version_check=True)

    def stack(self, name: str, config: dict[str, Any], secrets: dict[str, str] | None = None) -> Stack:
        workspace = auto.LocalWorkspace(
            work_dir=str(self.directory), env_vars=self.environment, pulumi_command=self.command
        )
        stack = Stack(self, auto.Stack.create_or_select(name, workspace))
        stack.configure(config, secrets or {})
        return stack

    def fleet_status(self, stack: str, *flags: str) -> tuple[int, dict]:
        """`python -m fleet status` of one stack of this project, as an operator's cron runs it:
        its exit status, and what it printed as JSON."""
        result = subprocess.run(
            [sys.executable, "-m", "fleet", "status", "--stacks", stack, "--json", "--project", str(self.directory)]
            + list(flags),
            cwd=REPO,
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.stdout.strip(), result.stderr[-3000:]
        return result.returncode, json.loads(result.stdout)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """The real CLI in this project's folder and environment."""
        return subprocess.run(
            [self.pulumi, *args, "--non-interactive"],
            cwd=self.directory,
            env={**os.environ, **self.environment},
            input=stdin,
            capture_output=True,
            text=True,
            check=check,
        )


def copy_program(source: Path, target: Path) -> None:
    """The program's files, with Pulumi.yaml naming this interpreter's virtualenv by its full path."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PROGRAM:
        path = source / name
        if not path.exists():
            continue  # another program (a benchmark's floor) has fewer files
        if path.is_dir():
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(path, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, target / name)
    project = yaml.safe_load((target / "Pulumi.yaml").read_text())
    project["runtime"]["options"]["virtualenv"] = sys.prefix
    (target / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))


class Stack:
    def __init__(self, project: Project, stack: auto.Stack):
        self.project = project
        self.auto = stack
        self.name = stack.name

    def configure(self, config: dict[str, Any], secrets: dict[str, str] | None = None) -> None:
        """Replaces the stack's plain config, as the stack file holds it (objects stay objects).
        Each of `secrets` is set through `pulumi config set --secret` on stdin; without
        `secrets`, the secrets set before stay."""
        workspace = self.auto.workspace
        settings = workspace.stack_settings(self.name)
        kept = (
            {}
            if secrets is not None
            else {
                key: value
                for key, value in (settings.config or {}).items()
                if isinstance(value, StackSettingsSecureConfigValue)
            }
        )
        settings.config = {**kept, **{_key(key): value for key, value in config.items()}}
        workspace.save_stack_settings(self.name, settings)
        for key, value in (secrets or {}).items():
            self.project.cli("config", "set", "--secret", "--stack", self.name, _key(key), stdin=value)

    def preview(self, **kwargs) -> Result:
        return self._run("preview", self.auto.preview, **kwargs)

    def up(self, **kwargs) -> Result:
        return self._run("up", self.auto.up, **kwargs)

    def destroy(self, **kwargs) -> Result:
        return self._run("destroy", self.auto.destroy, **kwargs)

    def refresh(self, **kwargs) -> Result:
        return self._run("refresh", self.auto.refresh, **kwargs)

    def up_killed(self, when: Callable[[str], bool], timeout: float = 300) -> str:
        """`pulumi up` killed at the first line for which `when` is true (see `up_killed`)."""
        return up_killed(self.project.directory, self.project.environment, self.name, when, timeout)

    def recover(self) -> list[str]:
        """README's recovery after an interrupted `up`, for a file backend: what each printed."""
        return [self.project.cli(*args, "--stack", self.name, check=False).stdout for args in RECOVERY]

    def export(self) -> dict:
        """`pulumi stack export` as an operator runs it: secrets encrypted (the Automation API's
        export_stack adds --show-secrets)."""
        return json.loads(self.project.cli("stack", "export", "--stack", self.name).stdout)["deployment"]

    def remove(self) -> None:
        self.auto.workspace.remove_stack(self.name, force=True)

    def _run(self, command: str, run: Callable[..., Any], **kwargs) -> Result:
        result = Result(changes={})
        printed: list[str] = []

        def on_event(event: auto.EngineEvent) -> None:
            _record(event, result, preview=command == "preview")

        try:
            answer = run(on_output=printed.append, on_event=on_event, color="never", **kwargs)
        except auto.CommandError as error:
            result.output = "\n".join(printed)
            raise StackFailed(command, result.output + "\n" + str(error), result) from None
        result.output = "\n".join(printed)
        summary = getattr(answer, "summary", None)
        changes = getattr(answer, "change_summary", None) or (summary.resource_changes if summary else None)
        result.changes = {str(op): count for op, count in (changes or {}).items()}
        result.outputs = {key: value.value for key, value in (getattr(answer, "outputs", None) or {}).items()}
        return result


# After an `up` that was killed: drop its lock, then forget the operations it left pending
# (the next `up` runs their steps again; each script is idempotent).
def up_killed(
    folder: Path, environment: dict[str, str], stack: str, when: Callable[[str], bool], timeout: float = 300
) -> str:
    """`pulumi up` run by the CLI in a session of its own, whose every process gets SIGKILL
    at once (CLI, language host and provider, which runs in a process group of its own),
    as when a CI job is cancelled, at the first line of output for which `when` is true.
    Returns what it printed."""
    process = subprocess.Popen(
        [
            tool("pulumi"),
            "up",
            "--yes",
            "--skip-preview",
            "--non-interactive",
            "--color",
            "never",
            "--stack",
            stack,
        ],  # fmt: skip
        cwd=folder,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    killer = threading.Timer(timeout, _kill_session, (process.pid,))
    killer.start()
    try:
        for line in process.stdout:
            printed.append(line)
            if when(line):
                _kill_session(process.pid)
                break
    finally:
        killer.cancel()
        process.wait()
        _kill_session(process.pid)
    return "".join(printed)


RECOVERY = (("cancel", "--yes"), ("refresh", "--yes", "--clear-pending-creates", "--skip-preview"))


def _kill_session(session: int, timeout: float = 10) -> None:
    """SIGKILL to every process of the session, until none is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _session_of(entry) == session
        ]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _session_of(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _key(key: str) -> str:
    return key if ":" in key else f"{NAMESPACE}:{key}"


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[1]


def _record(event: auto.EngineEvent, result: Result, *, preview: bool) -> None:
    if event.diagnostic_event is not None:
        result.diagnostics.append(event.diagnostic_event.message)
    step = event.resource_pre_event and event.resource_pre_event.metadata
    if step is not None and preview:
        op = str(step.op.value if hasattr(step.op, "value") else step.op)
        # A replacement comes as three steps (create-replacement, replace, delete-replaced): one "replace".
        result.planned[_name(step.urn)] = "replace" if op in ("create-replacement", "delete-replaced") else op
    done = event.res_outputs_event and event.res_outputs_event.metadata
    if done is None or done.type != COMMAND or preview:
        return
    op = str(done.op.value if hasattr(done.op, "value") else done.op)
    if op == "same":
        return
    state = done.new or done.old
    outputs = (state.outputs or {}) if state is not None else {}
    printed = [outputs.get(stream, "") for stream in ("stdout", "stderr")]
    output = "\n".join(text if isinstance(text, str) else "[secret]" for text in printed)
    result.steps.append(StepRun(_name(done.urn), op, output))
