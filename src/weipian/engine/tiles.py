"""One unit of windowed detection: read a tile, run the change model, return pieces.

Each tile reads its window plus a halo, shifts the after epoch with the pair
model, masks clouds, shadows and the users' masks, computes the change
model's probabilities on its core (on the model's fixed tile grid, with
context from the halo), flags pixels above the threshold (and, with NIR,
not vegetation) and hands its core's flags to
:func:`weipian.patches.tile_pieces`. :func:`weipian.patches.assemble_pieces`
then merges the pieces of all tiles into patches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from rasterio.windows import transform as window_transform

from ..learn.inputs import epoch_channels
from ..learn.network_outputs import OUTPUTS
from ..patches import tile_pieces
from ..raster.clouds import cloud_masks
from .pair_model import PairModel, normalise_window, shift_window, shifted_valid
from .windows import Tile

# rasterio builds a transform-less dataset for the mask inside shapes() and
# warns about it; the polygons carry the transform we pass.
warnings.filterwarnings("ignore", message="Dataset has no geotransform",
                        module=r"rasterio\.features")

__all__ = ["process_tile", "change_probability", "Detector", "MaskSettings", "obscured_mask", "CELL"]


@dataclass(frozen=True)
class MaskSettings:
    """What to mask, for the workers.

    Attributes
    ----------
    clouds : weipian.raster.clouds.CloudParams or None
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
    """Clouds and shadows in either epoch, and the users' masks, on one read window.

    ``after`` is the shifted after epoch; it is normalised onto the before
    epoch's radiometry here, and only when clouds are to be detected.
    """
    obscured = np.zeros(valid.shape, bool)
    if masks is None:
        return obscured
    if masks.clouds is not None:
        for image in (before, normalise_window(after, model)):
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


@dataclass(frozen=True)
class Detector:
    """What every tile needs to turn two epochs into flags.

    Attributes
    ----------
    model : weipian.learn.model.ChangeModel
    target : {"construction", "any"}
        Which model output is flagged.
    threshold : float
        Probability above which a pixel is flagged.
    gsd_m : float
        Pixel size given to the network (metres).
    vegetation_ndvi : float or None
        After-epoch NDVI above which a pixel is vegetation (needs NIR).
    factor : int
        Network tiles are averaged down by this factor (working resolution).
    flips : bool
        Average the network over four flips of each tile.
    """

    model: object
    target: str = "construction"
    threshold: float = 0.5
    gsd_m: float = 1.0
    vegetation_ndvi: float | None = 0.5
    factor: int = 1
    flips: bool = False


def _ndvi(image: np.ndarray, roles) -> np.ndarray:
    nir = image[roles["nir"]].astype(np.float32)
    red = image[roles["red"]].astype(np.float32)
    total = nir + red
    out = np.zeros_like(total)
    np.divide(nir - red, total, out=out, where=total > 0)
    return out


def change_probability(before: np.ndarray, after: np.ndarray, roles, pair: PairModel, detector: Detector,
                       region) -> np.ndarray:
    """Network probabilities ``(2, rows, cols)`` over ``region`` of a read window.

    Each epoch is stretched by its whole-image levels from the pair model,
    so every window sees the same stretch.
    """
    use_nir = getattr(detector.model, "uses_nir", True)
    cb = epoch_channels(before, roles, np.asarray(pair.levels_before), detector.gsd_m, use_nir=use_nir)
    ca = epoch_channels(after, roles, np.asarray(pair.levels_after), detector.gsd_m, use_nir=use_nir)
    return detector.model.probabilities(cb, ca, region, factor=detector.factor, flips=detector.flips)


def process_tile(reader, tile: Tile, pair: PairModel, detector: Detector, *, min_pixels: int = 1,
                 masks=None) -> dict:
    """Detect changes in one tile and return its pieces.

    Parameters
    ----------
    reader : weipian.io.PairReader
    tile : Tile
        Its core must start on the network's tile grid (multiples of
        ``detector.model.tile``) and its read window carry
        :data:`weipian.engine.windows.HALO` around it, so that every pixel's
        probability is the same whatever the window size.
    pair : PairModel
    detector : Detector
    min_pixels : int
    masks : MaskSettings, optional
        Cloud and shadow detection and user masks; obscured pixels are never
        flagged.

    Returns
    -------
    dict of arrays
        See :func:`weipian.patches.tile_pieces` (the score is the mean
        probability); also ``flagged``, ``valid`` and ``obscured`` pixel
        counts of the core as 1-element arrays, and ``obscured_cells``, the
        obscured share of each ``CELL``-pixel cell of the core.
    """
    before, after, valid = reader.read(tile.read)
    after, valid = shift_window(after, valid, pair)
    obscured = obscured_mask(reader, tile, before, after, valid, pair, masks)
    r, c = tile.inner
    prob = change_probability(before, after, reader.roles, pair, detector,
                              (r.start, c.start, r.stop, c.stop))[OUTPUTS.index(detector.target)]
    core_valid = valid[r, c] & ~obscured[r, c]
    core_mask = (prob >= np.float32(detector.threshold)) & core_valid
    if detector.vegetation_ndvi is not None and "nir" in reader.roles:
        core_mask &= _ndvi(after[:, r, c], reader.roles) <= np.float32(detector.vegetation_ndvi)
    pieces = tile_pieces(core_mask, prob, transform=window_transform(tile.core, reader.transform),
                         row_off=int(tile.core.row_off), col_off=int(tile.core.col_off),
                         width=reader.shape[1], min_pixels=min_pixels)
    pieces["flagged"] = np.array([int(core_mask.sum())])
    pieces["valid"] = np.array([int(valid[r, c].sum())])
    pieces["obscured"] = np.array([int(obscured[r, c].sum())])
    pieces["obscured_cells"] = _cell_fraction(obscured[r, c])
    return pieces
