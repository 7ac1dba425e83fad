"""Bad input, case by case: one line naming the file and the fix, exit code 2, nothing left behind.

Each case builds its inputs in ``tmp_path`` and returns the command line; the
expected text is part of the message. Cases that must *succeed* (forms that
are accepted) are at the end.
"""

import errno
import os

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from conftest import ORIGIN, write_tif
from shapely.geometry import LineString, Point, Polygon, box

from weipian.cli.main import main
from weipian.testing.scenes import SPECTRA


def pair(tmp, *, before_kw=None, after_kw=None, size=64, dtype=np.uint16, bands=4):
    rng = np.random.default_rng(1)
    base = (np.asarray(SPECTRA["crop"])[:bands, None, None] * 10000
            + rng.normal(0, 30, (bands, size, size)))
    after = base.copy()
    after[:, 20:36, 20:36] = np.asarray(SPECTRA["concrete"])[:bands, None, None] * 10000
    b = write_tif(tmp / "b.tif", np.clip(base, 1, None).astype(dtype), **(before_kw or {}))
    a = write_tif(tmp / "a.tif", np.clip(after, 1, None).astype(dtype), **(after_kw or {}))
    return str(b), str(a)


def patches_file(tmp):
    frame = gpd.GeoDataFrame({"patch_id": ["000001"], "after_date": ["2024-06-20"], "score": [9.0]},
                             geometry=[box(452010, 2507970, 452030, 2507990)], crs="EPSG:4547")
    frame.to_file(tmp / "p.gpkg", layer="patches")
    return str(tmp / "p.gpkg")


def layer(tmp, name, geoms, crs="EPSG:4547", **columns):
    path = tmp / name
    gpd.GeoDataFrame(columns or {"id": list(range(len(geoms)))}, geometry=geoms, crs=crs).to_file(path)
    return str(path)


AREA = box(452000, 2507950, 452050, 2508000)


def c_missing_before(t):
    return ["detect", str(t / "none.tif"), str(t / "none.tif"), "-o", str(t / "o.gpkg")], "none.tif: file not found"


def c_missing_after(t):
    b, _ = pair(t)
    return ["detect", b, str(t / "gone.tif"), "-o", str(t / "o.gpkg")], "gone.tif: file not found"


def c_not_a_raster(t):
    (t / "x.tif").write_text("hello")
    return ["detect", str(t / "x.tif"), str(t / "x.tif"), "-o", str(t / "o.gpkg")], "x.tif: not a readable raster"


