"""Real single-date land-cover tiles (GID-15, LoveDA) in one class scheme, ready for sampling.

The tiles of ``realdata/train/landcover/`` carry per-pixel classes in two
schemes; both are mapped here onto :data:`COVER_CLASSES`, the classes that
matter on farmland:

==========  =====================================  ==========================
class       GID-15 values                          LoveDA values
==========  =====================================  ==========================
built       0–3 industrial, residential, traffic   2 building, 3 road
paddy       4 paddy field                          —
crop        5 irrigated, 6 dry cropland            7 agriculture
garden      7 garden plot                          —
forest      8 arbor woodland, 9 shrub land         6 forest
grass       10 natural, 11 artificial grassland    —
water       12 river, 13 lake, 14 pond             4 water
bare        —                                      5 barren
unknown     15 unlabelled                          0 no-data, 1 background
==========  =====================================  ==========================

The tiles feed the synthetic seasonal pairs (:mod:`weipian.learn.seasons`):
real farmland whose parcels change state between dates without anything
being built.
"""

from __future__ import annotations

import csv
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TrainingDataError

__all__ = ["COVER_CLASSES", "LandCoverTile", "load_landcover_folder", "GID_TO_COVER", "LOVEDA_TO_COVER",
           "split_of", "is_held_out"]

log = logging.getLogger(__name__)

#: The common classes, by index.
COVER_CLASSES = ("built", "paddy", "crop", "garden", "forest", "grass", "water", "bare", "unknown")
UNKNOWN = COVER_CLASSES.index("unknown")

#: GID-15 class value -> index into :data:`COVER_CLASSES`.
GID_TO_COVER = np.array([0, 0, 0, 0, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6, 6, UNKNOWN] + [UNKNOWN] * 240, np.uint8)
#: LoveDA class value -> index into :data:`COVER_CLASSES`.
LOVEDA_TO_COVER = np.array([UNKNOWN, UNKNOWN, 0, 0, 6, 7, 4, 2] + [UNKNOWN] * 248, np.uint8)

#: Share of tiles of each set kept out of training and calibration, to measure on, and the share
#: after it used to calibrate thresholds (chosen by a hash of the tile name, so stable).
HELD_OUT_SHARE = 0.15
VALIDATION_SHARE = 0.10


@dataclass(frozen=True)
class LandCoverTile:
    """One land-cover tile.

    Attributes
    ----------
    name : str
        ``<set>/<tile>``, e.g. ``gid15/paddy_field_3``.
    image : (4, M, N) ndarray of float32
        Red, green, blue stretched by the tile's own 2nd–98th percentiles;
        band 3 (near-infrared) is zero: these tiles have none.
    cover : (M, N) ndarray of uint8
        Index into :data:`COVER_CLASSES`.
    gsd_m : float
        Ground sampling distance in metres.
    """

    name: str
    image: np.ndarray
    cover: np.ndarray
    gsd_m: float


def split_of(name: str) -> str:
    """``held_out``, ``validation`` or ``train``: a tile's part, from a stable hash of its name.

    Examples
    --------
    >>> split_of("gid15/paddy_field_3") in ("held_out", "validation", "train")
    True
    """
    u = (zlib.crc32(name.encode("utf-8")) % 1000) / 1000
    if u < HELD_OUT_SHARE:
        return "held_out"
    return "validation" if u < HELD_OUT_SHARE + VALIDATION_SHARE else "train"


def is_held_out(name: str) -> bool:
    """Whether a tile is kept out of training and calibration (see :func:`split_of`)."""
    return split_of(name) == "held_out"


def load_landcover_folder(root, *, split: str = "train",
                          gsd_by_set: dict | None = None) -> list[LandCoverTile]:
    """Read land-cover tiles (``<set>/<name>/image.png`` and ``label.png``).

    Parameters
    ----------
    root : str or Path
        ``realdata/train/landcover`` (with its ``manifest.csv`` giving
        ``resolution_m``).
    split : {"train", "validation", "held_out", "all"}
        The tiles to read: those for training, those for calibrating
        thresholds, those kept out of both to measure on (:func:`split_of`),
        or all.
    gsd_by_set : dict, optional
        Pixel size per set, where the manifest does not give it.

    Returns
    -------
    list of LandCoverTile

    Raises
    ------
    weipian.errors.TrainingDataError
        If the folder does not exist or holds no tile of a known set.
    """
    from .inputs import model_bands, robust_levels
    from .samples import read_image

    root = Path(root)
    if not root.is_dir():
        raise TrainingDataError(f"{root}: no such folder of land-cover tiles")
    resolution = _manifest_resolution(root)
    tiles = []
    for set_name, mapping in (("gid15", GID_TO_COVER), ("loveda", LOVEDA_TO_COVER)):
        for image_path in sorted((root / set_name).glob("*/image.*")):
            name = f"{set_name}/{image_path.parent.name}"
            if split != "all" and split_of(name) != split:
                continue
            label_path = image_path.with_name("label.png")
            if not label_path.exists():
                continue
            gsd = resolution.get(name) or (gsd_by_set or {}).get(set_name)
            if gsd is None:
                raise TrainingDataError(f"{root / 'manifest.csv'}: no resolution_m for {name}; "
                                        "add the row or pass gsd_by_set")
            image, roles = read_image(image_path)
            from PIL import Image

            with Image.open(label_path) as im:
                cover = mapping[np.asarray(im.convert("L"))]
            bands = model_bands(image, roles, robust_levels(image))
            tiles.append(LandCoverTile(name=name, image=bands, cover=cover, gsd_m=float(gsd)))
    if not tiles:
        raise TrainingDataError(f"{root}: no land-cover tiles (expected gid15/<name>/image.png and "
                                "loveda/<name>/image.png with label.png beside them)")
    log.info("read %d land-cover tiles (%s) from %s", len(tiles), split, root)
    return tiles


def _manifest_resolution(root: Path) -> dict[str, float]:
    path = root / "manifest.csv"
    if not path.exists():
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = row["dataset"].replace("landcover/", "") + "/" + row["pair"]
            out[name] = float(row["resolution_m"])
    return out
