import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import write_tif

import weipian
from weipian.cli.main import main


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "weipian" in result.output


def test_detect_then_judge(runner, small_batch, tmp_path):
    patches = tmp_path / "p.gpkg"
    result = runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]),
                                  "-o", str(patches)])
    assert result.exit_code == 0, result.output
    assert "patches written" in result.output
    detected = gpd.read_file(patches, layer="patches")
    assert len(detected) > 0 and {"patch_id", "score", "area_m2"} <= set(detected.columns)

    judged = tmp_path / "j.gpkg"
    result = runner.invoke(main, ["judge", str(patches), "--layers", str(small_batch["farmland"].parent),
                                  "-o", str(judged)])
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(judged, layer="patches")
    assert len(frame) == len(detected)
    assert set(frame.label) <= {"approved", "temporary_use", "government_project", "violation"}
    assert frame.patch_id.str.match(r"^\d{6}-2024Q2-\d{6}$").all()


def test_run_writes_every_output(runner, small_batch, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", str(small_batch["before"]), str(small_batch["after"]),
                                  "--layers", str(small_batch["farmland"].parent), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {"patches.csv", "patches.gpkg", "run.json", "patches.xlsx", "patches.shp", "patches.cpg",
            "patches.kml", "patches.geojson", "report.html", "townships.csv", "townships.png",
            "chips"} <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    record = json.loads((out / "run.json").read_text())
    assert {"inputs", "settings", "shift_px", "normalisation", "timings", "versions", "judge"} <= set(record)
    assert (out / "patches.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    csv = pd.read_csv(out / "patches.csv", encoding="utf-8-sig", dtype={"patch_id": str})
    gpkg = gpd.read_file(out / "patches.gpkg", layer="patches")
    assert list(csv.patch_id) == list(gpkg.patch_id)


def test_layer_override_and_min_share(runner, small_batch, tmp_path):
    patches = tmp_path / "p.gpkg"
    runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(patches)])
    found = gpd.read_file(patches)
    # an approval covering the left 70 % of the first patch's bounding box, nothing else
    x0, y0, x1, y1 = found.geometry.iloc[0].bounds
    cover = shapely.box(x0 - 1, y0 - 1, x0 + 0.7 * (x1 - x0), y1 + 1)
    share = found.geometry.iloc[0].intersection(cover).area / found.geometry.iloc[0].area
    approved = tmp_path / "approved.gpkg"
    gpd.GeoDataFrame({"name": ["批准A"]}, geometry=[cover], crs=found.crs).to_file(approved)
    labels = {}
    for min_share in (share - 0.05, share + 0.05):
        judged = tmp_path / f"j{min_share:.2f}.gpkg"
        result = runner.invoke(main, ["judge", str(patches), "--townships", str(small_batch["townships"]),
                                      "--approved", str(approved), "-o", str(judged),
                                      "--min-share", f"{min_share:.4f}"])
        assert result.exit_code == 0, result.output
        labels[min_share] = gpd.read_file(judged).label.iloc[0]
    assert labels == {share - 0.05: "approved", share + 0.05: "violation"}


# --- bad input: one line, exit code 2, nothing written -----------------------


def _errors(runner, args, tmp_path, match):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert match in result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1
    return result


def test_missing_file(runner, tmp_path):
    out = tmp_path / "p.gpkg"
    _errors(runner, ["detect", str(tmp_path / "b.tif"), str(tmp_path / "a.tif"), "-o", str(out)],
            tmp_path, "b.tif: file not found")
    assert not out.exists()


def test_not_a_raster(runner, tmp_path):
    p = tmp_path / "b.tif"
    p.write_text("not an image")
    _errors(runner, ["detect", str(p), str(p), "-o", str(tmp_path / "p.gpkg")], tmp_path,
            "not a readable raster")


def test_epochs_do_not_overlap(runner, tmp_path):
    from affine import Affine

    data = np.full((4, 10, 10), 100, np.uint16)
    b = write_tif(tmp_path / "b.tif", data)
    a = write_tif(tmp_path / "a.tif", data, transform=Affine(1, 0, 1000, 0, -1, 1000))
    _errors(runner, ["detect", str(b), str(a), "-o", str(tmp_path / "p.gpkg")], tmp_path,
            "does not overlap")


