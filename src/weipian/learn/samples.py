"""Labelled change pairs and building tiles read from disk, ready for sampling.

A *change folder* holds one sub-folder per pair with ``before``, ``after``
and ``label`` images (PNG or GeoTIFF; label 0 = no change, 1 or 255 =
change), optionally grouped by dataset, with a ``manifest.csv`` giving each
pair's ``dataset``, ``pair``, ``path`` and ``resolution_m``, the layout of
``../shared/realdata/train/``. A *building folder* holds sub-folders with
``image`` and ``mask`` (footprints), used to paste synthetic construction.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..bands import resolve_band_roles
from ..errors import TrainingDataError
from .inputs import model_bands, robust_levels

__all__ = ["LabelledPair", "BuildingTile", "IGNORE", "load_change_folder", "load_building_folder",
           "read_image"]

log = logging.getLogger(__name__)

#: Label value for pixels whose truth is unknown (no loss there).
IGNORE = 255

_SUFFIXES = (".tif", ".tiff", ".png", ".jpg")


@dataclass(frozen=True)
class LabelledPair:
    """One labelled pair, each epoch stretched by its own robust levels.

    Attributes
    ----------
    name, dataset : str
    before, after : (4, M, N) ndarray of float32
        Red, green, blue, nir (zeros where ``has_nir`` is False).
    has_nir : bool
    gsd_m : float
        Ground sampling distance in metres.
    any_change : (M, N) ndarray of uint8
        1 changed, 0 unchanged, :data:`IGNORE` unknown.
    construction : (M, N) ndarray of uint8
        1 became built-up, 0 did not, :data:`IGNORE` unknown.
    """

    name: str
    dataset: str
    before: np.ndarray
    after: np.ndarray
    has_nir: bool
    gsd_m: float
    any_change: np.ndarray
    construction: np.ndarray

    def crop(self, rows: slice, cols: slice, suffix: str = "") -> "LabelledPair":
        """The same pair restricted to a window."""
        return replace(self, name=self.name + suffix, before=self.before[:, rows, cols],
                       after=self.after[:, rows, cols], any_change=self.any_change[rows, cols],
                       construction=self.construction[rows, cols])


@dataclass(frozen=True)
class BuildingTile:
    """A single-date image with building footprints.

    Attributes
    ----------
    image : (4, M, N) ndarray of float32
    mask : (M, N) ndarray of bool
    gsd_m : float
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    gsd_m: float


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return path
    return None


def read_image(path: Path) -> tuple[np.ndarray, dict[str, int]]:
    """Read an image as (B, M, N) with its band roles.

    PNG/JPEG are read as RGB; GeoTIFFs resolve their roles as
    :func:`weipian.bands.resolve_band_roles` does (descriptions, then count).
    """
    import rasterio

    path = Path(path)
    if path.suffix.lower() in (".png", ".jpg"):
        from PIL import Image

        with Image.open(path) as im:
            data = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
        return data, {"red": 0, "green": 1, "blue": 2}
    with rasterio.open(path) as src:
        roles = resolve_band_roles(src.count, descriptions=src.descriptions, source=str(path))
        return src.read(), roles


def _model_bands(image: np.ndarray, roles: dict, valid: np.ndarray) -> np.ndarray:
    return model_bands(image, roles, robust_levels(image, valid))


def _read_label(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".png", ".jpg"):
        from PIL import Image

        with Image.open(path) as im:
            data = np.asarray(im.convert("L"))
    else:
        import rasterio

        with rasterio.open(path) as src:
            data = src.read(1)
    return (data > 0).astype(np.uint8)


