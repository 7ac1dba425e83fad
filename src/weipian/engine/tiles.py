"""One unit of windowed detection: read a tile, run the change core, return pieces.

Each tile reads its window plus a halo, prepares it with the pair model
(shift, normalisation), masks clouds, shadows and the users' masks, runs
the change core and hands its core's flags to
:func:`weipian.patches.tile_pieces`. :func:`weipian.patches.assemble_pieces`
then merges the pieces of all tiles into patches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
from rasterio.windows import transform as window_transform

from ..patches import tile_pieces
from ..raster.classic import detect_change
from ..raster.clouds import cloud_masks
from ..raster.params import ChangeParams
from .pair_model import PairModel, prepare_window, shifted_valid
from .windows import Tile

# rasterio builds a transform-less dataset for the mask inside shapes() and
# warns about it; the polygons carry the transform we pass.
warnings.filterwarnings("ignore", message="Dataset has no geotransform",
                        module=r"rasterio\.features")

__all__ = ["process_tile", "MaskSettings", "obscured_mask", "CELL"]


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
