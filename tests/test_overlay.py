import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from weipian.vector.overlay import area_crs, layer_overlap


def test_overlap_hand_computed():
    patches = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(100, 100, 101, 101)]
    features = [box(5, 0, 25, 10), box(0, 0, 2, 10)]
    o = layer_overlap(patches, features)
    assert list(o.area) == [70.0, 50.0, 0.0]
    assert list(o.best) == [0, 0, -1]
    assert list(o.best_area) == [50.0, 50.0, 0.0]
    assert list(o.count) == [2, 1, 0]


def test_overlapping_features_are_counted_once():
    o = layer_overlap([box(0, 0, 10, 10)], [box(0, 0, 6, 10), box(4, 0, 10, 10)])
    assert o.area[0] == pytest.approx(100.0)


def test_touching_only_is_not_overlap():
    o = layer_overlap([box(0, 0, 10, 10)], [box(10, 0, 20, 10)])
    assert o.area[0] == 0 and o.best[0] == -1


def test_matches_geopandas_overlay():
    rng = np.random.default_rng(3)
    patches = [box(x, y, x + w, y + w) for x, y, w in rng.uniform(0, 100, (50, 3))]
    features = [box(x, y, x + 15, y + 10) for x, y in rng.uniform(0, 100, (80, 2))]
    o = layer_overlap(patches, features)
    p = gpd.GeoDataFrame({"pid": range(50)}, geometry=patches)
    f = gpd.GeoDataFrame(geometry=[gpd.GeoSeries(features).union_all()])
    inter = gpd.overlay(p, f, how="intersection")
    expected = np.zeros(50)
    expected[inter.pid.to_numpy()] = inter.area.to_numpy()
    assert o.area == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_empty_inputs():
    assert layer_overlap([], [box(0, 0, 1, 1)]).area.size == 0
    assert layer_overlap([box(0, 0, 1, 1)], []).area.tolist() == [0.0]


@pytest.mark.parametrize("lon, epsg", [(114.1, 4547), (75.2, 4534), (135.0, 4554), (120.0, 4549)])
def test_area_crs_for_geographic(lon, epsg):
    assert area_crs("EPSG:4490", lon).to_epsg() == epsg


def test_area_crs_keeps_projected():
    assert area_crs("EPSG:4547", 0).to_epsg() == 4547
    assert area_crs("EPSG:4326", 2.3).to_epsg() == 32631