def _manifest(root: Path) -> dict[str, dict]:
    path = root / "manifest.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def load_pair(folder: Path, *, dataset: str, gsd_m: float, name: str | None = None,
              construction_known: bool = True) -> LabelledPair:
    """Read one pair folder (``before``, ``after``, ``label``)."""
    folder = Path(folder)
    paths = {stem: _find(folder, stem) for stem in ("before", "after", "label")}
    missing = [stem for stem, p in paths.items() if p is None]
    if missing:
        raise TrainingDataError(f"{folder}: no {', '.join(missing)} image (expected before/after/label "
                         f"as .tif or .png)")
    b, roles_b = read_image(paths["before"])
    a, roles_a = read_image(paths["after"])
    label = _read_label(paths["label"])
    if b.shape[1:] != a.shape[1:] or b.shape[1:] != label.shape:
        raise TrainingDataError(f"{folder}: before {b.shape[1:]}, after {a.shape[1:]} and label "
                         f"{label.shape} differ in size; they must be on one grid")
    valid = np.ones(label.shape, bool)
    if np.issubdtype(b.dtype, np.integer) and b.shape[0] > 3:
        valid = (b > 0).any(0) & (a > 0).any(0)
    has_nir = "nir" in roles_b and "nir" in roles_a
    construction = label.copy() if construction_known else np.full_like(label, IGNORE)
    any_change = label.copy()
    any_change[~valid] = IGNORE
    construction[~valid] = IGNORE
    return LabelledPair(name=name or folder.name, dataset=dataset,
                        before=_model_bands(b, roles_b, valid), after=_model_bands(a, roles_a, valid),
                        has_nir=has_nir, gsd_m=float(gsd_m), any_change=any_change,
                        construction=construction)


def load_change_folder(root, *, include=None, exclude=(), gsd_m: float | None = None,
                       construction_unknown=()) -> list[LabelledPair]:
    """Read every labelled pair under ``root``.

    Parameters
    ----------
    root : str or Path
        A folder with ``manifest.csv`` (``dataset``, ``pair``, ``path``,
        ``resolution_m``), or pair folders found by their ``label`` image.
    include, exclude : iterable of str, optional
        ``dataset`` or ``dataset/pair`` names to keep or drop.
    gsd_m : float, optional
        Pixel size for pairs the manifest does not give.
    construction_unknown : iterable of str
        Datasets whose labels mix construction and demolition (their
        construction target is ignored, the any-change target is used).

    Returns
    -------
    list of LabelledPair
    """
    root = Path(root)
    if not root.is_dir():
        raise TrainingDataError(f"{root}: no such folder of labelled pairs")
    manifest = _manifest(root)
    if manifest:
        entries = [(row["dataset"], row["pair"], root / rel, float(row["resolution_m"]))
                   for rel, row in manifest.items() if _find(root / rel, "label") is not None]
    else:
        if gsd_m is None:
            raise TrainingDataError(f"{root}: no manifest.csv giving resolution_m; pass the pixel size "
                             "(--gsd METRES)")
        entries = [(p.parent.parent.name if p.parent.parent != root else root.name, p.parent.name,
                    p.parent, float(gsd_m)) for p in sorted(root.rglob("label.*"))]
    include = set(include) if include else None
    exclude = set(exclude)
    unknown = set(construction_unknown)
    pairs = []
    for dataset, pair, folder, res in entries:
        key = f"{dataset}/{pair}"
        if include is not None and dataset not in include and key not in include:
            continue
        if dataset in exclude or key in exclude:
            continue
        pairs.append(load_pair(folder, dataset=dataset, gsd_m=res, name=key,
                               construction_known=dataset not in unknown))
    log.info("read %d labelled pairs from %s", len(pairs), root)
    return pairs


def load_building_folder(root, *, gsd_by_set: dict | None = None) -> list[BuildingTile]:
    """Read building tiles (``<set>/<name>/image.*`` and ``mask.*``).

    Parameters
    ----------
    root : str or Path
    gsd_by_set : dict, optional
        Pixel size per set; otherwise read from ``manifest.csv`` one level up,
        else 0.3 m.
    """
    root = Path(root)
    manifest = _manifest(root.parent)
    tiles = []
    for image_path in sorted(root.rglob("image.*")):
        mask_path = _find(image_path.parent, "mask")
        if mask_path is None:
            continue
        rel = str(image_path.parent.relative_to(root.parent))
        gsd = (gsd_by_set or {}).get(image_path.parent.parent.name)
        if gsd is None:
            gsd = float(manifest.get(rel, {}).get("resolution_m", 0.3))
        image, roles = read_image(image_path)
        mask = _read_label(mask_path).astype(bool)
        if not mask.any():
            continue
        tiles.append(BuildingTile(name=rel, image=_model_bands(image, roles, np.ones(mask.shape, bool)),
                                  mask=mask, gsd_m=float(gsd)))
    return tiles
