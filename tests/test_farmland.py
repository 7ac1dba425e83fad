"""Farmland use (耕地非粮化): parcel states, areas, reasons, clouds, links, statistics, ledger, CLI.

The parcel logic is checked on a generated pair whose covers are known: each
parcel is painted in one flat colour per epoch, and a stand-in land-cover
model maps each colour back to its class. Two calibration strips (every band
at 0 and at 255) fix each image's robust levels at 0 and 255, so the model
sees the painted colours divided by 255.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import write_tif
from shapely.geometry import box

from weipian.farmland import judge_parcels
from weipian.farmland.stats import farmland_township_stats, worst_ten, worst_ten_table
from weipian.learn.cover_inputs import COVERS
from weipian.workflows.farmland import farmland_use

GSD = 4.0
X0, Y0 = 452000.0, 2508000.0
SIDE = 200

#: Painted colour of each class (RGB, 0–255); cloud is white.
PALETTE = {"paddy": (60, 130, 60), "crop": (150, 120, 80), "water": (30, 60, 160), "garden": (90, 160, 40),
           "forest": (20, 70, 30), "built": (190, 190, 200), "grass": (130, 170, 90)}
CLOUD = (250, 250, 250)


class PaletteModel:
    """Stand-in land-cover model: the nearest painted colour's class (white counts as water)."""

    classes = COVERS
    path = "palette"
    working_gsd_m = 4.0

    def probabilities(self, rgb, gsd_m):
        names = list(PALETTE) + ["water"]
        colours = np.array(list(PALETTE.values()) + [CLOUD], np.float32) / 255.0
        d = ((rgb[None] - colours[:, :, None, None]) ** 2).sum(1)
        nearest = d.argmin(0)
        prob = np.full((len(COVERS),) + rgb.shape[1:], 0.1 / (len(COVERS) - 1), np.float32)
        for k, name in enumerate(names):
            prob[COVERS.index(name)][nearest == k] = 0.9
        return prob


def _px(col, row, w, h):
    """A parcel from pixel col/row (top-left) and size, in EPSG:4547 metres."""
    return box(X0 + col * GSD, Y0 - (row + h) * GSD, X0 + (col + w) * GSD, Y0 - row * GSD)


#: Parcel name -> (col, row, w, h, before cover, after cover).
PARCELS = {
    "kept": (20, 20, 25, 25, "paddy", "paddy"),
    "pond": (60, 20, 25, 25, "paddy", "water"),
    "orchard": (100, 20, 25, 25, "crop", "garden"),
    "clouded": (20, 120, 25, 25, "crop", "cloud"),
    "built_and_dug": (60, 70, 25, 25, "paddy", "water"),
    "partly": (100, 70, 25, 25, "crop", "partly"),
    "small_forest": (140, 70, 10, 10, "crop", "forest"),
}


def _paint(image, parcel, cover):
    col, row, w, h = parcel[:4]
    if cover == "partly":  # 40 % water, 60 % crop
        image[:, row:row + h, col:col + w] = np.array(PALETTE["crop"])[:, None, None]
        image[:, row:row + 10, col:col + w] = np.array(PALETTE["water"])[:, None, None]
    elif cover == "cloud":  # a 160 m cloud over the parcel
        image[:, row - 8:row + h + 8, col - 8:col + w + 8] = np.array(CLOUD)[:, None, None]
    else:
        image[:, row:row + h, col:col + w] = np.array(PALETTE[cover])[:, None, None]


