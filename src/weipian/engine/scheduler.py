"""Run tiles in parallel through Dask, with progress and resumption.

The local threaded scheduler is the default (GDAL, OpenCV and NumPy release
the GIL for the heavy work); ``scheduler="processes"`` uses local processes,
and an address such as ``tcp://host:8786`` (or the ``WEIPIAN_SCHEDULER``
environment variable) sends the same tasks to a ``dask.distributed``
cluster. Finished tiles can be kept in a work folder so that an interrupted
run resumes without redoing them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
from pathlib import Path

from ..errors import WeipianError
from ..io import PairSpec, atomic_path
from .readers import close_readers, read_window, reader_for, reading_threads
from .tiles import process_tile

__all__ = ["run_tiles", "resolve_scheduler", "WorkFolder", "read_window", "close_readers"]

def _tile_task(spec, tile, pair, detector, min_pixels, work_dir, masks=None):
    pieces = process_tile(reader_for(spec), tile, pair, detector, min_pixels=min_pixels, masks=masks)
    if work_dir is not None:
        WorkFolder(work_dir).save(tile.key, pieces)
    return pieces


def resolve_scheduler(scheduler: str | None):
    """The scheduler to use: the argument, else ``WEIPIAN_SCHEDULER``, else threads."""
    scheduler = scheduler or os.environ.get("WEIPIAN_SCHEDULER") or "threads"
    if scheduler not in ("threads", "processes", "synchronous") and "://" not in str(scheduler):
        raise WeipianError(
            f"scheduler was {scheduler!r} but is expected to be threads, processes, synchronous "
            "or a dask.distributed address such as tcp://host:8786"
        )
    return scheduler


class WorkFolder:
    """Finished tiles of one run, for ``--resume``.

    Parameters
    ----------
    path : str or Path
    """

    def __init__(self, path):
        self.path = Path(path)
        #: Windows taken from the folder instead of recomputed by the last :func:`run_tiles`.
        self.reused = 0

    def bind(self, fingerprint: dict, *, resume: bool) -> None:
        """Start (or, with ``resume``, continue) a run with these settings."""
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
        stamp = self.path / "fingerprint.txt"
        if resume and stamp.exists() and stamp.read_text() != digest:
            raise WeipianError(
                f"{self.path}: holds a run with other inputs or settings; "
                "drop --resume to start afresh"
            )
        if not resume and self.path.exists():
            for old in self.path.glob("*.pkl"):
                old.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(stamp) as tmp:
            tmp.write_text(digest)

    def save(self, key: str, value) -> None:
        """Store a result atomically."""
        with atomic_path(self.path / f"{key}.pkl") as tmp:
            tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def load(self, key: str):
        """A stored result, or None."""
        p = self.path / f"{key}.pkl"
        if not p.exists():
            return None
        try:
            return pickle.loads(p.read_bytes())
        except Exception:  # a result cut short is simply recomputed
            return None

    def clear(self) -> None:
        """Remove the folder and its content."""
        if self.path.exists():
            for p in self.path.iterdir():
                p.unlink()
            self.path.rmdir()


def run_tiles(spec: PairSpec, tiles, pair, detector, *, min_pixels: int = 1, workers: int | None = None,
              scheduler: str | None = None,
              work: WorkFolder | None = None, progress: bool = False, masks=None) -> list[dict]:
    """Process every tile and return their piece tables, in tile order.

    Parameters
    ----------
    spec : PairSpec
    tiles : list of Tile
    pair : weipian.engine.pair_model.PairModel
    detector : weipian.engine.tiles.Detector
    min_pixels, masks
        As for :func:`weipian.engine.tiles.process_tile`.
    workers : int, optional
        Threads or processes for the local schedulers (default: all cores).
    scheduler : str, optional
        ``threads`` (default), ``processes``, ``synchronous`` or a
        ``dask.distributed`` address.
    work : WorkFolder, optional
        Where finished tiles are kept; tiles already there are not redone.
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    list of dict
    """
    import dask
    from tqdm.auto import tqdm

    scheduler = resolve_scheduler(scheduler)
    results = [None] * len(tiles)
    todo = []
    for k, tile in enumerate(tiles):
        done = work.load(tile.key) if work is not None else None
        if done is not None:
            results[k] = done
        else:
            todo.append(k)
    if work is not None:
        work.reused = len(tiles) - len(todo)
    bar = tqdm(total=len(tiles), initial=len(tiles) - len(todo), disable=not progress,
               unit="tile", desc="detect")
    work_dir = str(work.path) if work is not None else None
    tasks = [dask.delayed(_tile_task, pure=False)(spec, tiles[k], pair, detector, min_pixels, work_dir, masks)
             for k in todo]
    try:
        if "://" in scheduler:
            from distributed import Client, as_completed

            with Client(scheduler) as client:
                futures = client.compute(tasks)
                index = {f.key: k for f, k in zip(futures, todo)}
                for future in as_completed(futures):
                    results[index[future.key]] = future.result()
                    bar.update(1)
        else:
            from dask.callbacks import Callback

            class _Progress(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    if isinstance(result, dict) and "wkb" in result:
                        bar.update(1)

            kwargs = {"scheduler": scheduler}
            if scheduler == "processes":
                kwargs["num_workers"] = workers or os.cpu_count() or 1
            with contextlib.ExitStack() as stack:
                if scheduler == "threads":  # waits for every thread before closing its readers
                    kwargs["pool"] = stack.enter_context(reading_threads(spec, workers))
                with _Progress():
                    computed = dask.compute(*tasks, **kwargs)
            for k, value in zip(todo, computed):
                results[k] = value
    finally:
        bar.close()
        close_readers(spec)  # local threads and processes' results are in; release the files
    return results
