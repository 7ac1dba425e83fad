"""One open reader per thread and pair, and window reads through it.

GDAL datasets must not be shared between threads; tasks on a thread reuse
that thread's reader for a pair instead of reopening the files per window.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..io import PairReader, PairSpec

__all__ = ["reader_for", "read_window", "close_readers", "reading_threads"]

_readers: dict = {}
_readers_lock = threading.Lock()


def reader_for(spec: PairSpec) -> PairReader:
    """One open reader per thread and pair (GDAL datasets are not shared between threads)."""
    key = (threading.get_ident(), spec)
    with _readers_lock:
        reader = _readers.get(key)
    if reader is None:
        reader = PairReader(spec)
        with _readers_lock:
            _readers[key] = reader
    return reader


def close_readers(spec: PairSpec | None = None) -> None:
    """Close the readers this process opened for ``spec`` (all pairs when None)."""
    with _readers_lock:
        keys = [k for k in _readers if spec is None or k[1] == spec]
        readers = [_readers.pop(k) for k in keys]
    for reader in readers:
        reader.close()


def read_window(spec: PairSpec, window):
    """Read a window of a pair with this thread's reader (see :class:`PairReader`)."""
    return reader_for(spec).read(window)




@contextlib.contextmanager
def reading_threads(spec: PairSpec, workers: int | None = None):
    """A thread pool for Dask's threaded scheduler that closes its readers safely.

    On leaving, the pool is shut down *and waited for* before the readers of
    ``spec`` are closed. When one task fails, Dask raises at once while other
    tasks may still be reading on their threads; closing their GDAL datasets
    under them crashed the process or garbled the next error message.

    Yields
    ------
    concurrent.futures.ThreadPoolExecutor
        Pass it to ``dask.compute(..., scheduler="threads", pool=pool)``, or
        submit reads to it where one read must come first (the pair model's
        central crop).
    """
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        close_readers(spec)
