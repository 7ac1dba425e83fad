"""Many pairs in one call: a manifest, one ``run`` per row, a summary.

The manifest is a CSV (UTF-8, BOM allowed) with one row per pair and the
columns ``before``, ``after``, ``output`` and optionally ``layers``,
``after_date``, ``before_date``, ``batch``, ``bands``. Relative paths are
relative to the manifest. Every pair's windows go through the same Dask
scheduler, so a ``dask.distributed`` cluster works through the whole list. A
pair that fails is recorded and the others go on.
"""

from __future__ import annotations

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


def run_batch(manifest, *, overwrite: bool = False, **settings) -> list[dict]:
    """Run every pair of a manifest; write ``batch_summary.csv`` beside it.

    Parameters
    ----------
    manifest : str or Path
    overwrite : bool
    **settings
        Passed to :func:`weipian.run`: settings objects (``detect=``,
        ``execution=`` ...) or their fields by name (``min_area``,
        ``workers`` ...); a manifest column wins for its row.

    Returns
    -------
    list of dict
        One summary per row: ``before``, ``after``, ``output``, ``status``
        (``ok`` or ``failed``), ``patches``, ``seconds``, ``error``.
    """
    from .workflows import run

    rows = read_manifest(manifest)
    summary = []
    for row in rows:
        t0 = time.perf_counter()
        kwargs = dict(settings)
        for col in ("after_date", "before_date", "batch", "bands"):
            if row.get(col):
                kwargs[col] = row[col]
        try:
            frame = run(row["before"], row["after"], layers=row.get("layers") or None,
                        output=row["output"], overwrite=overwrite, **kwargs)
            summary.append(dict(before=row["before"], after=row["after"], output=row["output"],
                                status="ok", patches=len(frame),
                                seconds=round(time.perf_counter() - t0, 2), error=""))
        except WeipianError as exc:
            summary.append(dict(before=row["before"], after=row["after"], output=row["output"],
                                status="failed", patches=0,
                                seconds=round(time.perf_counter() - t0, 2), error=str(exc)))
    target = Path(manifest).with_name("batch_summary.csv")
    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8-sig") as f:
            writer = csv.DictWriter(f, fieldnames=list(summary[0]))
            writer.writeheader()
            writer.writerows(summary)
    return summary
