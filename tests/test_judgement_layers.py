"""Judgement on the layers bureaus have: DLTB parcels, 永久基本农田, approvals by 文号, key projects.

Every area below is computed by hand from axis-aligned boxes in a metric CRS
(EPSG:4547, CGCS2000 3-degree Gauss-Krüger zone 38, central meridian 114°E).
"""

import json
import logging

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from weipian.errors import FieldError, LayerError
from weipian.settings import LayerParams, parse_name_fields
from weipian.stats import township_stats
from weipian.workflows import judge

X0, Y0 = 452000.0, 2500000.0


def b(x0, y0, x1, y1):
    """A box offset to the test origin (metres)."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def patches(*geoms, after="2024-06-20"):
    n = len(geoms)
    return gpd.GeoDataFrame({"patch_id": [f"{i + 1:06d}" for i in range(n)], "score": [0.9] * n,
                             "before_date": ["2024-03-01"] * n, "after_date": [after] * n},
                            geometry=list(geoms), crs="EPSG:4547")


def write(path, geoms, crs="EPSG:4547", **columns):
    gpd.GeoDataFrame(columns or {"id": list(range(len(geoms)))}, geometry=list(geoms),
                     crs=crs).to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def dltb_folder(tmp_path):
    """A DLTB parcel layer with mixed classes, 永久基本农田, red line and development boundary.

    The patch is the 100 m x 100 m square (0, 0)-(100, 100):
    0101 水田 40 x 100 = 4000 m²; 0102 水浇地 30 x 100 = 3000; 0103 旱地 20 x 100 = 2000;
    0201 果园 10 x 100 (not farmland); a 0101 parcel outside the patch.
    永久基本农田 (0, 0)-(20, 50): 1000 m²; red line (95, 95)-(120, 120): 25 m²;
    development boundary (0, 0)-(60, 100): 6000 m² inside, 40 % outside.
    """
    write(tmp_path / "DLTB.gpkg", [b(0, 0, 40, 100), b(40, 0, 70, 100), b(70, 0, 90, 100),
                                   b(90, 0, 100, 100), b(200, 0, 300, 100)],
          DLBM=["0101", "0102", "0103", "0201", "0101"], DLMC=["水田", "水浇地", "旱地", "果园", "水田"])
    write(tmp_path / "永久基本农田.gpkg", [b(0, 0, 20, 50)], TBBH=["JB-7"])
    write(tmp_path / "redline.gpkg", [b(95, 95, 120, 120)], 名称=["东江水源保护区"])
    write(tmp_path / "boundary.gpkg", [b(0, 0, 60, 100)], 名称=["城镇开发边界"])
    return tmp_path


def test_dltb_classes_basic_farmland_redline_and_boundary(dltb_folder):
    out = judge(patches(b(0, 0, 100, 100)), layers=dltb_folder)
    row = out.iloc[0]
    assert row["area_m2"] == pytest.approx(10000)
    assert row["farmland_m2"] == pytest.approx(9000)
    assert row["farmland_0101_m2"] == pytest.approx(4000)
    assert row["farmland_0102_m2"] == pytest.approx(3000)
    assert row["farmland_0103_m2"] == pytest.approx(2000)
    assert row["basic_farmland_m2"] == pytest.approx(1000)
    assert row["redline_m2"] == pytest.approx(25)
    assert row["boundary_m2"] == pytest.approx(6000)
    assert row["label"] == "violation" and row["evidence_category"] == "违法"
    assert row["reason"] == ("not approved; 90 % on 耕地 0101 水田, of which 1,000 m² 永久基本农田; "
                             "25 m² in 生态保护红线 东江水源保护区; 40 % outside 城镇开发边界")
    info = out.attrs["weipian"]["judge"]["layer_info"]
    assert info["farmland"]["filtered"] == 1  # the 0201 orchard parcel


def test_basic_farmland_in_the_statistics(dltb_folder):
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 210, 10)), layers=dltb_folder)
    stats = township_stats(out).set_index("township")
    total = stats.loc["合计"]
    assert total["farmland_m2"] == pytest.approx(9100)
    assert total["farmland_0101_m2"] == pytest.approx(4100)
    assert total["basic_farmland_m2"] == pytest.approx(1000)
    assert total["basic_farmland_illegal_m2"] == pytest.approx(1000)


def test_plain_farmland_layer_and_farmland_where(tmp_path):
    # a plain layer (no DLBM): every feature is farmland, no class split
    write(tmp_path / "farmland.gpkg", [b(0, 0, 50, 100)], owner=["村集体"])
    out = judge(patches(b(0, 0, 100, 100)), layers=tmp_path)
    assert out["farmland_m2"].iloc[0] == pytest.approx(5000)
    assert out["farmland_0101_m2"].iloc[0] == 0
    # another schema: its own class field, selected by an OGR SQL filter
    other = write(tmp_path / "landuse.gpkg", [b(0, 0, 30, 100), b(30, 0, 50, 100), b(50, 0, 100, 100)],
                  LANDCLASS=["paddy", "dry", "forest"])
    params = LayerParams(farmland_where="LANDCLASS IN ('paddy', 'dry')")
    out = judge(patches(b(0, 0, 100, 100)), overrides={"farmland": other}, layer_params=params)
    assert out["farmland_m2"].iloc[0] == pytest.approx(5000)
    params = LayerParams(farmland_where="LANDCLASS = 'paddy'")
    out = judge(patches(b(0, 0, 100, 100)), overrides={"farmland": other}, layer_params=params)
    assert out["farmland_m2"].iloc[0] == pytest.approx(3000)
    assert out.attrs["weipian"]["judge"]["layer_info"]["farmland"]["where"] == "LANDCLASS = 'paddy'"


def test_farmland_where_on_a_dltb_layer_keeps_the_class_split(dltb_folder):
    params = LayerParams(farmland_where="DLBM IN ('0101', '0103')")
    out = judge(patches(b(0, 0, 100, 100)), layers=dltb_folder, layer_params=params)
    assert out["farmland_m2"].iloc[0] == pytest.approx(6000)
    assert out["farmland_0101_m2"].iloc[0] == pytest.approx(4000)
    assert out["farmland_0102_m2"].iloc[0] == 0


def test_bad_farmland_where_names_fields(dltb_folder):
    with pytest.raises(LayerError, match=r"DLTB.gpkg: the filter .* cannot be applied.*DLBM, DLMC"):
        judge(patches(b(0, 0, 100, 100)), layers=dltb_folder,
              layer_params=LayerParams(farmland_where="NOSUCH = 1"))


def test_features_named_by_what_people_call_them(tmp_path, caplog):
    # fields no usual name matches: the first text field that varies is taken, and logged
    write(tmp_path / "government.gpkg", [b(0, 0, 100, 100), b(300, 0, 400, 100)],
          id=[1, 2], dept=["水务局", "水务局"], project=["东江引水工程", "南山污水厂"])
    write(tmp_path / "approved.gpkg", [b(200, 0, 300, 100)], doc=["粤府土审[2023]45号"],
          area=[10000.0])
    with caplog.at_level(logging.INFO, logger="weipian"):
        out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 100)), layers=tmp_path)
    assert out["reason"].iloc[0] == "100 % in 政府投资项目 东江引水工程, no approval on record"
    assert out["reason"].iloc[1] == "100 % in 批准用地 粤府土审[2023]45号"
    assert "'project' field (the first text field that varies" in caplog.text
    names = out.attrs["weipian"]["judge"]["name_fields"]
    assert names["government"] == {"field": "project", "how": "first varying text field"}
    # set explicitly
    out = judge(patches(b(0, 0, 100, 100)), layers=tmp_path,
                layer_params=LayerParams(name_fields={"government": "dept"}))
    assert out["reason"].iloc[0] == "100 % in 政府投资项目 水务局, no approval on record"
    with pytest.raises(FieldError, match="no field 'nope' in the government layer; fields present: "
                                         "id, dept, project"):
        judge(patches(b(0, 0, 100, 100)), layers=tmp_path,
              layer_params=LayerParams(name_fields={"government": "nope"}))


def test_layer_without_any_name_like_field_is_numbered(tmp_path):
    write(tmp_path / "reserve.gpkg", [b(500, 0, 600, 100), b(0, 0, 100, 100)], code=[11, 12],
          area=[1.0, 2.0])
    out = judge(patches(b(0, 0, 100, 100)), layers=tmp_path)
    # cited by its feature id in the file (GeoPackage fids start at 1), not its place in a bbox read
    assert out["reason"].iloc[0] == "not approved; 100 % on 储备地 FID 2"
    assert out.attrs["weipian"]["judge"]["name_fields"]["reserve"]["how"] == "none"


def test_approvals_cite_document_number_and_dates(tmp_path):
    write(tmp_path / "approved.gpkg", [b(0, 0, 100, 100)], 项目名称=["南山学校"],
          批准文号=["粤府土审[2023]45号"], 批准时间=["2023/5/2"])
    write(tmp_path / "temporary.gpkg", [b(200, 0, 300, 100)], 批准文号=["临字[2023]12号"],
          批准时间=["2023-06-01"], 截至时间=["2025-06-01"])
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 62)), layers=tmp_path)
    assert out["reason"].iloc[0] == "100 % in 批准用地 粤府土审[2023]45号, approved 2023-05-02"
    assert out["evidence_category"].iloc[0] == "合法-农转用"
    assert out["reason"].iloc[1] == "100 % in 临时用地 临字[2023]12号, valid to 2025-06-01"
    assert out["evidence_category"].iloc[1] == "非新增-临时用地"
    assert out.attrs["weipian"]["judge"]["end_date_field"] == "截至时间"


def test_gbk_shapefiles_without_cpg(tmp_path):
    gpd.GeoDataFrame({"DLBM": ["0101", "0103"], "DLMC": ["水田", "旱地"]},
                     geometry=[b(0, 0, 30, 100), b(30, 0, 100, 100)], crs="EPSG:4547").to_file(
        tmp_path / "地类图斑.shp", encoding="GBK", engine="pyogrio")
    gpd.GeoDataFrame({"批准文号": ["深府地[2022]7号"]}, geometry=[b(200, 0, 300, 100)],
                     crs="EPSG:4547").to_file(tmp_path / "批准用地.shp", encoding="GBK", engine="pyogrio")
    for cpg in tmp_path.glob("*.cpg"):
        cpg.unlink()
    assert "水田".encode("gbk") in (tmp_path / "地类图斑.dbf").read_bytes()
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 100)), layers=tmp_path)
    assert out["farmland_0101_m2"].iloc[0] == pytest.approx(3000)
    assert out["farmland_0103_m2"].iloc[0] == pytest.approx(7000)
    assert out["reason"].iloc[0] == "not approved; 100 % on 耕地 0103 旱地"
    assert out["reason"].iloc[1] == "100 % in 批准用地 深府地[2022]7号"
    # a WHERE filter with Chinese text on a GBK Shapefile
    out = judge(patches(b(0, 0, 100, 100)), layers=tmp_path,
                layer_params=LayerParams(farmland_where="DLMC = '水田'"))
    assert out["farmland_m2"].iloc[0] == pytest.approx(3000)


def test_key_projects_by_list_of_document_numbers(tmp_path):
    write(tmp_path / "government.gpkg", [b(0, 0, 100, 100), b(200, 0, 300, 100)],
          项目名称=["东江引水工程", "南山污水厂"], 文号=["粤发改[2023]101号", "深发改[2023]9号"])
    write(tmp_path / "farmland.gpkg", [b(0, 0, 300, 100)], DLBM=["0103"])
    listing = tmp_path / "重点工程.txt"
    listing.write_text("# 省级重点工程\n粤发改[2023]101号\n不存在的项目\n", encoding="utf-8")
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 100), b(100, 0, 200, 50)), layers=tmp_path,
                layer_params=LayerParams(key_projects=str(listing)))
    assert list(out["label"]) == ["government_project", "government_project", "violation"]
    assert list(out["key_project"]) == [True, False, False]
    assert out["reason"].iloc[0] == "100 % in 政府投资项目 东江引水工程 (重点工程), no approval on record"
    record = out.attrs["weipian"]["judge"]["key_projects"]
    assert record["matched"] == ["粤发改[2023]101号"] and record["unmatched"] == ["不存在的项目"]
    assert "key-project list" in record["rule"]
    # 扣减后: only the key project's 10,000 m² leave numerator and denominator:
    # raw (10000 + 10000 + 5000) / 25000 = 100 %; deducted 15000 / 15000 = 100 % -- make it visible
    # with an approved patch on farmland too
    write(tmp_path / "approved.gpkg", [b(300, 0, 400, 100)], 批准文号=["深府地[2022]7号"])
    write(tmp_path / "farmland.gpkg", [b(0, 0, 400, 100)], DLBM=["0103"])
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 100), b(300, 0, 400, 100)), layers=tmp_path,
                layer_params=LayerParams(key_projects=str(listing)))
    total = township_stats(out).set_index("township").loc["合计"]
    assert total["ratio"] == pytest.approx(20000 / 30000)
    assert total["farmland_key_project_m2"] == pytest.approx(10000)
    assert total["ratio_deducted"] == pytest.approx(10000 / 20000)


def test_key_projects_by_flag_field_and_none(tmp_path):
    write(tmp_path / "government.gpkg", [b(0, 0, 100, 100), b(200, 0, 300, 100)],
          项目名称=["东江引水工程", "南山污水厂"], 重点工程=["是", "否"])
    out = judge(patches(b(0, 0, 100, 100), b(200, 0, 300, 100)), layers=tmp_path)
    assert list(out["key_project"]) == [True, False]
    assert out.attrs["weipian"]["judge"]["key_projects"]["flag_field"] == "重点工程"
    write(tmp_path / "government.gpkg", [b(0, 0, 100, 100)], 项目名称=["东江引水工程"])
    out = judge(patches(b(0, 0, 100, 100)), layers=tmp_path)
    assert not out["key_project"].iloc[0]
    assert out.attrs["weipian"]["judge"]["key_projects"]["rule"].startswith("none")


def test_facility_agriculture_is_not_construction(tmp_path):
    write(tmp_path / "设施农用地.gpkg", [b(0, 0, 100, 100)], 备案编号=["设农备[2024]3号"])
    write(tmp_path / "farmland.gpkg", [b(0, 0, 400, 100)], DLBM=["0103"])
    out = judge(patches(b(0, 0, 100, 80), b(200, 0, 300, 100)), layers=tmp_path)
    assert list(out["label"]) == ["not_construction", "violation"]
    assert out["facility_m2"].iloc[0] == pytest.approx(8000)
    assert out["reason"].iloc[0] == ("100 % in 设施农用地备案 设农备[2024]3号: registered facility "
                                     "agriculture, not construction")
    assert out["evidence_category"].iloc[0] == "非新增-设施农用地"
    total = township_stats(out).set_index("township").loc["合计"]
    assert total["farmland_m2"] == pytest.approx(10000)  # facility agriculture left out


def test_name_field_option_parsing():
    assert parse_name_fields(["approved=doc", "basic-farmland=TBBH"]) == {
        "approved": "doc", "basic_farmland": "TBBH"}
    with pytest.raises(ValueError, match="is not LAYER=FIELD"):
        parse_name_fields(["approved"])
    with pytest.raises(ValueError, match="unknown layer 'aproved'"):
        parse_name_fields(["aproved=doc"])


def test_cli_options_and_settings_file(tmp_path, runner):
    from weipian.cli.main import main

    write(tmp_path / "government.gpkg", [b(0, 0, 100, 100)], project=["东江引水工程"],
          doc=["粤发改[2023]101号"])
    patches(b(0, 0, 100, 100)).to_file(tmp_path / "p.gpkg", layer="patches")
    listing = tmp_path / "key.csv"
    listing.write_text("文号\n粤发改[2023]101号\n", encoding="utf-8")
    settings = tmp_path / "weipian.toml"
    settings.write_text('name_field = ["government=doc"]\n', encoding="utf-8")
    result = runner.invoke(main, ["--config", str(settings), "judge", str(tmp_path / "p.gpkg"),
                                  "--layers", str(tmp_path), "--key-projects", str(listing),
                                  "-o", str(tmp_path / "j.gpkg")])
    assert result.exit_code == 0, result.output
    out = gpd.read_file(tmp_path / "j.gpkg")
    assert out["reason"].iloc[0] == "100 % in 政府投资项目 粤发改[2023]101号 (重点工程), no approval on record"
    assert bool(out["key_project"].iloc[0])
    result = runner.invoke(main, ["judge", str(tmp_path / "p.gpkg"), "--layers", str(tmp_path),
                                  "--name-field", "government", "-o", str(tmp_path / "k.gpkg")])
    assert result.exit_code == 2 and "is not LAYER=FIELD" in result.output
    assert not (tmp_path / "k.gpkg").exists()


def test_run_json_reports_key_project_rule(small_batch, tmp_path):
    from weipian.workflows import run

    layers = small_batch["before"].parent / "layers"
    out = tmp_path / "out"
    run(small_batch["before"], small_batch["after"], layers=layers, output=out, chips=False,
        layer_params=LayerParams(key_field=None))
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "rule" in record["judge"]["key_projects"]
    assert set(record["judge"]["name_fields"]) >= {"farmland", "townships"}
    frame = gpd.read_file(out / "patches.gpkg")
    assert {"evidence_category", "basic_farmland_m2", "farmland_0103_m2", "key_project"} <= set(frame.columns)
    assert np.all(frame["farmland_m2"] >= frame[["farmland_0101_m2", "farmland_0102_m2",
                                                  "farmland_0103_m2"]].sum(axis=1) - 0.02)


def test_obscured_area_crs_follows_the_scene_longitude(tmp_path):
    """A 100 m x 100 m obscured square at 120°E (zone EPSG:4549) in geographic coordinates.

    Measured in the 114°E zone the area would be off by ~0.9 % (scale error 6° from the central
    meridian); in the scene's own zone it is exact to well under 0.1 %.
    """
    from weipian.obscured import obscured_by_township as _obscured_by_township

    square = gpd.GeoSeries([box(500000, 3000000, 500100, 3000100)], crs="EPSG:4549").to_crs("EPSG:4490")
    town = gpd.GeoSeries([square.iloc[0].buffer(0.01)], crs="EPSG:4490")
    gpd.GeoDataFrame({"name": ["滨江街道"], "code": ["330108001"]}, geometry=town).to_file(
        tmp_path / "townships.gpkg")
    areas = _obscured_by_township(square, tmp_path, None)
    assert areas["滨江街道"] == pytest.approx(10000, rel=1e-3)