def test_raster_without_crs(runner, tmp_path):
    data = np.full((4, 10, 10), 100, np.uint16)
    b = write_tif(tmp_path / "b.tif", data, crs=None)
    _errors(runner, ["detect", str(b), str(b), "-o", str(tmp_path / "p.gpkg")], tmp_path, "has no CRS")


def test_unknown_band_names(runner, small_batch, tmp_path):
    _errors(runner, ["detect", str(small_batch["before"]), str(small_batch["after"]), "--bands",
                     "blue,green,red,swir", "-o", str(tmp_path / "p.gpkg")], tmp_path, "unknown band name")


def test_existing_output_needs_overwrite(runner, small_batch, tmp_path):
    out = tmp_path / "p.gpkg"
    out.write_text("keep me")
    _errors(runner, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(out)],
            tmp_path, "--overwrite")
    assert out.read_text() == "keep me"


def test_temporary_layer_without_end_date_field(runner, small_batch, tmp_path):
    patches = tmp_path / "p.gpkg"
    runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(patches)])
    out = tmp_path / "j.gpkg"
    result = _errors(runner, ["judge", str(patches), "--temporary", str(small_batch["temporary"]),
                              "--end-date-field", "截至时间", "-o", str(out)], tmp_path,
                     "no end-date field '截至时间'")
    assert "fields present: PZWH, PZSJ, end_date" in result.output
    assert not out.exists()


def test_unparseable_date(runner, small_batch, tmp_path):
    _errors(runner, ["detect", str(small_batch["before"]), str(small_batch["after"]), "--after-date",
                     "next tuesday", "-o", str(tmp_path / "p.gpkg")], tmp_path, "is not a date")


def test_unparseable_end_dates_name_rows(runner, small_batch, tmp_path):
    patches = tmp_path / "p.gpkg"
    runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(patches)])
    bad = gpd.read_file(small_batch["temporary"])
    bad["end_date"] = "unknown"
    bad.to_file(tmp_path / "temporary.gpkg")
    _errors(runner, ["judge", str(patches), "--temporary", str(tmp_path / "temporary.gpkg"), "-o",
                     str(tmp_path / "j.gpkg")], tmp_path, "row 1: 'unknown'")


def test_layer_without_crs(runner, small_batch, tmp_path):
    patches = tmp_path / "p.gpkg"
    runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(patches)])
    frame = gpd.read_file(small_batch["farmland"])
    shp = tmp_path / "farmland.shp"
    frame.to_file(shp)
    shp.with_suffix(".prj").unlink()
    _errors(runner, ["judge", str(patches), "--farmland", str(shp), "-o", str(tmp_path / "j.gpkg")],
            tmp_path, "farmland.shp: the farmland layer has no CRS")


def test_batch_manifest(runner, small_batch, tmp_path):
    manifest = tmp_path / "pairs.csv"
    b, a = small_batch["before"], small_batch["after"]
    layers = small_batch["farmland"].parent
    manifest.write_text(
        "before,after,layers,output,after_date\n"
        f"{b},{a},{layers},out1,2024-06-20\n"
        f"{b},missing.tif,{layers},out2,\n", encoding="utf-8")
    result = runner.invoke(main, ["batch", str(manifest), "--workers", "2"])
    assert result.exit_code == 2
    assert "1 of 2 pairs failed" in result.output
    assert (tmp_path / "out1" / "patches.gpkg").exists() and not (tmp_path / "out2").exists()
    summary = pd.read_csv(tmp_path / "batch_summary.csv", encoding="utf-8-sig")
    assert list(summary.status) == ["ok", "failed"]
    assert "missing.tif: file not found" in summary.error[1]


