"""How a config's problems are collected and reported: all at once, one per key, secrets never shown."""

from __future__ import annotations

from typing import Any, Collection

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
        shown = "(not set)" if value is None else "(secret)" if secret else repr(value)
        self.items.append(f"{key if outside_namespace else f'{NAMESPACE}:{key}'} = {shown}: {fix}")

    def has(self, key: str) -> bool:
        return key in self._keys
