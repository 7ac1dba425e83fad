"""Settings of the classical change core, in image-independent units."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChangeParams"]


@dataclass(frozen=True)
class ChangeParams:
    """Settings of the change core, all in image-independent units.

    Parameters
    ----------
    smooth_sigma : float
        Gaussian smoothing (pixels) of both epochs before differencing; absorbs
        sensor blur differences and residual misregistration.
    min_magnitude : float
        A pixel changed when its change vector is longer than this many robust
        noise spreads (see :func:`change_magnitude`).
    max_ndvi : float
        Built surfaces have NDVI below this (vegetation is above).
    min_ndwi : float
        Water has NDWI (green - nir) / (green + nir) above this.
    soil_slope : float
        Bare soil and senescent grass rise steadily from blue to nir (or red in
        RGB imagery): a normalised slope ``(long - blue) / (long + blue)`` above
        this marks soil-like surfaces, unless they are strongly red (tile).
    tile_redness : float
        ``(red - green) / (red + green)`` above this marks red tile roofs.
    open_radius, close_radius : int
        Radii (pixels) of the morphological opening and closing of the flags.
    grow_magnitude : float
        Smoothing shrinks small objects (their edge pixels mix with the
        background); flagged patches are grown back by ``smooth_sigma``
        pixels into neighbours whose change magnitude exceeds this and that
        were not built before.
    water_max_brightness : float or None
        Water is darker than this band-mean (image units); white roofs can
        have a water-like NDWI but are far brighter. :func:`detect_change`
        sets it to the median band-mean of the before epoch's valid pixels
        when it is None (the windowed pipeline uses the whole-pair median).
    """

    smooth_sigma: float = 1.0
    min_magnitude: float = 4.0
    max_ndvi: float = 0.25
    min_ndwi: float = 0.05
    soil_slope: float = 0.30
    soil_slope_rgb: float = 0.18
    tile_redness: float = 0.30
    rgb_min_ngrdi: float = 0.06
    open_radius: int = 1
    close_radius: int = 1
    grow_magnitude: float = 2.0
    water_max_brightness: float | None = None