def test_parallel_options_give_the_same_patches(runner, small_batch, tmp_path):
    outs = []
    for k, args in enumerate((["--window-size", "128", "--workers", "1"],
                              ["--window-size", "4096", "--scheduler", "processes"])):
        out = tmp_path / f"p{k}.gpkg"
        result = runner.invoke(main, ["-q", "detect", str(small_batch["before"]), str(small_batch["after"]),
                                      "-o", str(out), *args])
        assert result.exit_code == 0, result.output
        outs.append(gpd.read_file(out))
        assert not out.with_name(out.name + ".work").exists()
    assert outs[0].drop(columns="geometry").equals(outs[1].drop(columns="geometry"))


def test_export_command(runner, small_batch, tmp_path):
    judged = tmp_path / "j.gpkg"
    patches = tmp_path / "p.gpkg"
    runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]), "-o", str(patches)])
    runner.invoke(main, ["judge", str(patches), "--layers", str(small_batch["farmland"].parent), "-o", str(judged)])
    out = tmp_path / "deliver"
    result = runner.invoke(main, ["export", str(judged), "-o", str(out), "--encoding", "gbk", "--route",
                                  "--no-chips"])
    assert result.exit_code == 0, result.output
    assert (out / "patches.cpg").read_text() == "GBK"
    assert (out / "patches.xlsx").exists() and not (out / "report.html").exists()


def test_settings_file_is_data(runner, small_batch, tmp_path):
    cfg = tmp_path / "settings.toml"
    cfg.write_text('min_area = 400.0\nbatch = "__import__(\'os\').system(\'touch pwned\')"\n'
                   '[detect]\nwindow_size = 128\n', encoding="utf-8")
    out = tmp_path / "p.gpkg"
    result = runner.invoke(main, ["--config", str(cfg), "detect", str(small_batch["before"]),
                                  str(small_batch["after"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert gpd.read_file(out).area_m2.min() >= 400
    judged = tmp_path / "j.gpkg"
    result = runner.invoke(main, ["--config", str(cfg), "judge", str(out), "-o", str(judged)])
    assert result.exit_code == 0, result.output
    assert gpd.read_file(judged).patch_id.str.contains("__import__").all()  # a string, never run
    assert not (tmp_path / "pwned").exists() and not any(p.name == "pwned" for p in tmp_path.parent.iterdir())


def test_change_settings_from_cli_and_settings_file(runner, small_batch, tmp_path):
    """The change core's settings reach detection from the command line and from [detect] in TOML."""
    counts = {}
    for threshold in (0.3, 0.9):
        out = tmp_path / f"p{threshold}.gpkg"
        result = runner.invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]),
                                      "--threshold", str(threshold), "-o", str(out)])
        assert result.exit_code == 0, result.output
        counts[threshold] = gpd.read_file(out).area_m2.sum()
    assert counts[0.3] > counts[0.9]  # a higher threshold flags less
    cfg = tmp_path / "settings.toml"
    cfg.write_text('[detect]\nthreshold = 0.9\n', encoding="utf-8")
    out = tmp_path / "cfg.gpkg"
    result = runner.invoke(main, ["--config", str(cfg), "detect", str(small_batch["before"]),
                                  str(small_batch["after"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert gpd.read_file(out).area_m2.sum() == counts[0.9]
    frame = weipian.detect(small_batch["before"], small_batch["after"],
                           params=weipian.ChangeParams(threshold=0.9, vegetation_ndvi=0.4))
    assert frame.attrs["weipian"]["model"]["threshold"] == 0.9
    assert frame.attrs["weipian"]["model"]["vegetation_ndvi"] == 0.4


@pytest.mark.parametrize("text, message", [
    ("min_area = [", "not valid TOML"),
    ("mystery = 1", "mystery is not an option of any command"),
    ("[run]\nwindows = 3", "[run] windows is not an option of weipian run"),
    ("[deploy]\nx = 1", "[deploy] is not a command"),
])
def test_bad_settings_file(runner, tmp_path, text, message):
    cfg = tmp_path / "s.toml"
    cfg.write_text(text)
    result = runner.invoke(main, ["--config", str(cfg), "detect", "b.tif", "a.tif", "-o", "x.gpkg"])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