@pytest.fixture(scope="module")
def farm_pair(tmp_path_factory):
    from affine import Affine

    d = tmp_path_factory.mktemp("farm")
    images = {}
    for epoch, k in (("before", 4), ("after", 5)):
        img = np.empty((3, SIDE, SIDE), np.uint8)
        img[:] = np.array(PALETTE["forest"])[:, None, None]  # a wooded scene: clouds stand out as they do
        img[:, :, :8] = np.array((255, 0, 255))[:, None, None]  # calibration strips: each band at 0 and 255
        img[:, :, -8:] = np.array((0, 255, 0))[:, None, None]
        for parcel in PARCELS.values():
            _paint(img, parcel, parcel[k])
        images[epoch] = write_tif(d / f"{epoch}.tif", img, transform=Affine(GSD, 0, X0, 0, -GSD, Y0),
                                  descriptions=("red", "green", "blue"))
    layers = d / "layers"
    layers.mkdir()
    names = list(PARCELS)
    farmland = gpd.GeoDataFrame({"BSM": [f"44030500{i:04d}" for i in range(len(names))],
                                 "DLBM": ["0101" if PARCELS[n][4] == "paddy" else "0103" for n in names],
                                 "DLMC": ["水田" if PARCELS[n][4] == "paddy" else "旱地" for n in names],
                                 "name": names},
                                geometry=[_px(*PARCELS[n][:4]) for n in names], crs="EPSG:4547")
    road = gpd.GeoDataFrame({"BSM": ["road"], "DLBM": ["1003"], "DLMC": ["公路用地"], "name": ["road"]},
                            geometry=[_px(150, 150, 20, 20)], crs="EPSG:4547")
    pd.concat([farmland, road]).to_file(layers / "DLTB.gpkg")
    gpd.GeoDataFrame({"name": ["甲镇", "乙镇"], "code": ["440305001", "440305002"]},
                     geometry=[_px(0, 0, 200, 100), _px(0, 100, 200, 100)],
                     crs="EPSG:4547").to_file(layers / "townships.gpkg")
    col, row = PARCELS["built_and_dug"][:2]
    patches = gpd.GeoDataFrame({"patch_id": ["440305001-2024Q3-000007"], "label": ["violation"]},
                               geometry=[_px(col + 5, row + 5, 6, 5)], crs="EPSG:4547")
    return {"before": images["before"], "after": images["after"], "layers": layers, "patches": patches,
            "dir": d}


def _judged(farm_pair, **options):
    frame = farmland_use(farm_pair["before"], farm_pair["after"], layers=farm_pair["layers"],
                         patches=farm_pair["patches"], model=PaletteModel(), before_date="2023-09-10",
                         after_date="2024-09-15", **options)
    return frame.set_index("name")


def test_parcel_states_areas_and_reasons(farm_pair):
    frame = _judged(farm_pair)
    assert len(frame) == len(PARCELS)  # the road is not farmland (DLBM 01* only)
    expected = {"kept": "cropped", "pond": "non_grain", "orchard": "non_grain", "clouded": "uncertain",
                "built_and_dug": "non_agri", "partly": "cropped", "small_forest": "non_grain"}
    assert frame["state"].to_dict() == expected
    assert frame.loc["pond", "new_use"] == "pond" and frame.loc["orchard", "new_use"] == "orchard"
    assert frame.loc["pond", "state_zh"] == "非粮化" and frame.loc["kept", "state_zh"] == "耕种"
    assert frame.loc["kept", "area_m2"] == pytest.approx(100 * 100)  # 25 px × 4 m a side
    assert frame.loc["kept", "area_mu"] == pytest.approx(10000 / 666.67, abs=1e-3)
    assert frame.loc["pond", "use_share"] == pytest.approx(1.0)
    assert frame.loc["pond", "use_area_m2"] == pytest.approx(10000)
    reason = frame.loc["pond", "reason"]
    assert "100 % pond" in reason and "2024-09-15" in reason and "paddy 100 %" in reason and "2023-09-10" in reason
    assert frame.loc["pond", "new_this_batch"]
    assert frame.loc["small_forest", "new_use"] == "forest"
    # the parcel's own attributes travel with it, the township is the one it lies in
    assert frame.loc["pond", "BSM"] == "440305000001" and frame.loc["pond", "parcel_id"] == "440305000001"
    assert frame.loc["pond", "DLMC"] == "水田"
    assert frame.loc["kept", "township"] == "甲镇" and frame.loc["clouded", "township"] == "乙镇"
    assert frame.loc["kept", "township_code"] == "440305001"


