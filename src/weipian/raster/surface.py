"""Built-surface test of the classical change core.

Is a pixel a roof, concrete or asphalt rather than vegetation, water or
bare soil?
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .params import ChangeParams

__all__ = ["built_surface"]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)``, 0 where the sum is 0."""
    total = a + b
    out = np.zeros_like(total)
    np.divide(a - b, total, out=out, where=total != 0)
    return out


def built_surface(
    image: np.ndarray, roles: Mapping[str, int], params: ChangeParams = ChangeParams()
) -> np.ndarray:
    """Pixels whose spectrum looks like a built surface.

    A built surface (concrete, asphalt, colour-steel, tile, white or dark
    roofs) is neither vegetation (NDVI high; in RGB: green above red and
    blue), nor water (NDWI high), nor bare soil or senescent grass (a steady
    rise from blue to the longest band), except that strongly red surfaces are
    tile roofs.

    Parameters
    ----------
    image : (B, M, N) ndarray
    roles : mapping
    params : ChangeParams

    Returns
    -------
    (M, N) ndarray of bool
    """
    # (a - b) / (a + b) > t  is written  a - b > t (a + b)  with a + b > 0:
    # no division, no temporaries for the ratios themselves.
    def above(a, b, t):
        total = a + b
        return (a - b > np.float32(t) * total) & (total > 0)

    blue = image[roles["blue"]]
    green = image[roles["green"]]
    red = image[roles["red"]]
    tile = above(red, green, params.tile_redness)
    if "nir" in roles:
        nir = image[roles["nir"]]
        vegetation = above(nir, red, params.max_ndvi)
        # Water reflects least in the nir; blue colour-steel also has a
        # positive NDWI but more nir than red.
        water = above(green, nir, params.min_ndwi) & (nir < red)
        if params.water_max_brightness is not None:
            water &= (blue + green + red + nir) < np.float32(4 * params.water_max_brightness)
        soil = above(nir, blue, params.soil_slope)
    else:
        vegetation = above(green, red, params.rgb_min_ngrdi) & (green > blue)
        water = np.zeros(vegetation.shape, bool)
        soil = above(red, blue, params.soil_slope_rgb)
    return ~vegetation & ~water & (~soil | tile)


def _target_construction(before, after, roles, significant, params):
    built_after = built_surface(after, roles, params)
    built_before = built_surface(before, roles, params)
    return significant & built_after & ~built_before, {
        "built_after": built_after,
        "built_before": built_before,
        "growable": ~built_before,
    }


def _target_any(before, after, roles, significant, params):
    return significant, {}
