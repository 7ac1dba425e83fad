import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from weipian.deliver.lists import export_patches
from weipian.deliver.route import route_order
from weipian.deliver.tables import neutralise, safe_filename
from weipian.deliver.vector import SHAPEFILE_FIELDS
from weipian.schema import PATCH_FIELDS


def judged_frame(n=4, township="南山街道", reason="62 % in 批准用地"):
    rows = []
    for i in range(n):
        rows.append({"patch_id": f"440305-2024Q2-{i + 1:06d}", "label": "violation", "label_zh": "违法用地",
                     "reason": reason, "score": 9.5, "area_m2": 100.0 * (i + 1),
                     "area_mu": round(100.0 * (i + 1) / (10000 / 15), 2), "farmland_m2": 50.0,
                     "reserve_m2": 0.0, "approved_m2": 0.0, "temporary_m2": 0.0, "government_m2": 0.0,
                     "township": township, "township_code": "440305001", "x": 452010.0 + 30 * i,
                     "y": 2507990.0 - 7 * i, "lon": 114.0, "lat": 22.6, "before_date": "2024-03-15",
                     "after_date": "2024-06-20", "evidence_category": "违法", "key_project": False,
                     **{f: 0.0 for f in PATCH_FIELDS if f.endswith("_m2") and f not in ("area_m2", "farmland_m2")}})
    geoms = [box(r["x"] - 5, r["y"] - 5, r["x"] + 5, r["y"] + 5) for r in rows]
    return gpd.GeoDataFrame(pd.DataFrame(rows)[list(PATCH_FIELDS)], geometry=geoms, crs="EPSG:4547")


def test_all_formats(tmp_path):
    out = export_patches(judged_frame(), tmp_path)
    assert set(out) == {"xlsx", "csv", "shp", "kml", "geojson"}
    assert (tmp_path / "patches.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    gj = gpd.read_file(tmp_path / "patches.geojson")
    assert gj.crs.to_epsg() == 4326 and 113 < gj.geometry.iloc[0].bounds[0] < 115
    kml = (tmp_path / "patches.kml").read_text(encoding="utf-8")
    assert kml.count("<Placemark>") == 4 and "440305-2024Q2-000001" in kml


def test_xlsx_layout(tmp_path):
    from openpyxl import load_workbook

    export_patches(judged_frame(), tmp_path)
    wb = load_workbook(tmp_path / "patches.xlsx")
    assert wb.sheetnames == ["图斑清单", "街道统计"]
    ws = wb["图斑清单"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["图斑编号", "判定类型", "判定类型（中文）"]
    assert {"面积（平方米）", "面积（亩）", "面积（公顷）"} <= set(headers)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1")
    mu = headers.index("面积（亩）") + 1
    assert ws.cell(2, mu).number_format == "0.00" and ws.cell(2, mu).value == 0.15
    ha = headers.index("面积（公顷）") + 1
    assert ws.cell(3, ha).value == pytest.approx(0.02)


@pytest.mark.parametrize("encoding, cpg", [("UTF-8", "UTF-8"), ("GBK", "GBK")])
def test_shapefile_fields_and_encoding(tmp_path, encoding, cpg):
    export_patches(judged_frame(), tmp_path, encoding=encoding, formats=("shp",))
    assert (tmp_path / "patches.cpg").read_text() == cpg
    shp = gpd.read_file(tmp_path / "patches.shp")
    assert all(len(c) <= 10 for c in shp.columns)
    assert set(shp.columns) - {"geometry"} <= set(SHAPEFILE_FIELDS.values())
    assert shp.TOWNSHIP.iloc[0] == "南山街道" and shp.LABEL_ZH.iloc[0] == "违法用地"
    dbf = (tmp_path / "patches.dbf").read_bytes()
    assert "南山街道".encode("gbk" if encoding == "GBK" else "utf-8") in dbf


def test_formula_injection_neutralised(tmp_path):
    from openpyxl import load_workbook

    frame = judged_frame(reason="=HYPERLINK(\"http://x\")", township="@SUM(1)")
    export_patches(frame, tmp_path, formats=("xlsx", "csv"))
    csv = pd.read_csv(tmp_path / "patches.csv", encoding="utf-8-sig")
    assert csv["reason"].iloc[0].startswith("'=")
    ws = load_workbook(tmp_path / "patches.xlsx")["图斑清单"]
    values = [c.value for c in ws[2]]
    assert "'@SUM(1)" in values and not any(isinstance(v, str) and v.startswith("=") for v in values)


def test_kml_escapes_markup(tmp_path):
    frame = judged_frame(reason="<script>alert(1)</script> & more")
    export_patches(frame, tmp_path, formats=("kml",))
    kml = (tmp_path / "patches.kml").read_text(encoding="utf-8")
    assert "<script>" not in kml and "&lt;script&gt;" in kml


def test_route_order_nearest_neighbour():
    frame = judged_frame(5)
    frame["x"] = [0.0, 100.0, 10.0, 90.0, 50.0]
    frame["y"] = [100.0, 100.0, 90.0, 95.0, 0.0]
    # start at the north-west (0, 100), then always the nearest unvisited
    assert list(route_order(frame)) == [1, 4, 2, 3, 5]


def test_route_is_per_township():
    frame = judged_frame(4)
    frame["township"] = ["甲", "乙", "甲", "乙"]
    assert sorted(route_order(frame)) == [1, 1, 2, 2]


def test_safe_filename_and_neutralise():
    assert "/" not in safe_filename("a/../../b") and ".." not in safe_filename("a/../../b")
    assert neutralise("-1") == "'-1" and neutralise("正常") == "正常"


def test_guide_documents_every_shapefile_field():
    from pathlib import Path

    guide = (Path(__file__).parent.parent / "docs" / "guide.md").read_text(encoding="utf-8")
    for field, short in SHAPEFILE_FIELDS.items():
        assert f"| `{field}` | `{short}` |" in guide


def test_gbk_shapefile_holds_reasons_with_characters_gbk_lacks(tmp_path):
    import warnings

    reason = "not approved; 100 % on 耕地 0101 水田, of which 120 m² 永久基本农田"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GDAL's "could not be converted to GBK" would be an error
        export_patches(judged_frame(reason=reason), tmp_path, encoding="GBK", formats=("shp",))
    back = gpd.read_file(tmp_path / "patches.shp", encoding="GBK")
    assert back["REASON"].iloc[0] == reason.replace("m²", "m2")
