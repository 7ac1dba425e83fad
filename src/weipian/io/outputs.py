"""Outputs written whole or not at all, and never over a file without ``--overwrite``."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from ..errors import (
    OutputError,
    OutputExistsError,
    WeipianError,
)

__all__ = ["atomic_path", "check_output"]


def check_output(path, *, overwrite: bool) -> Path:
    """Refuse to clobber an existing output unless ``overwrite``; check the folder is writable."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    for folder in [parent, *parent.parents]:
        if folder.exists():
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise OutputError(f"{folder}: the output folder is not writable; choose another with -o")
            break
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place on success.

    A crash leaves the previous file (or none), never a half-written one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path.parent}: the output folder cannot be made ({exc.strerror}); "
                          "choose another -o") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OutputError(f"{path}: the disk is full; free space or write elsewhere with -o") from None
        if isinstance(exc, WeipianError):
            raise
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc}); choose another -o") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
