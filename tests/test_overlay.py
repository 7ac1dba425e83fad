import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from weipian.vector.overlay import area_crs, area_scale, layer_overlap


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


def test_area_crs_keeps_a_projected_crs_true_to_ground_areas():
    assert area_crs("EPSG:4547", 114.1, 22.7).to_epsg() == 4547  # Gauss-Krüger, on its zone
    assert area_crs("EPSG:32650", 115.5, 40.0).to_epsg() == 32650  # UTM, 1.5° off its meridian


@pytest.mark.parametrize("lon, lat, epsg", [(114.1, 22.7, 4547), (-100.2, 47.0, 32614), (10.0, 45.0, 32632)])
def test_area_crs_leaves_web_mercator_for_the_local_zone(lon, lat, epsg):
    assert area_scale("EPSG:3857", lon, lat) == pytest.approx(1 / np.cos(np.radians(lat)) ** 2, rel=1e-6)
    assert area_crs("EPSG:3857", lon, lat).to_epsg() == epsg


def test_a_web_mercator_square_is_measured_on_the_ground():
    # 200 x 200 Mercator metres at 60 N are 100 x 100 m on the ground (scale 1 / cos 60 = 2)
    from pyproj import Transformer

    from weipian.schema import add_location_fields, frame_lonlat

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(10.0, 60.0)
    frame = gpd.GeoDataFrame(geometry=[box(x - 100, y - 100, x + 100, y + 100)], crs="EPSG:3857")
    add_location_fields(frame, area_crs(frame.crs, *frame_lonlat(frame)))
    assert frame["area_m2"].iloc[0] == pytest.approx(10_000.0, rel=0.005)
    assert frame["lat"].iloc[0] == pytest.approx(60.0, abs=1e-4)


def test_coordinates_outside_a_zone_prefixed_crs_keep_its_metres_and_say_why():
    # EPSG:4527 (CGCS2000 3-degree zone 39) expects eastings like 39 500 000; 500 000 m lies 39 000 km
    # west of its meridian, where PROJ gives no longitude: the CRS's own metres are kept, with a warning
    # that names the file and the CRS to use instead
    from weipian.errors import CRSWarning
    from weipian.schema import frame_area_crs

    frame = gpd.GeoDataFrame(geometry=[box(500_000, 3_400_000, 500_100, 3_400_100)], crs="EPSG:4527")
    expected = r"patches\.gpkg: .*EPSG:4527 is a zone-prefixed.*EPSG:4548 \(CGCS2000 / 3-degree Gauss-Kruger CM 117E\)"
    with pytest.warns(CRSWarning, match=expected):
        acrs = frame_area_crs(frame, source="patches.gpkg")
    assert acrs.to_epsg() == 4527
    assert frame.to_crs(acrs).area.iloc[0] == pytest.approx(10_000.0)


def test_a_geographic_centre_that_is_not_a_place_is_an_error():
    with pytest.raises(ValueError, match="not a place on the globe"):
        area_crs("EPSG:4490", float("inf"), 30.0)


def test_a_raster_outside_its_crs_keeps_its_pixel_size():
    from affine import Affine

    from weipian.errors import CRSWarning
    from weipian.schema import pixel_area_m2, scene_area_crs

    transform = Affine(4.0, 0, 500_000.0, 0, -4.0, 3_400_000.0)
    with pytest.warns(CRSWarning, match=r"before\.tif: the scene centre lies outside"):
        acrs = scene_area_crs(transform, (448, 448), "EPSG:4527", source="before.tif")
    assert pixel_area_m2(transform, (448, 448), "EPSG:4527", acrs) == pytest.approx(16.0)
