"""From a flag mask to patches: label, filter by area, polygonise, score.

The table is a dict of column arrays (like
:func:`skimage.measure.regionprops_table`); :func:`patches_to_frame` turns
it into a GeoDataFrame. Patch order — and so the serial in the id — is the
raster order of each patch's first pixel (top row first, then left column),
which is the same on every rerun.
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from rasterio import features
from scipy import ndimage

__all__ = ["label_patches", "patch_table", "patches_to_frame"]

_EIGHT = np.ones((3, 3), bool)


def label_patches(mask: np.ndarray, *, min_pixels: int = 1) -> tuple[np.ndarray, int]:
    """Label 8-connected patches and drop those smaller than ``min_pixels``.

    Parameters
    ----------
    mask : (M, N) ndarray of bool
    min_pixels : int

    Returns
    -------
    labels : (M, N) ndarray of int32
        0 is background; patches are numbered 1..n in raster order of their
        first pixel.
    n : int

    Examples
    --------
    >>> m = np.zeros((5, 5), bool); m[0, 0] = m[1, 1] = True; m[3:5, 3:5] = True
    >>> labels, n = label_patches(m, min_pixels=3)
    >>> n, int(labels[4, 4])
    (1, 1)
    """
    labels, n = ndimage.label(mask, structure=_EIGHT)
    if n == 0:
        return labels.astype(np.int32), 0
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    remap = np.zeros(n + 1, np.int32)
    remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    # ndimage.label numbers in raster order of first pixel, so remap keeps it.
    return remap[labels], int(keep.sum())


def patch_table(
    labels: np.ndarray,
    n: int,
    *,
    transform: Affine,
    score: np.ndarray | None = None,
    extra_properties: dict | None = None,
) -> dict[str, np.ndarray]:
    """Polygonise labelled patches into a dict of columns.

    Parameters
    ----------
    labels : (M, N) ndarray of int32
        From :func:`label_patches`.
    n : int
        Number of patches.
    transform : affine.Affine
        Pixel to world transform of ``labels``.
    score : (M, N) ndarray, optional
        Per-pixel change score; each patch gets its mean.
    extra_properties : dict of callables, optional
        ``name -> f(labels, n) -> (n,) array``, added as columns.

    Returns
    -------
    dict
        ``label`` (int), ``geometry`` (shapely Polygon/MultiPolygon in world
        coordinates), ``pixels`` (int), ``score`` (float).
    """
    index = np.arange(1, n + 1)
    geoms = np.empty(n, object)
    if n:
        parts: dict[int, list] = {}
        for geom, value in features.shapes(
            labels, mask=labels > 0, connectivity=8, transform=transform
        ):
            parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
        for value, polys in parts.items():
            geoms[value - 1] = polys[0] if len(polys) == 1 else shapely.union_all(polys)
    pixels = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    table = {"label": index, "geometry": geoms, "pixels": pixels}
    if score is not None and n:
        table["score"] = np.asarray(ndimage.mean(score, labels, index), dtype=np.float64)
    else:
        table["score"] = np.zeros(n)
    for name, func in (extra_properties or {}).items():
        table[name] = np.asarray(func(labels, n))
    return table


def patches_to_frame(table: dict, crs) -> "geopandas.GeoDataFrame":  # noqa: F821
    """Turn a patch table into a GeoDataFrame in ``crs``."""
    import geopandas as gpd

    columns = {k: v for k, v in table.items() if k != "geometry"}
    return gpd.GeoDataFrame(columns, geometry=list(table["geometry"]), crs=crs)
