"""Windowed detection: per-tile pieces, then one assembly.

Each tile reads its window plus a halo, runs the change core, and polygonises
the 4-connected regions of its core as *pieces*, with their pixel count,
score sum and first pixel. :func:`assemble_pieces` merges pieces that touch
(edge or corner — 8-connectivity, within a tile or across tile seams) into
patches. Because a single tile goes through exactly the same steps, the
patches — geometry, order and ids — do not depend on the tile size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import shapely
from rasterio import features
from rasterio.windows import transform as window_transform
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .change import ChangeParams, detect_change
from .model import PairModel, prepare_window
from .windows import Tile

# rasterio builds a transform-less dataset for the mask inside shapes() and
# warns about it; the polygons carry the transform we pass.
warnings.filterwarnings("ignore", message="Dataset has no geotransform",
                        module=r"rasterio\.features")

__all__ = ["process_tile", "tile_pieces", "assemble_pieces", "empty_pieces", "MaskSettings",
           "obscured_mask", "CELL"]


@dataclass(frozen=True)
class MaskSettings:
    """What to mask, for the workers.

    Attributes
    ----------
    clouds : weipian.clouds.CloudParams or None
        Detect clouds and shadows in both epochs (None: do not).
    resolution_m : float
        Pixel size in metres.
    """

    clouds: object = None
    resolution_m: float = 1.0

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


#: Side (pixels) of the cells in which obscured area is accounted.
CELL = 16


def _cell_fraction(mask: np.ndarray) -> np.ndarray:
    """Share of each ``CELL`` × ``CELL`` cell that is True (edge cells padded with False)."""
    rows, cols = mask.shape
    pr, pc = -rows % CELL, -cols % CELL
    padded = np.pad(mask, ((0, pr), (0, pc))) if pr or pc else mask
    r, c = padded.shape[0] // CELL, padded.shape[1] // CELL
    return padded.reshape(r, CELL, c, CELL).mean(axis=(1, 3), dtype=np.float32)


def obscured_mask(reader, tile: Tile, before, after, valid, model: PairModel, masks) -> np.ndarray:
    """Clouds and shadows in either epoch, and the users' masks, on one read window."""
    from .clouds import cloud_masks
    from .model import shifted_valid

    obscured = np.zeros(valid.shape, bool)
    if masks is None:
        return obscured
    if masks.clouds is not None:
        for image in (before, after):
            cloud, shadow = cloud_masks(image, reader.roles, model.brightness, valid=valid,
                                        params=masks.clouds, resolution_m=masks.resolution_m)
            obscured |= cloud | shadow
    user_b, user_a = reader.user_masks(tile.read)
    if user_b is not None:
        obscured |= user_b
    if user_a is not None:
        if tuple(model.shift) != (0.0, 0.0):
            user_a = ~shifted_valid(~user_a, model.shift)
        obscured |= user_a
    return obscured & valid


def process_tile(reader, tile: Tile, model: PairModel, *, target="construction",
                 params: ChangeParams = ChangeParams(), min_pixels: int = 1, masks=None) -> dict:
    """Detect changes in one tile and return its pieces.

    Parameters
    ----------
    reader : weipian.io.PairReader
    tile : Tile
    model : PairModel
    target : str or callable
    params : ChangeParams
    min_pixels : int
    masks : weipian.engine.MaskSettings, optional
        Cloud and shadow detection and user masks; obscured pixels are never
        flagged.

    Returns
    -------
    dict of arrays
        See :func:`tile_pieces`; also ``flagged`` (pixels flagged in the core),
        ``valid`` (valid pixels in the core), ``obscured`` (obscured pixels in
        the core) as 1-element arrays, and ``obscured_cells``, the obscured
        share of each ``CELL``-pixel cell of the core.
    """
    before, after, valid = reader.read(tile.read)
    before, after, valid = prepare_window(before, after, valid, model)
    obscured = obscured_mask(reader, tile, before, after, valid, model, masks)
    params = replace(params, water_max_brightness=model.brightness)
    result = detect_change(before, after, reader.roles, valid=valid & ~obscured, target=target,
                           params=params, noise=np.asarray(model.noise))
    r, c = tile.inner
    core_mask = result.mask[r, c]
    pieces = tile_pieces(core_mask, result.magnitude[r, c],
                         transform=window_transform(tile.core, reader.transform),
                         row_off=int(tile.core.row_off), col_off=int(tile.core.col_off),
                         width=reader.shape[1], min_pixels=min_pixels)
    pieces["flagged"] = np.array([int(core_mask.sum())])
    pieces["valid"] = np.array([int(valid[r, c].sum())])
    pieces["obscured"] = np.array([int(obscured[r, c].sum())])
    pieces["obscured_cells"] = _cell_fraction(obscured[r, c])
    return pieces


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
