import geopandas as gpd
import pytest
from shapely.geometry import LineString, Polygon, box

from weipian.errors import CRSMissingError, DateError, FieldError, InputFileError, LayerError, WeipianWarning
from weipian.io import parse_date
from weipian.vector.layers import dates_column, find_layers, read_layer


def test_find_layers_by_english_and_chinese_stems(tmp_path):
    for name in ("farmland.gpkg", "储备地.geojson", "temporary.shp", "readme.txt"):
        (tmp_path / name).write_text("")
    found = find_layers(tmp_path)
    assert found["farmland"].name == "farmland.gpkg"
    assert found["reserve"].name == "储备地.geojson"
    assert found["temporary"].name == "temporary.shp"
    assert "approved" not in found


def test_override_wins(tmp_path):
    (tmp_path / "farmland.gpkg").write_text("")
    other = tmp_path / "gd2024.gpkg"
    other.write_text("")
    assert find_layers(tmp_path, {"farmland": other})["farmland"] == other


def test_missing_folder_and_override(tmp_path):
    with pytest.raises(InputFileError, match="layers folder not found"):
        find_layers(tmp_path / "nope")
    with pytest.raises(InputFileError, match="--farmland"):
        find_layers(None, {"farmland": tmp_path / "x.shp"})


def test_read_layer_reprojects_repairs_and_filters(tmp_path):
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    frame = gpd.GeoDataFrame({"DLBM": ["0101", "0201", "0103"]},
                             geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), bowtie], crs="EPSG:4547")
    frame = frame.set_geometry(frame.geometry.translate(452000, 2500000))
    frame.to_crs("EPSG:4490").to_file(tmp_path / "farmland.gpkg")
    with pytest.warns(WeipianWarning, match="1 invalid geometries repaired"):
        layer, info = read_layer(tmp_path / "farmland.gpkg", "EPSG:4547", name="farmland")
    assert info.filtered == 1 and info.repaired == 1 and len(layer) == 2
    assert layer.crs.to_epsg() == 4547
    assert layer.area.iloc[0] == pytest.approx(100.0, rel=1e-6)
    assert layer.area.iloc[1] == pytest.approx(50.0, rel=1e-6)  # bow-tie = two triangles


def test_points_are_refused(tmp_path):
    gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs="EPSG:4547").to_file(tmp_path / "a.gpkg")
    with pytest.raises(LayerError, match="not polygons"):
        read_layer(tmp_path / "a.gpkg", "EPSG:4547", name="approved")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_layer_without_crs(tmp_path):
    gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)]).to_file(tmp_path / "reserve.shp")
    with pytest.raises(CRSMissingError, match="reserve.shp: the reserve layer has no CRS"):
        read_layer(tmp_path / "reserve.shp", "EPSG:4547", name="reserve")


def test_not_a_layer(tmp_path):
    p = tmp_path / "approved.gpkg"
    p.write_text("junk")
    with pytest.raises(InputFileError, match="not a readable vector layer"):
        read_layer(p, "EPSG:4547", name="approved")


def test_dates_column_errors_list_fields_and_rows():
    frame = gpd.GeoDataFrame({"PZWH": ["a", "b", "c"], "截至时间": ["2024-06-01", "soon", "2024/7/1"]},
                             geometry=[box(0, 0, 1, 1)] * 3)
    with pytest.raises(FieldError, match="fields present: PZWH, 截至时间"):
        dates_column(frame, "end_date", path="t.shp", parse=parse_date)
    with pytest.raises(DateError, match="row 2: 'soon'"):
        dates_column(frame, "截至时间", path="t.shp", parse=parse_date)
