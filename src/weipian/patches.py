"""Flags to patches: the one path from a mask to polygons to the minimum mapping unit.

Windowed detection polygonises the 4-connected regions of each tile's core
as *pieces* (:func:`tile_pieces`), with their pixel count, score sum and
first pixel; :func:`assemble_pieces` merges pieces that touch (edge or
corner: 8-connectivity, within a tile or across tile seams) into patches
and applies the minimum mapping unit. Because a single tile goes through
exactly the same steps, the patches (geometry, order, ids) do not depend on
the tile size. :func:`min_pixels_for` is the one place where the minimum
mapping unit in m² becomes a pixel count.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import shapely
from rasterio import features
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# rasterio builds a transform-less dataset for the mask inside shapes() and
# warns about it; the polygons carry the transform we pass.
warnings.filterwarnings("ignore", message="Dataset has no geotransform",
                        module=r"rasterio\.features")

__all__ = ["min_pixels_for", "mask_to_patches", "tile_pieces", "assemble_pieces", "empty_pieces"]


def min_pixels_for(min_area_m2: float, pixel_m2: float) -> int:
    """Pixels a patch needs to reach the minimum mapping unit (at least 1).

    Patches are kept by pixel count while tiles are merged, then by their
    exact projected area (``area_m2 >= min_area_m2``).

    Examples
    --------
    >>> min_pixels_for(50.0, 4.0), min_pixels_for(50.0, 100.0)
    (12, 1)
    """
    return max(1, int(math.floor(min_area_m2 / pixel_m2)))


_SCORE_SCALE = 1e4
_FOUR = ndimage.generate_binary_structure(2, 1)
_EIGHT = np.ones((3, 3), bool)


def empty_pieces() -> dict:
    """A piece table with no rows."""
    return {"wkb": np.empty(0, object), "first": np.empty(0, np.int64),
            "pixels": np.empty(0, np.int64), "score_sum": np.empty(0, np.int64)}


def tile_pieces(mask: np.ndarray, score: np.ndarray, *, transform, row_off: int, col_off: int,
                width: int, min_pixels: int) -> dict:
    """Polygonise the 4-connected regions of a core mask.

    Regions of 8-connected components that lie wholly inside the core and are
    smaller than ``min_pixels`` are dropped here (they are complete); all
    others are kept for :func:`assemble_pieces`.

    Parameters
    ----------
    mask : (M, N) ndarray of bool
        The core of a tile.
    score : (M, N) ndarray of float
    transform : affine.Affine
        Of the core.
    row_off, col_off : int
        Core offset in the image.
    width : int
        Image width (for the global first-pixel index).
    min_pixels : int

    Returns
    -------
    dict of arrays
        ``wkb`` (polygon WKB), ``first`` (image-wide raster index of the
        region's first pixel), ``pixels``, ``score_sum``.
    """
    if not mask.any():
        return empty_pieces()
    comp8, n8 = ndimage.label(mask, structure=_EIGHT)
    sizes8 = np.bincount(comp8.ravel(), minlength=n8 + 1)
    edge = np.zeros(n8 + 1, bool)
    for line in (comp8[0], comp8[-1], comp8[:, 0], comp8[:, -1]):
        edge[line] = True
    keep8 = (sizes8 >= min_pixels) | edge
    keep8[0] = False
    mask = keep8[comp8]
    if not mask.any():
        return empty_pieces()
    comp4, n4 = ndimage.label(mask, structure=_FOUR)
    flat = comp4.ravel()
    nonzero = np.flatnonzero(flat)
    labels, first_local = np.unique(flat[nonzero], return_index=True)
    first_local = nonzero[first_local]
    rows, cols = np.divmod(first_local, mask.shape[1])
    first = (rows + row_off).astype(np.int64) * width + (cols + col_off)
    pixels = np.bincount(flat, minlength=n4 + 1)[1:]
    # Scores are summed as integers (1e-4 units) so the sum is the same
    # whatever order the pieces are merged in.
    quantised = np.round(score.ravel().astype(np.float64) * _SCORE_SCALE)
    score_sum = np.bincount(flat, weights=quantised, minlength=n4 + 1)[1:].astype(np.int64)
    wkb = np.empty(n4, object)
    for geom, value in features.shapes(comp4.astype(np.int32), mask=mask, connectivity=4,
                                       transform=transform):
        wkb[int(value) - 1] = shapely.to_wkb(shapely.geometry.shape(geom))
    return {"wkb": wkb, "first": first[np.argsort(labels)], "pixels": pixels.astype(np.int64),
            "score_sum": score_sum}


def assemble_pieces(parts: list[dict], *, min_pixels: int = 1) -> dict:
    """Merge touching pieces into patches, filter, order.

    Parameters
    ----------
    parts : list of dict
        Piece tables from :func:`process_tile`, in any order.
    min_pixels : int

    Returns
    -------
    dict of arrays
        ``geometry`` (canonical polygons: no collinear vertices, normalised
        ring order), ``pixels``, ``score`` (mean), ``first``; ordered by the
        raster index of each patch's first pixel.
    """
    wkb = np.concatenate([p["wkb"] for p in parts]) if parts else np.empty(0, object)
    if wkb.size == 0:
        return {"geometry": np.empty(0, object), "pixels": np.empty(0, np.int64),
                "score": np.empty(0), "first": np.empty(0, np.int64)}
    first = np.concatenate([p["first"] for p in parts])
    pixels = np.concatenate([p["pixels"] for p in parts])
    score_sum = np.concatenate([p["score_sum"] for p in parts])
    geoms = shapely.from_wkb(wkb)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    n = len(geoms)
    graph = coo_matrix((np.ones(i.size, np.int8), (i, j)), shape=(n, n))
    n_groups, group = connected_components(graph, directed=False)
    g_pixels = np.bincount(group, weights=pixels, minlength=n_groups).astype(np.int64)
    g_score = np.zeros(n_groups, np.int64)
    np.add.at(g_score, group, score_sum)
    g_first = np.full(n_groups, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(g_first, group, first)
    keep = np.flatnonzero(g_pixels >= min_pixels)
    keep = keep[np.argsort(g_first[keep], kind="stable")]
    order = np.argsort(group, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=n_groups))])
    out = np.empty(len(keep), object)
    for k, g in enumerate(keep):
        members = geoms[order[bounds[g]:bounds[g + 1]]]
        out[k] = members[0] if len(members) == 1 else shapely.union_all(members)
    out = shapely.normalize(shapely.simplify(out, 0.0)) if len(out) else out
    return {"geometry": out, "pixels": g_pixels[keep], "score": g_score[keep] / _SCORE_SCALE / g_pixels[keep],
            "first": g_first[keep]}


def mask_to_patches(mask: np.ndarray, *, transform, min_pixels: int = 1,
                    score: np.ndarray | None = None) -> dict:
    """Patches of a whole in-memory mask: the windowed path with one window.

    Parameters
    ----------
    mask : (M, N) ndarray of bool
    transform : affine.Affine
        Of the mask.
    min_pixels : int
        Minimum mapping unit in pixels (see :func:`min_pixels_for`).
    score : (M, N) ndarray of float, optional
        Per-pixel score; the patch score is its mean (default 0).

    Returns
    -------
    dict of arrays
        As :func:`assemble_pieces`: ``geometry``, ``pixels``, ``score``,
        ``first``, in raster order of each patch's first pixel.
    """
    score = np.zeros(mask.shape, np.float32) if score is None else score
    pieces = tile_pieces(np.asarray(mask, bool), score, transform=transform, row_off=0, col_off=0,
                         width=mask.shape[1], min_pixels=min_pixels)
    return assemble_pieces([pieces], min_pixels=min_pixels)
