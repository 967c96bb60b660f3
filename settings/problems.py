"""How a config's problems are collected and reported: all at once, one per key, secrets never shown."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

NAMESPACE = "pactus-secure"


class SettingsError(ValueError):
    """Every problem found in one stack config, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack config:\n{lines}")


class Problems:
    """Collects problems so that one run reports all of them. A key gets one problem, the first
    found: a number where a string belongs says "must be a string", and nothing more."""

    def __init__(self, hidden: Collection[str] = ()) -> None:
        self.items: list[str] = []
        self.hidden = set(hidden)
        self._keys: set[str] = set()

    def add(self, key: str, value: Any, fix: str, *, outside_namespace: bool = False) -> None:
        if key in self._keys:
            return
        self._keys.add(key)
        secret = key.split(".")[0] in self.hidden
        shown = "(not set)" if value is None else "(secret)" if secret else _shown(value)
        self.items.append(f"{key if outside_namespace else f'{NAMESPACE}:{key}'} = {shown}: {fix}")

    def has(self, key: str) -> bool:
        return key in self._keys


# What a secret pasted into the wrong key looks like: a PEM block, a bcrypt hash, a long
# run of base64 or token characters.
_SECRET_SHAPED = re.compile(r"-----BEGIN|\$2[aby]?\$|[A-Za-z0-9+/=_-]{32,}")
_SHOWN = 60


def _shown(value: Any) -> str:
    """A value as an error shows it: never one shaped like a secret, and cut short."""
    text = repr(value)
    if _SECRET_SHAPED.search(text):
        return "(not shown: it looks like a secret; if it is one, set it with --secret under its own key)"
    length = len(value) if isinstance(value, str) else len(text)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({length} characters)"
