"""`--shard K/N` splits the selected stacks by name: stable, whole, and without overlap."""

from __future__ import annotations

import argparse
import random

import pytest

from fleet.shards import Shard, parse_shard

STACKS = [f"{network}-node{i}" for network in ("mainnet", "testnet") for i in range(1, 101)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_n_shards_take_every_stack_exactly_once_in_any_order(count):
    taken = [stack for k in range(1, count + 1) for stack in Shard(k, count).of(STACKS)]
    assert sorted(taken) == sorted(STACKS)  # each once: no stack missing, none twice
    shuffled = random.Random(count).sample(STACKS, len(STACKS))
    for k in range(1, count + 1):
        assert set(Shard(k, count).of(shuffled)) == set(Shard(k, count).of(STACKS))


def test_a_stack_keeps_its_shard_when_others_come_and_go():
    before = {stack: next(k for k in range(1, 5) if Shard(k, 4).takes(stack)) for stack in STACKS}
    fewer = STACKS[::3] + ["mainnet-node999"]
    assert all(Shard(before[stack], 4).takes(stack) for stack in fewer if stack in before)


def test_four_shards_of_two_hundred_stacks_are_near_even():
    sizes = [len(Shard(k, 4).of(STACKS)) for k in range(1, 5)]
    assert min(sizes) >= 35 and max(sizes) <= 65, sizes


@pytest.mark.parametrize("text, says", [("0/4", "K goes from 1 to N"), ("5/4", "1 to 4"), ("2", "not K/N"),
                                        ("a/b", "not K/N"), ("١/٢", "not K/N")])  # fmt: skip
def test_a_bad_shard_is_refused_with_the_form_it_takes(text, says):
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        parse_shard(text)
    assert parse_shard("3/4") == Shard(3, 4)
