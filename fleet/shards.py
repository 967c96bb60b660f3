"""`--shard K/N`: the selected stacks split over N runners (CI jobs, machines), each runner
taking the K-th part. A stack's shard follows from its name alone, by a hash, so it is the
same on every runner whatever order its files are listed in, and N runners of one N take
every stack exactly once; a stack added or removed moves no other."""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    def takes(self, stack: str) -> bool:
        return int(hashlib.sha256(stack.encode()).hexdigest(), 16) % self.count == self.index - 1

    def of(self, stacks: list[str]) -> list[str]:
        return [stack for stack in stacks if self.takes(stack)]


def parse_shard(text: str) -> Shard:
    """argparse's type for `--shard`: K/N with 1 <= K <= N."""
    index, slash, count = text.partition("/")
    if not (slash and index.isascii() and index.isdigit() and count.isascii() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 2/4 for the second of four runners")
    shard = Shard(int(index), int(count))
    if not 1 <= shard.index <= shard.count:
        raise argparse.ArgumentTypeError(f"{text!r}: K goes from 1 to N (here 1 to {shard.count})")
    return shard