def test_clouds_give_uncertain_not_non_grain(farm_pair):
    frame = _judged(farm_pair)
    assert frame.loc["clouded", "state"] == "uncertain"
    assert frame.loc["clouded", "obscured_share"] == pytest.approx(1.0)
    assert "cloud" in frame.loc["clouded", "reason"]
    # without the cloud mask the white cloud is read as water: the mask is what keeps it out
    assert _judged(farm_pair, clouds=False).loc["clouded", "state"] == "non_grain"


def test_built_and_dug_parcel_reported_once_as_non_agri(farm_pair):
    frame = _judged(farm_pair)
    assert (frame.index == "built_and_dug").sum() == 1
    row = frame.loc["built_and_dug"]
    assert row["state"] == "non_agri" and row["state_zh"] == "非农化"
    assert row["patch_ids"] == "440305001-2024Q3-000007"
    assert row["built_m2"] == pytest.approx(24 * 20)  # the 6 × 5 px patch
    assert "440305001-2024Q3-000007" in row["reason"]


def test_minimum_share_and_area_are_settings(farm_pair):
    frame = _judged(farm_pair, min_share=0.3, min_area_m2=2000)
    assert frame.loc["partly", "state"] == "non_grain"  # 40 % water counts at a 30 % share
    assert frame.loc["partly", "use_share"] == pytest.approx(0.4)
    assert frame.loc["small_forest", "state"] == "cropped"  # 1,600 m² of forest is under 2,000 m²
    assert "minimum area" in frame.loc["small_forest", "reason"]


def test_flooded_paddy_in_transplanting_season_is_uncertain():
    counts_b = np.zeros((1, len(COVERS) + 1), int)
    counts_b[0, COVERS.index("paddy")] = 100
    counts_a = np.zeros_like(counts_b)
    counts_a[0, COVERS.index("water")] = 100
    for month, state in ((5, "uncertain"), (9, "non_grain")):
        out = judge_parcels(counts_b, counts_a, COVERS, np.array([5000.0]), before_date=dt.date(2023, 9, 1),
                            after_date=dt.date(2024, month, 1))
        assert out["state"][0] == state


def test_worst_ten_matches_hand_computation():
    rng = np.random.default_rng(3)
    rows = []
    areas = {}
    for t in range(12):
        name = f"镇{t:02d}"
        use_m2 = [float(x) for x in rng.integers(100, 5000, size=3)]
        areas[name] = sum(use_m2) / 666.67
        for k, m2 in enumerate(use_m2):
            rows.append({"state": "non_grain", "new_use": ("pond", "orchard", "forest")[k], "new_this_batch": True,
                         "area_m2": 6000.0, "use_area_m2": m2, "built_m2": 0.0, "township": name,
                         "township_code": f"{t:09d}"})
        rows.append({"state": "cropped", "new_use": "", "new_this_batch": False, "area_m2": 9000.0,
                     "use_area_m2": 0.0, "built_m2": 0.0, "township": name, "township_code": f"{t:09d}"})
    stats = farmland_township_stats(pd.DataFrame(rows))
    hand = sorted(areas, key=lambda n: (-areas[n], n))[:10]
    top = worst_ten(stats, "non_grain_mu")
    assert top["township"].tolist() == hand
    assert top["value"].to_numpy() == pytest.approx([areas[n] for n in hand], abs=1e-3)
    assert top["rank"].tolist() == list(range(1, 11))
    total = stats[stats["township"] == "合计"].iloc[0]
    assert total["non_grain_parcels"] == 36
    assert total["non_grain_ratio"] == pytest.approx(sum(areas.values()) * 666.67 / (12 * 27000.0), rel=1e-6)
    patch_stats = pd.DataFrame({"township": ["镇01", "镇02", "合计"], "township_code": ["1", "2", ""],
                                "farmland_illegal_m2": [666.67, 2 * 666.67, 3 * 666.67],
                                "ratio": [0.1, 0.5, 0.3]})
    table = worst_ten_table(stats, patch_stats)
    assert table["非农化街道/镇"].tolist()[:2] == ["镇02", "镇01"]
    assert table["违法占耕地面积（亩）"].tolist()[:2] == pytest.approx([2.0, 1.0])
    assert table["违法占耕比"].tolist()[:2] == pytest.approx([0.5, 0.1])
    assert table["非粮化街道/镇"].tolist() == hand


