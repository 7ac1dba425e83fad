"""Shared fixtures: tiny GeoTIFFs built in code and one small generated batch."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from weipian.testing.scenes import generate_scene, write_scene

ORIGIN = Affine(1.0, 0.0, 452000.0, 0.0, -1.0, 2508000.0)


def write_tif(path, array, *, crs="EPSG:4547", transform=ORIGIN, nodata=None, descriptions=None,
              tags=None):
    """Write a (B, M, N) array as a GeoTIFF."""
    array = np.asarray(array)
    profile = dict(driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                   dtype=array.dtype.name, transform=transform, nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if descriptions:
            dst.descriptions = descriptions
        if tags:
            dst.update_tags(**tags)
    return path


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def small_scene():
    """A 600 x 600 px generated batch (seed used by tests only)."""
    return generate_scene((600, 600), rng=4242)


@pytest.fixture(scope="session")
def small_batch(small_scene, tmp_path_factory):
    """The small scene written to disk: dict of paths."""
    directory = tmp_path_factory.mktemp("batch")
    return write_scene(small_scene, directory)
