"""Folders root keeps on this machine for the demo and the tests (server roots, keys, stack
state): no other user may plant, read or replace anything in them."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotPrivate(RuntimeError):
    """A folder root would keep secrets or server roots in is not root's alone."""


def private_folder(path: Path) -> Path:
    """`path`, made root's and 0700 where missing. Refused where it or a folder above it is a
    link, is not root's, or is writable by others (a sticky folder above it, like /tmp, is
    fine: no one else can replace what root made in it); an existing `path` must be 0700."""
    path = Path(os.path.abspath(path))
    for folder in reversed([path, *path.parents]):
        if not os.path.lexists(folder):
            os.mkdir(folder, 0o700)
            os.chmod(folder, 0o700)  # whatever the umask
        info = os.lstat(folder)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise NotPrivate(f"{folder} is not a folder but {'a link' if stat.S_ISLNK(info.st_mode) else 'a file'}")
        if info.st_uid != 0:
            raise NotPrivate(f"{folder} belongs to uid {info.st_uid}, not root: another user could plant files there")
        writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if writable and (folder == path or not info.st_mode & stat.S_ISVTX):
            raise NotPrivate(f"{folder} is writable by others (mode {stat.S_IMODE(info.st_mode):o})")
    if stat.S_IMODE(os.lstat(path).st_mode) != 0o700:
        raise NotPrivate(f"{path} is mode {stat.S_IMODE(os.lstat(path).st_mode):o}, not 0700: others may read it")
    return path


def open_private(path: Path):
    """A file in a private folder, opened for writing without following a link, 0600 when made."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), "w")
