"""One epoch's land-cover map on the averaged grid, with clouds and no-data left without a cover."""

from __future__ import annotations

import numpy as np

from ..learn.cover_inputs import NO_COVER
from ..learn.inputs import model_bands, robust_levels
from ..raster.clouds import cloud_masks

__all__ = ["epoch_cover"]


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
        Index into ``model.classes``; :data:`~weipian.learn.cover_inputs.NO_COVER`
        where obscured or without data.
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
    obscured = ~valid
    if clouds and valid.any():
        brightness = float(np.median(data[:, valid].mean(0)))
        cloud, shadow = cloud_masks(data, roles, brightness, valid=valid, resolution_m=gsd_m)
        obscured = obscured | cloud | shadow
    if masked is not None:
        obscured = obscured | masked
    cover[obscured] = NO_COVER
    return cover, confidence, obscured