def test_farmland_deliverables_and_ledger(farm_pair, tmp_path):
    from weipian.deliver.farmland import write_farmland_outputs
    from weipian.ledger import Ledger
    from weipian.ledger.ingest import parcel_entries

    frame = farmland_use(farm_pair["before"], farm_pair["after"], layers=farm_pair["layers"],
                         patches=farm_pair["patches"], model=PaletteModel(), after_date="2024-09-15")
    out = write_farmland_outputs(frame, tmp_path, before=farm_pair["before"], after=farm_pair["after"])
    changed = gpd.read_file(out["parcels_gpkg"], layer="parcels")
    assert sorted(changed["name"]) == sorted(n for n, s in _judged(farm_pair)["state"].items() if s != "cropped")
    assert len(gpd.read_file(out["parcels_gpkg"], layer="farmland_use")) == len(PARCELS)
    chipped = changed[changed["state"] != "non_agri"]  # 非农化 parcels link their patches' chips instead
    assert sorted(p.stem for p in out["chips_parcels"].glob("*.png")) == sorted(chipped["parcel_id"])
    page = out["farmland_html"].read_text(encoding="utf-8")
    assert "最差十名" in page and "440305000001" in page
    # 非粮化 parcels become ledger entries; the next batch's parcel repeats the case, a patch does not
    entries = parcel_entries(changed, "2024Q3")
    assert set(entries["label"]) == {"non_grain"}
    assert len(entries) == int((changed["state"] == "non_grain").sum())
    ledger = tmp_path / "ledger.gpkg"
    with Ledger(ledger) as book:
        book.add_patches(entries, batch="2024Q3")
        later = parcel_entries(changed, "2024Q4")
        pond = later[later["patch_id"].str.endswith("F440305000001")]
        patch = gpd.GeoDataFrame({"patch_id": ["440305001-2024Q4-000001"], "label": ["violation"]},
                                 geometry=[pond.geometry.iloc[0].buffer(-10)], crs=pond.crs)
        result = book.add_patches(pd.concat([pond, patch], ignore_index=True), batch="2024Q4")
        rows = book.patches().set_index("patch_id")
    assert result.repeats == 1 and result.new == 1
    first = "440305001-2024Q3-F440305000001"
    assert rows.loc["440305001-2024Q4-F440305000001", "repeat_of"] == first
    assert rows.loc["440305001-2024Q4-000001", "state"] == "疑似"


def test_no_farmland_layer_is_a_clear_error(farm_pair, tmp_path):
    from weipian.errors import LayerError

    (tmp_path / "empty").mkdir()
    with pytest.raises(LayerError, match="no farmland layer"):
        farmland_use(farm_pair["before"], farm_pair["after"], layers=tmp_path / "empty", model=PaletteModel())


def test_unknown_rule_option_is_refused(farm_pair):
    with pytest.raises(TypeError, match="min_share"):
        farmland_use(farm_pair["before"], farm_pair["after"], layers=farm_pair["layers"], model=PaletteModel(),
                     min_shares=0.4)


