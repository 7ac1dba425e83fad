"""Imagery in Web Mercator is measured on the ground, not in Mercator metres.

EPSG:3857 is projected, but its metres are 1 / cos(latitude) ground metres: at
the generated scene's 22.7° N a Mercator pixel of 1.084 m is 1 m on the ground
and a Mercator square metre 0.85 m². Pixel size (which picks the model's
route, threshold and working resolution) and every area must come out as on
the Gauss-Krüger original.
"""

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

import weipian


def _to_web_mercator(src_path, dst_path):
    with rasterio.open(src_path) as src:
        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height,
                                                               *src.bounds)
        profile = {**src.profile, "crs": "EPSG:3857", "transform": transform, "width": width,
                   "height": height}
        with rasterio.open(dst_path, "w", **profile) as dst:
            for band in range(1, src.count + 1):
                reproject(rasterio.band(src, band), rasterio.band(dst, band), resampling=Resampling.bilinear)
            dst.update_tags(**src.tags())
            dst.descriptions = src.descriptions
        return abs(transform.a)


def test_web_mercator_pixels_and_areas_are_ground_metres(small_batch, tmp_path):
    mercator_px = _to_web_mercator(small_batch["before"], tmp_path / "before.tif")
    _to_web_mercator(small_batch["after"], tmp_path / "after.tif")
    scale = 1 / np.cos(np.radians(22.66))
    assert mercator_px == pytest.approx(scale, rel=0.01)  # the warp kept 1 m on the ground

    native = weipian.detect(small_batch["before"], small_batch["after"])
    mercator = weipian.detect(tmp_path / "before.tif", tmp_path / "after.tif")

    assert mercator.attrs["weipian"]["resolution_m"] == pytest.approx(1.0, rel=0.01)
    assert mercator.attrs["weipian"]["area_crs"] == "EPSG:4547"
    # the same ground is flagged (up to resampling), not scale² = 1.17 times as much
    assert mercator["area_m2"].sum() == pytest.approx(native["area_m2"].sum(), rel=0.08)
    assert mercator.to_crs("EPSG:4547").area.sum() == pytest.approx(mercator["area_m2"].sum(), rel=1e-6)
