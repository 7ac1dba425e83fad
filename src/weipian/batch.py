"""Many pairs in one call: a manifest, one ``run`` per row, a summary.

The manifest is a CSV (UTF-8, BOM allowed) with one row per pair and the
columns ``before``, ``after``, ``output`` and optionally ``layers``,
``after_date``, ``before_date``, ``batch``, ``bands``. Relative paths are
relative to the manifest. A pair that fails is recorded and the others go on.

Pairs run concurrently on a ``dask.distributed`` cluster: a local cluster of
``concurrent`` single-threaded worker processes by default, or the cluster at
``scheduler`` (``tcp://host:8786``); each pair is one task and runs its own
windows one after another inside it, so the cluster's workers are never
oversubscribed. ``concurrent=1`` runs one pair at a time in this process,
its windows on all cores.
"""

from __future__ import annotations

import contextlib
import csv
import time
from pathlib import Path

from .errors import InputFileError, WeipianError
from .io import atomic_path

__all__ = ["MANIFEST_COLUMNS", "read_manifest", "run_batch"]

MANIFEST_COLUMNS = ("before", "after", "output", "layers", "after_date", "before_date", "batch",
                    "bands")
_PATH_COLUMNS = ("before", "after", "output", "layers")


def read_manifest(path) -> list[dict]:
    """Read and check a manifest; paths are resolved against its folder.

    Raises
    ------
    InputFileError
        If the file is missing, lacks a required column, or a row lacks a value.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: manifest not found; check the path")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
        columns = rows[0].keys() if rows else []
    missing = [c for c in ("before", "after", "output") if c not in columns]
    if missing or not rows:
        raise InputFileError(
            f"{path}: manifest needs the columns before, after, output (has {', '.join(columns) or 'none'}); "
            "one row per pair"
        )
    out = []
    for n, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k in MANIFEST_COLUMNS}
        for col in ("before", "after", "output"):
            if not row.get(col):
                raise InputFileError(f"{path}: line {n} has no {col}; fill it in")
        for col in _PATH_COLUMNS:
            if row.get(col):
                p = Path(row[col])
                row[col] = str(p if p.is_absolute() else path.parent / p)
        out.append(row)
    return out


def run_batch(manifest, *, overwrite: bool = False, concurrent: int | None = None, **settings) -> list[dict]:
    """Run every pair of a manifest; write ``batch_summary.csv`` beside it.

    Parameters
    ----------
    manifest : str or Path
    overwrite : bool
    concurrent : int, optional
        Pairs run at once on a local Dask cluster (default: the cores, at most
        the number of pairs); 1 runs them one after another in this process.
        Ignored where ``execution.scheduler`` names a ``dask.distributed``
        cluster: its workers take the pairs.
    **settings
        Passed to :func:`weipian.run`: settings objects (``detect=``,
        ``execution=`` ...) or their fields by name (``min_area``,
        ``workers`` ...); a manifest column wins for its row.

    Returns
    -------
    list of dict
        One summary per row, in the manifest's order: ``before``, ``after``,
        ``output``, ``status`` (``ok`` or ``failed``), ``patches``, ``seconds``,
        ``error``.
    """
    import os

    from .settings import resolve

    rows = read_manifest(manifest)
    names = ("detect", "judge", "deliver", "execution")
    objects = {k: settings.pop(k, None) for k in names}
    steps = dict(zip(names, resolve(settings, **objects)))
    address = steps["execution"].scheduler if "://" in str(steps["execution"].scheduler or "") else None
    concurrent = concurrent or min(os.cpu_count() or 1, len(rows))
    if address is None and concurrent <= 1:
        summary = [_run_row(row, overwrite, steps) for row in rows]
    else:
        summary = _on_cluster(rows, overwrite, steps, address=address, concurrent=concurrent)
    target = Path(manifest).with_name("batch_summary.csv")
    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8-sig") as f:
            writer = csv.DictWriter(f, fieldnames=list(summary[0]))
            writer.writeheader()
            writer.writerows(summary)
    return summary


def _run_row(row: dict, overwrite: bool, steps: dict) -> dict:
    """One manifest row through :func:`weipian.run`; its summary (failures recorded, not raised)."""
    from .workflows import run

    t0 = time.perf_counter()
    options = {col: row[col] for col in ("after_date", "before_date", "batch", "bands") if row.get(col)}
    try:
        frame = run(row["before"], row["after"], layers=row.get("layers") or None, output=row["output"],
                    overwrite=overwrite, **steps, **options)
        status, patches, error = "ok", len(frame), ""
    except WeipianError as exc:
        status, patches, error = "failed", 0, str(exc)
    return dict(before=row["before"], after=row["after"], output=row["output"], status=status,
                patches=patches, seconds=round(time.perf_counter() - t0, 2), error=error)


def _on_cluster(rows, overwrite: bool, steps: dict, *, address, concurrent: int) -> list[dict]:
    """Rows as tasks of a ``dask.distributed`` cluster (local unless ``address``); summaries in row order."""
    from dataclasses import replace

    from distributed import Client, LocalCluster

    # inside a task a pair runs its windows one after another: the cluster's workers are the cores
    inner = {**steps, "execution": replace(steps["execution"], scheduler="synchronous", workers=1,
                                           progress=False)}
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = stack.enter_context(LocalCluster(n_workers=concurrent, threads_per_worker=1,
                                                       processes=True, dashboard_address=None))
            address = cluster.scheduler_address
        client = stack.enter_context(Client(address))
        futures = [client.submit(_run_row, row, overwrite, inner, pure=False) for row in rows]
        return client.gather(futures)