# -- the shipped land-cover model, the commands and training ------------------------------------------
def test_farmland_command_with_the_shipped_model(runner, farm_pair, tmp_path):
    from weipian.cli.main import main

    out = tmp_path / "farm"
    result = runner.invoke(main, ["farmland", str(farm_pair["before"]), str(farm_pair["after"]), "--layers",
                                  str(farm_pair["layers"]), "-o", str(out), "--after-date", "2024-09-15",
                                  "--parcel-min-share", "0.6"])
    assert result.exit_code == 0, result.output
    assert f"{len(PARCELS)} farmland parcels judged" in result.output
    every = gpd.read_file(out / "parcels.gpkg", layer="farmland_use")
    assert len(every) == len(PARCELS) and every["reason"].str.len().min() > 0
    assert set(every["state"]) <= {"cropped", "non_grain", "non_agri", "uncertain"}
    assert every["area_m2"].sum() == pytest.approx(sum(w * h for _, _, w, h, *_ in PARCELS.values()) * GSD**2)
    for name in ("parcels.xlsx", "farmland_townships.csv", "worst_ten.csv", "farmland.html"):
        assert (out / name).stat().st_size > 0
    again = runner.invoke(main, ["farmland", str(farm_pair["before"]), str(farm_pair["after"]), "--layers",
                                 str(farm_pair["layers"]), "-o", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_run_with_farmland_use_adds_the_section_and_the_record(runner, small_batch, tmp_path):
    import json

    from weipian.cli.main import main

    out = tmp_path / "run"
    result = runner.invoke(main, ["run", str(small_batch["before"]), str(small_batch["after"]), "--layers",
                                  str(small_batch["farmland"].parent), "-o", str(out), "--farmland-use",
                                  "--no-chips"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["settings"]["farmland"]["farmland_use"] is True
    assert sum(record["farmland"]["counts"].values()) == record["farmland"]["parcels"] > 0
    assert "farmland_s" in record["timings"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="farmland-use"' in report and "最差十名" in report
    parcels = gpd.read_file(out / "parcels.gpkg", layer="farmland_use")
    patches = gpd.read_file(out / "patches.gpkg")
    linked = parcels[parcels["state"] == "non_agri"]
    ids = set(patches["patch_id"])
    assert all(set(p.split(";")) <= ids for p in linked["patch_ids"])


def test_cover_training_resumes_and_exports(tmp_path):
    pytest.importorskip("torch")
    from weipian.learn.cover_export import export_cover_onnx
    from weipian.learn.cover_model import CoverModel
    from weipian.learn.cover_train import CoverTrainConfig, train_cover
    from weipian.learn.landcover import LandCoverTile

    rng = np.random.default_rng(0)
    tiles = []
    for k in range(2):
        cover = np.zeros((64, 64), np.uint8)
        cover[:, 32:] = 6 if k else 1  # half built, half water or paddy (landcover class indices)
        image = np.zeros((4, 64, 64), np.float32)
        image[:3] = rng.random((3, 64, 64)) * 0.1 + cover[None] / 8
        tiles.append(LandCoverTile(name=f"gid15/t{k}", image=image, cover=cover, gsd_m=4.0))
    config = CoverTrainConfig(steps=4, batch=2, crop=32, val_every=2)
    first = train_cover(tiles, tmp_path / "m", val_tiles=tiles[:1], config=config, progress=False)
    assert [h["step"] for h in first["history"]] == [2, 4]
    config = CoverTrainConfig(steps=6, batch=2, crop=32, val_every=2)
    resumed = train_cover(tiles, tmp_path / "m", val_tiles=tiles[:1], config=config, resume=True, progress=False)
    assert [h["step"] for h in resumed["history"]] == [2, 4, 6]
    path = export_cover_onnx(resumed["best"], tmp_path / "m" / "model.onnx")
    model = CoverModel(path)
    prob = model.probabilities(tiles[0].image[:3], 4.0)
    assert prob.shape == (len(COVERS), 64, 64)
    assert np.allclose(prob.sum(0), 1.0, atol=1e-4)


def test_not_a_cover_model_is_a_clear_error(tmp_path):
    from weipian.errors import ModelError
    from weipian.learn.cover_model import CoverModel
    from weipian.learn.model import DEFAULT_MODEL

    with pytest.raises(ModelError, match="not found"):
        CoverModel(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="not a weipian land-cover model"):
        CoverModel(DEFAULT_MODEL)  # the change model
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not an ONNX model"):
        CoverModel(tmp_path / "junk.onnx")


def test_farmland_page_in_browser(farm_pair, tmp_path):
    import re
    import subprocess

    from conftest import chromium_path

    from weipian.deliver.farmland import write_farmland_outputs

    browser = chromium_path()
    frame = farmland_use(farm_pair["before"], farm_pair["after"], layers=farm_pair["layers"],
                         patches=farm_pair["patches"], model=PaletteModel(), after_date="2024-09-15")
    out = write_farmland_outputs(frame, tmp_path / "out", before=farm_pair["before"], after=farm_pair["after"])
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", out["farmland_html"].as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    # the script drew one SVG path per farmland parcel
    assert len(re.findall(r'<path [^>]*class="parcel', dom)) == len(PARCELS)
    assert f'data-parcels="{len(PARCELS)}"' in dom


def test_bare_on_two_growing_season_dates_is_possibly_abandoned():
    classes = COVERS + ("bare",)
    counts = np.zeros((1, len(classes) + 1), int)
    counts[0, classes.index("bare")] = 100
    summer = judge_parcels(counts, counts, classes, np.array([5000.0]), before_date=dt.date(2023, 7, 1),
                           after_date=dt.date(2024, 7, 1))
    assert summer["state"][0] == "uncertain" and "撂荒" in summer["reason"][0]
    winter = judge_parcels(counts, counts, classes, np.array([5000.0]), before_date=dt.date(2024, 1, 10),
                           after_date=dt.date(2024, 7, 1))
    assert winter["state"][0] == "cropped"  # bare in winter, then bare in summer: fallow, not abandoned


def test_bare_ground_needs_the_near_infrared():
    from weipian.farmland.cover_map import cover_classes, epoch_cover

    data = np.zeros((4, 40, 40), np.float32)
    data[:3] = np.array(PALETTE["crop"], np.float32)[:, None, None]
    data[3, :, :20] = 400.0  # NDVI 0.45: vegetated
    data[3, :, 20:] = 160.0  # NDVI 0.03: bare soil
    data[:, :, :2] = 0.0  # calibration strips fix the stretch (see the module docstring)
    data[:, :, -2:] = 255.0
    valid = np.ones((40, 40), bool)
    classes = cover_classes(PaletteModel())
    roles = {"red": 0, "green": 1, "blue": 2, "nir": 3}
    cover, _, _ = epoch_cover(PaletteModel(), data, roles, valid, 4.0, clouds=False)
    assert (cover[:, 5:18] == classes.index("crop")).all()
    assert (cover[:, 22:37] == classes.index("bare")).all()
    rgb_only, _, _ = epoch_cover(PaletteModel(), data[:3], {"red": 0, "green": 1, "blue": 2}, valid, 4.0,
                                 clouds=False)
    assert not (rgb_only == classes.index("bare")).any()


def test_user_masks_leave_parcels_uncertain(farm_pair, tmp_path):
    mask = tmp_path / "mask.gpkg"
    gpd.GeoDataFrame(geometry=[_px(*PARCELS["pond"][:4]).buffer(4)], crs="EPSG:4547").to_file(mask)
    frame = _judged(farm_pair, mask_after=mask)
    assert frame.loc["pond", "state"] == "uncertain" and frame.loc["pond", "obscured_share"] == 1.0
    assert frame.loc["orchard", "state"] == "non_grain"  # unmasked parcels are judged as before


def test_a_farmland_layer_beside_the_imagery_warns(farm_pair, tmp_path):
    from weipian.errors import WeipianWarning

    (tmp_path / "layers").mkdir()
    gpd.GeoDataFrame({"DLBM": ["0101"]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:4547").to_file(
        tmp_path / "layers" / "farmland.gpkg")
    with pytest.warns(WeipianWarning, match="no farmland parcel lies on"):
        frame = farmland_use(farm_pair["before"], farm_pair["after"], layers=tmp_path / "layers",
                             model=PaletteModel())
    assert len(frame) == 0
