"""Field-verified patches as training samples, so each quarter's field work improves the next.

:func:`export_training` writes, for every batch with verified patches, a
patch layer whose ``verified`` column holds the crew's outcome (真实新增,
实地未变化, 非建设: what :mod:`weipian.learn.verified` reads) beside the
images the batch was detected on, and a ``manifest.csv`` of them all::

    weipian train models/2024Q3 --from-model default --verified EXPORT/manifest.csv

The images are referenced where the ledger recorded them (a batch's before
and after epochs, absolute paths), not copied: the training reads each
patch's window through the same pair model as detection, which needs the
whole pair. Missing images are named before anything is written.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd

from ..errors import InputFileError
from ..io import atomic_path

__all__ = ["export_training", "read_training_manifest"]

MANIFEST_FIELDS = ("batch", "patches", "before", "after", "verified")


def export_training(ledger, output, *, batches=None) -> dict:
    """Write verified patches of the ledger as ``weipian train`` samples.

    Parameters
    ----------
    ledger : weipian.ledger.Ledger
    output : str or Path
        Folder: ``<batch>/verified.gpkg`` per batch and ``manifest.csv``.
    batches : list of str, optional
        Only these batches.

    Returns
    -------
    dict
        ``manifest`` (path), ``batches`` (batch -> verified patches written),
        ``outcomes`` (outcome -> count).

    Raises
    ------
    InputFileError
        If no patch is verified, or a batch's images are not where the ledger
        recorded them.
    """
    output = Path(output)
    patches = ledger.patches()
    # 非粮化 parcels carry no change label
    patches = patches[patches["outcome"].notna() & (patches["label"] != "non_grain")]
    if batches:
        patches = patches[patches["batch"].isin(list(batches))]
    if patches.empty:
        raise InputFileError(f"{ledger.location}: no verified patches to export; import field outcomes "
                             "with `weipian ledger verify FILE` first")
    images = ledger.batches().set_index("batch")
    missing = []
    for batch in sorted(patches["batch"].unique()):
        for role in ("before_image", "after_image"):
            path = images.loc[batch, role] if batch in images.index else ""
            if not path or not Path(path).exists():
                missing.append(f"{batch} {role.split('_')[0]}: {path or '(not recorded)'}")
    if missing:
        raise InputFileError(f"{ledger.location}: images of verified batches not found "
                             f"({'; '.join(missing)}); put them back where the batch was run, "
                             "then export again")
    output.mkdir(parents=True, exist_ok=True)
    rows, written = [], {}
    for batch, group in patches.groupby("batch", sort=True):
        folder = output / batch
        folder.mkdir(exist_ok=True)
        layer = gpd.GeoDataFrame(
            {"patch_id": group["patch_id"].to_numpy(), "verified": group["outcome"].to_numpy(),
             "category": group["outcome_category"].to_numpy(), "label": group["label"].to_numpy()},
            geometry=group.geometry.to_numpy(), crs=group.crs)
        target = folder / "verified.gpkg"
        with atomic_path(target) as tmp:
            layer.to_file(tmp, layer="verified", driver="GPKG", engine="pyogrio")
        written[batch] = len(layer)
        rows.append({"batch": batch, "patches": str(target.resolve()),
                     "before": images.loc[batch, "before_image"], "after": images.loc[batch, "after_image"],
                     "verified": len(layer)})
    manifest = output / "manifest.csv"
    with atomic_path(manifest) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    return {"manifest": manifest, "batches": written,
            "outcomes": patches["outcome"].value_counts().to_dict()}


def read_training_manifest(path) -> list[dict]:
    """Rows of a ``manifest.csv`` written by :func:`export_training`, paths checked.

    Raises
    ------
    InputFileError
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; write it with `weipian ledger export-training`")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or not set(MANIFEST_FIELDS[:4]) <= set(rows[0]):
        raise InputFileError(f"{path}: not a training manifest "
                             f"(needs columns {', '.join(MANIFEST_FIELDS[:4])})")
    for row in rows:
        for key in ("patches", "before", "after"):
            if not Path(row[key]).exists():
                raise InputFileError(f"{path}: batch {row['batch']}: {key} {row[key]} not found")
    return rows
