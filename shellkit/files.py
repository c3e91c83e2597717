"""Files written all or nothing, for every shell's state (wallet, registry, verifier cache)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one: a
    temporary file in the same directory, fsync, rename over the old one, fsync the directory.

    ``durable=False`` skips both fsyncs, for many files written in a row (the verifier's
    status lists): the rename is still atomic, but after a power cut a file may be empty, so
    the reader must treat a damaged file as missing; call :func:`sync_directory` at the end.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        sync_directory(path.parent)


DIRECTORY_FSYNC = os.name != "nt"


def sync_directory(directory: Path) -> None:
    """fsync a directory, so the renames in it survive a power cut.  Windows cannot open a
    directory (PermissionError) and needs no such call: NTFS journals the rename."""
    if not DIRECTORY_FSYNC:
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