def c_truncated(t):
    b, a = pair(t, size=300)
    from pathlib import Path

    raw = Path(a).read_bytes()
    Path(a).write_bytes(raw[: len(raw) // 3])
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "a.tif"


def c_no_overlap(t):
    b, a = pair(t, after_kw={"transform": Affine(1, 0, 462000, 0, -1, 2508000)})
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "does not overlap"


def c_small_overlap(t):
    b, a = pair(t, after_kw={"transform": Affine(1, 0, 452050, 0, -1, 2508000)})
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "less than --min-overlap"


def c_raster_without_crs(t):
    b, a = pair(t, before_kw={"crs": None}, after_kw={"crs": None})
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "pass --crs"


def c_bad_crs_option(t):
    b, a = pair(t, before_kw={"crs": None}, after_kw={"crs": None})
    return ["detect", b, a, "--crs", "EPSG:99999999", "-o", str(t / "o.gpkg")], "is not a CRS"


def c_unknown_band_name(t):
    b, a = pair(t)
    return ["detect", b, a, "--bands", "blue,green,red,swir", "-o", str(t / "o.gpkg")], "unknown band name 'swir'"


def c_wrong_band_count(t):
    b, a = pair(t)
    return ["detect", b, a, "--bands", "red,green,blue", "-o", str(t / "o.gpkg")], "names 3 bands but the file has 4"


def c_too_many_unnamed_bands(t):
    data = np.ones((6, 16, 16), np.uint16)
    b = write_tif(t / "b.tif", data)
    return ["detect", str(b), str(b), "-o", str(t / "o.gpkg")], "name them with --bands"


def c_no_visible_band(t):
    b, a = pair(t)
    return ["detect", b, a, "--bands", "nir,green,red,-", "-o", str(t / "o.gpkg")], "no blue"


def c_bad_after_date(t):
    b, a = pair(t)
    return ["detect", b, a, "--after-date", "soon", "-o", str(t / "o.gpkg")], "'soon' is not a date"


def c_existing_output(t):
    b, a = pair(t)
    (t / "o.gpkg").write_text("keep")
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "--overwrite"


def c_output_folder_is_a_file(t):
    b, a = pair(t)
    (t / "file").write_text("x")
    return ["detect", b, a, "-o", str(t / "file" / "o.gpkg")], "not writable"


def c_missing_patches(t):
    return ["judge", str(t / "p.gpkg"), "-o", str(t / "j.gpkg")], "p.gpkg: file not found"


def c_patches_not_weipian(t):
    layer(t, "p.gpkg", [AREA])
    return ["judge", str(t / "p.gpkg"), "-o", str(t / "j.gpkg")], "no readable 'patches' layer"


def c_missing_layers_folder(t):
    return ["judge", patches_file(t), "--layers", str(t / "nolayers"), "-o", str(t / "j.gpkg")], "layers folder not found"


def c_missing_layer_override(t):
    return ["judge", patches_file(t), "--farmland", str(t / "gd.shp"), "-o", str(t / "j.gpkg")], "check --farmland"


def c_layer_not_vector(t):
    (t / "farmland.gpkg").write_text("junk")
    return ["judge", patches_file(t), "--farmland", str(t / "farmland.gpkg"), "-o", str(t / "j.gpkg")], "not a readable vector layer"


def c_shapefile_without_prj(t):
    shp = layer(t, "reserve.shp", [AREA])
    os.unlink(shp[:-4] + ".prj")
    return ["judge", patches_file(t), "--reserve", shp, "-o", str(t / "j.gpkg")], "--layer-crs"


def c_points_not_polygons(t):
    path = layer(t, "approved.gpkg", [Point(452010, 2507980)])
    return ["judge", patches_file(t), "--approved", path, "-o", str(t / "j.gpkg")], "not polygons"


def c_lines_not_polygons(t):
    path = layer(t, "government.gpkg", [LineString([(452000, 2507950), (452050, 2508000)])])
    return ["judge", patches_file(t), "--government", path, "-o", str(t / "j.gpkg")], "not polygons"


def c_end_date_field_missing(t):
    path = layer(t, "temporary.gpkg", [AREA], PZWH=["临字1号"], 截至=["2025-01-01"])
    return (["judge", patches_file(t), "--temporary", path, "-o", str(t / "j.gpkg")],
            "fields present: PZWH, 截至")


def c_end_dates_unparseable(t):
    path = layer(t, "temporary.gpkg", [AREA, AREA], end_date=["2025-01-01", "明年"])
    return ["judge", patches_file(t), "--temporary", path, "-o", str(t / "j.gpkg")], "row 2: '明年'"


def c_temporary_without_after_date(t):
    frame = gpd.read_file(patches_file(t))
    frame["after_date"] = ""
    frame.to_file(t / "p2.gpkg", layer="patches")
    path = layer(t, "temporary.gpkg", [AREA], end_date=["2025-01-01"])
    return ["judge", str(t / "p2.gpkg"), "--temporary", path, "-o", str(t / "j.gpkg")], "pass --after-date"


def c_bad_judge_after_date(t):
    return ["judge", patches_file(t), "--after-date", "2024-02-30", "-o", str(t / "j.gpkg")], "is not a date"


def c_missing_mask(t):
    b, a = pair(t)
    return ["detect", b, a, "--mask-after", str(t / "m.tif"), "-o", str(t / "o.gpkg")], "m.tif: mask not found"


def c_bad_scheduler(t):
    b, a = pair(t)
    return ["detect", b, a, "--scheduler", "gpu", "-o", str(t / "o.gpkg")], "scheduler was 'gpu'"


def c_missing_manifest(t):
    return ["batch", str(t / "pairs.csv")], "pairs.csv: manifest not found"


def c_manifest_without_columns(t):
    (t / "pairs.csv").write_text("a,b\n1,2\n")
    return ["batch", str(t / "pairs.csv")], "manifest needs the columns before, after, output"


def c_manifest_empty_cell(t):
    (t / "pairs.csv").write_text("before,after,output\nb.tif,,out\n")
    return ["batch", str(t / "pairs.csv")], "line 2 has no after"


def c_disk_full(t, monkeypatch):
    b, a = pair(t)

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    return ["detect", b, a, "-o", str(t / "o.gpkg")], "the disk is full"


CASES = [v for k, v in sorted(globals().items()) if k.startswith("c_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[2:] for c in CASES])
def test_bad_input(case, runner, tmp_path, monkeypatch):
    kwargs = {"monkeypatch": monkeypatch} if "monkeypatch" in case.__code__.co_varnames else {}
    args, expected = case(tmp_path, **kwargs)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    result = runner.invoke(main, args)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert expected in errors[0]
    assert "Traceback" not in result.output
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before, "something was written or left behind"


# --- forms that are accepted -------------------------------------------------


def test_crs_option_rescues_raster_without_crs(runner, tmp_path):
    b, a = pair(tmp_path, before_kw={"crs": None}, after_kw={"crs": None})
    result = runner.invoke(main, ["detect", b, a, "--crs", "EPSG:4547", "-o", str(tmp_path / "o.gpkg")])
    assert result.exit_code == 0, result.output
    assert gpd.read_file(tmp_path / "o.gpkg").crs.to_epsg() == 4547


def test_layer_crs_rescues_shapefile_without_prj(runner, tmp_path):
    shp = layer(tmp_path, "reserve.shp", [AREA], XMMC=["储备地块01"])
    os.unlink(shp[:-4] + ".prj")
    result = runner.invoke(main, ["judge", patches_file(tmp_path), "--reserve", shp, "--layer-crs",
                                  "EPSG:4547", "-o", str(tmp_path / "j.gpkg")])
    assert result.exit_code == 0, result.output
    assert gpd.read_file(tmp_path / "j.gpkg").reserve_m2.iloc[0] == pytest.approx(400)


def test_gbk_shapefile_without_cpg_is_read_right(runner, tmp_path):
    path = tmp_path / "approved.shp"
    gpd.GeoDataFrame({"PZWH": ["粤府土审[2023]101号"]}, geometry=[AREA], crs="EPSG:4547").to_file(
        path, encoding="GBK")
    for cpg in tmp_path.glob("approved.cpg"):
        cpg.unlink()
    result = runner.invoke(main, ["judge", patches_file(tmp_path), "--approved", str(path), "-o",
                                  str(tmp_path / "j.gpkg")])
    assert result.exit_code == 0, result.output
    judged = gpd.read_file(tmp_path / "j.gpkg")
    assert judged.label.iloc[0] == "approved" and "粤府土审[2023]101号" in judged.reason.iloc[0]


def test_invalid_and_empty_geometries_repaired_or_dropped(tmp_path):
    import weipian
    from weipian.errors import WeipianWarning

    bowtie = Polygon([(452000, 2507950), (452050, 2508000), (452050, 2507950), (452000, 2508000)])
    path = layer(tmp_path, "farmland.gpkg", [bowtie, Polygon(), AREA], DLBM=["0101", "0103", "0102"])
    from weipian.vector.layers import read_layer

    with pytest.warns(WeipianWarning, match="1 invalid geometries repaired, 1 empty or non-polygonal"):
        frame, info = read_layer(path, "EPSG:4547", name="farmland")
    assert (info.repaired, info.dropped, info.features) == (1, 1, 2)
    # judging reads only around the patches: the empty feature is not even read there
    with pytest.warns(WeipianWarning, match="1 invalid geometries repaired"):
        judged = weipian.judge(patches_file(tmp_path), overrides={"farmland": path})
    assert judged.attrs["weipian"]["judge"]["layer_info"]["farmland"]["repaired"] == 1
    assert judged.farmland_m2.iloc[0] == pytest.approx(400)


def test_empty_layer_is_accepted(runner, tmp_path):
    path = layer(tmp_path, "reserve.gpkg", [])
    result = runner.invoke(main, ["judge", patches_file(tmp_path), "--reserve", path, "-o",
                                  str(tmp_path / "j.gpkg")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("form", ["2024/6/1", "2024年6月1日", "45444", "20240601"])
def test_date_forms_accepted(runner, tmp_path, form):
    path = layer(tmp_path, "temporary.gpkg", [AREA], end_date=[form])
    result = runner.invoke(main, ["judge", patches_file(tmp_path), "--temporary", path, "--after-date",
                                  "2024-05-01", "-o", str(tmp_path / "j.gpkg")])
    assert result.exit_code == 0, result.output
    assert "valid to 2024-06-01" in gpd.read_file(tmp_path / "j.gpkg").reason.iloc[0]


def test_mixed_bit_depths_and_float_nan(runner, tmp_path):
    # a crop field and a bare field (a scene whose stretch means something, not one flat colour)
    rng = np.random.default_rng(2)
    field = np.broadcast_to(np.asarray(SPECTRA["crop"])[:, None, None], (4, 64, 64)).copy()
    field[:, :, 40:] = np.asarray(SPECTRA["soil"])[:, None, None]
    b = str(write_tif(tmp_path / "b16.tif", np.clip(field * 10000 + rng.normal(0, 60, field.shape), 1, None)
                      .astype(np.uint16)))
    eight = field * 255 + rng.normal(0, 0.4, field.shape)
    eight[:, 20:36, 20:36] = np.asarray(SPECTRA["concrete"])[:, None, None] * 255
    a8 = write_tif(tmp_path / "a8.tif", np.clip(eight, 1, 255).astype(np.uint8))
    fl = eight.astype(np.float32) / 255
    fl[:, :5, :] = np.nan
    af = write_tif(tmp_path / "af.tif", fl)
    # the reference: the same after epoch at the before epoch's own bit depth
    a16 = write_tif(tmp_path / "a16.tif", np.clip(np.round(eight / 255 * 10000), 1, None).astype(np.uint16))
    square = shapely.box(*(ORIGIN * (20, 36)), *(ORIGIN * (36, 20)))
    found = {}
    for a in (a16, a8, af):
        out = tmp_path / f"o_{a.stem}.gpkg"
        result = runner.invoke(main, ["detect", b, str(a), "-o", str(out)])
        assert result.exit_code == 0, result.output
        found[a.stem] = gpd.read_file(out)
        # the new 16 x 16 m concrete roof is found (its outline is the model's)
        roof = found[a.stem][found[a.stem].intersects(square)]
        assert len(roof) == 1 and roof.geometry.iloc[0].within(square.buffer(3)) and roof.area.iloc[0] >= 64
    # 8-bit and float (with NaN rows) give what the same pixels give at 16 bits; the NaN rows
    # (the top 5 m) are no data, so patches there may only be lost
    reference = found["a16"].geometry.union_all()
    for stem in ("a8", "af"):
        other = found[stem].geometry.union_all()
        assert other.symmetric_difference(reference).area <= 0.1 * reference.area + 5 * 64


def test_all_nodata_windows(runner, tmp_path):
    rng = np.random.default_rng(3)
    data = (np.asarray(SPECTRA["crop"])[:, None, None] * 10000 + rng.normal(0, 30, (4, 300, 300)))
    data = np.clip(data, 1, None).astype(np.uint16)
    data[:, :, :150] = 0  # the whole left half, several windows, is nodata
    after = data.copy()
    after[:, 200:230, 200:230] = (np.asarray(SPECTRA["white"]) * 10000)[:, None, None].astype(np.uint16)
    b = write_tif(tmp_path / "b.tif", data, nodata=0)
    a = write_tif(tmp_path / "a.tif", after, nodata=0)
    result = runner.invoke(main, ["detect", str(b), str(a), "--window-size", "64", "--min-overlap", "0",
                                  "-o", str(tmp_path / "o.gpkg")])
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "o.gpkg")) == 1
