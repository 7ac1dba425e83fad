"""One epoch's land-cover map on the averaged grid, with clouds and no-data left without a cover."""

from __future__ import annotations

import numpy as np

from ..learn.cover_inputs import NO_COVER
from ..learn.inputs import model_bands, robust_levels
from ..raster.clouds import cloud_masks

__all__ = ["epoch_cover", "BARE_NDVI", "cover_classes"]

#: With a near-infrared band, pixels the model calls cropland or grass whose NDVI is below this are
#: bare ground (the textbook bare-soil range of NDVI is about 0–0.2); the land-cover training tiles
#: hold no labelled bare ground, so without NIR no pixel is bare.
BARE_NDVI = 0.15

_BARE_FROM = ("paddy", "crop", "grass")


def cover_classes(model) -> tuple[str, ...]:
    """The classes of the cover maps: the model's, then ``bare`` (from the NDVI rule)."""
    return tuple(model.classes) + ("bare",)


def epoch_cover(
    model,
    data: np.ndarray,
    roles: dict,
    valid: np.ndarray,
    gsd_m: float,
    *,
    clouds: bool = True,
    masked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land cover of one epoch.

    Parameters
    ----------
    model : weipian.learn.cover_model.CoverModel
        Or any object with ``classes`` and ``probabilities(rgb, gsd_m)``.
    data : (B, M, N) ndarray of float32
        The epoch on the averaged grid (bands in ``roles`` order).
    roles : dict
        Band role to index; red, green and blue are needed.
    valid : (M, N) ndarray of bool
        Pixels with data.
    gsd_m : float
        Pixel size of ``data`` in metres.
    clouds : bool
        Leave clouds and cloud shadows (:func:`weipian.raster.clouds.cloud_masks`)
        without a cover.
    masked : (M, N) ndarray of bool, optional
        Further pixels to leave without a cover (a user's mask).

    Returns
    -------
    cover : (M, N) ndarray of uint8
        Index into :func:`cover_classes`; :data:`~weipian.learn.cover_inputs.NO_COVER`
        where obscured or without data. With a ``nir`` band, cropland and grass
        pixels with NDVI under :data:`BARE_NDVI` are ``bare``.
    confidence : (M, N) ndarray of float32
        Probability of the chosen class.
    obscured : (M, N) ndarray of bool
        Pixels without a cover.
    """
    levels = robust_levels(data, valid)
    rgb = model_bands(data, roles, levels)[:3]
    rgb[:, ~valid] = 0.0
    prob = model.probabilities(rgb, gsd_m)
    cover = prob.argmax(0).astype(np.uint8)
    confidence = prob.max(0)
    if "nir" in roles:
        red, nir = data[roles["red"]], data[roles["nir"]]
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi = (nir - red) / (nir + red)
        soil = np.isin(cover, [model.classes.index(c) for c in _BARE_FROM if c in model.classes])
        cover[soil & (ndvi < BARE_NDVI)] = len(model.classes)
    obscured = ~valid
    if clouds and valid.any():
        brightness = float(np.median(data[:, valid].mean(0)))
        cloud, shadow = cloud_masks(data, roles, brightness, valid=valid, resolution_m=gsd_m)
        obscured = obscured | cloud | shadow
    if masked is not None:
        obscured = obscured | masked
    cover[obscured] = NO_COVER
    return cover, confidence, obscured
