"""The change core: seasonal pairs with known labels, working resolution, int8, the plausibility guard."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine
from conftest import ORIGIN, write_tif

import weipian
from weipian.errors import PlausibilityWarning
from weipian.guard import PLAUSIBLE_SHARE, likely_causes, plausibility
from weipian.learn.landcover import COVER_CLASSES
from weipian.learn.resolution import block_mean, scaled_runner, working_factor
from weipian.learn.samples import IGNORE, BuildingTile
from weipian.learn.seasons import ParcelBank, seasonal_crop, seasonal_pair

C = {name: i for i, name in enumerate(COVER_CLASSES)}
GREEN = np.float32([0.15, 0.55, 0.2])   # a green crop (stretched red, green, blue)
BARE = np.float32([0.65, 0.5, 0.35])    # bare soil


def _farm_tile(rng):
    """96 x 96: two green crop fields, a village block, a pond and an unlabelled strip."""
    image = np.zeros((4, 96, 96), np.float32)
    cover = np.full((96, 96), C["crop"], np.uint8)
    image[:3] = GREEN[:, None, None]
    image[:3, :, 46:50] = 0.9          # a bright dike between the fields
    cover[:, 46:50] = C["grass"]
    cover[60:80, 10:30] = C["built"]
    image[:3, 60:80, 10:30] = 0.7
    cover[10:30, 60:85] = C["water"]
    image[:3, 10:30, 60:85] = np.float32([0.1, 0.15, 0.25])[:, None, None]
    cover[90:, :] = C["unknown"]
    image[:3] += rng.normal(0, 0.02, image[:3].shape).astype(np.float32)
    return image, cover


def _bare_bank():
    """A bank whose only farmland donors are bare parcels (and one water parcel)."""
    return ParcelBank(means=np.float32([BARE, BARE, [0.1, 0.15, 0.25]]), stds=np.float32([[0.03] * 3] * 3),
                      cover=np.uint8([C["bare"], C["crop"], C["water"]]),
                      source=np.array(["test", "test", "test"]))


def test_a_crop_parcel_made_bare_is_change_but_not_construction():
    made_bare = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        image, cover = _farm_tile(rng)
        before, after, any_c, cons = seasonal_pair(image, cover, 4.0, _bare_bank(), rng,
                                                   change_share=(1.0, 1.0), source="test")
        assert not (cons == 1).any()                           # nothing was built
        assert (cons[cover != C["unknown"]] == 0).all()
        assert (any_c[cover == C["unknown"]] == IGNORE).all()  # unknown truth stays unknown
        assert (any_c[cover == C["built"]] == 0).all()         # the village did not change
        cols = np.arange(96)[None, :]
        for field in ((cover == C["crop"]) & (cols < 46), (cover == C["crop"]) & (cols > 50)):
            labelled = any_c[field]
            assert (labelled == labelled[0]).all()             # a field changes as a whole
            means = sorted([before[:3, field].mean(1), after[:3, field].mean(1)], key=lambda m: m[0])
            if labelled[0] == 1:                               # a changed field looks different
                assert np.abs(means[1] - means[0]).max() > 0.08
            if means[0][1] > 0.45 and means[1][0] > 0.45 and means[1][1] < 0.6:  # green -> bare
                assert labelled[0] == 1
                made_bare += 1
    assert made_bare >= 3


def test_seasonal_crops_span_the_pixel_sizes_asked_for():
    """Crops of a 4 m tile: 4 m and coarser by default, down to 1.6 m with min_zoom=0.4, labels kept."""
    from weipian.learn.landcover import LandCoverTile

    rng = np.random.default_rng(3)
    image, cover = _farm_tile(rng)
    tile = LandCoverTile("test/farm", image, cover, 4.0)
    default = [seasonal_crop(tile, 32, rng)[2] for _ in range(200)]
    finer = [seasonal_crop(tile, 32, rng, min_zoom=0.4) for _ in range(200)]
    assert min(default) >= 4.0 and max(default) <= 4.0 * 3
    gsd = np.array([g for _, _, g in finer])
    assert gsd.min() >= 4.0 * 0.4 - 1e-9 and (gsd < 4.0).mean() > 0.3   # a third or more enlarged
    for crop, crop_cover, _ in finer[:20]:
        assert crop.shape == (4, 32, 32) and crop_cover.shape == (32, 32)
        assert set(np.unique(crop_cover)) <= set(np.unique(cover))      # nearest-neighbour labels only


def _roof_tiles():
    """One 40 x 40 building tile at 1 m: two bright roofs (10 x 10 and 12 x 10)."""
    roofs = np.zeros((4, 40, 40), np.float32)
    roofs[:3] = 0.95
    mask = np.zeros((40, 40), bool)
    mask[5:15, 5:15] = mask[22:34, 20:30] = True
    return [BuildingTile("test/roofs", roofs, mask, 1.0)]


def test_pasted_footprints_are_construction_only_one_way_round():
    tiles = _roof_tiles()
    seen_built = seen_demolished = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        image, cover = _farm_tile(rng)
        before, after, any_c, cons = seasonal_pair(image, cover, 1.0, _bare_bank(), rng, buildings=tiles,
                                                   build_share=1.0, change_share=(0.0, 0.0), source="test")
        built = cons == 1
        assert (any_c[built] == 1).all()
        if built.any():                                      # the roofs are in the after epoch only
            seen_built += 1
            np.testing.assert_array_equal(before[:3, built], image[:3, built])
            assert np.abs(after[:3, built] - image[:3, built]).max(axis=0).mean() > 0.2
        elif (any_c == 1).any():                             # exchanged: a demolition, not construction
            seen_demolished += 1
            gone = any_c == 1
            np.testing.assert_array_equal(after[:3, gone], image[:3, gone])
    assert seen_built and seen_demolished


def test_working_factor_and_block_mean():
    assert [working_factor(g) for g in (0.1, 0.25, 0.5, 0.6, 1.0, 10.0)] == [2, 2, 2, 2, 1, 1]
    assert working_factor(0.25, max_factor=4) == 4
    assert working_factor(0.5, None) == 1
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    assert block_mean(x, 2).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]


def test_scaled_runner_undoes_its_flips():
    def run(b, a):  # a position-dependent "model": flips must be undone exactly
        return np.stack([a[:, 0], b[:, 0] * 0 + np.arange(a.shape[-1], dtype=np.float32)], 1)

    rng = np.random.default_rng(0)
    b = rng.random((2, 6, 32, 32)).astype(np.float32)
    a = rng.random((2, 6, 32, 32)).astype(np.float32)
    plain = scaled_runner(run)(b, a)
    flipped = scaled_runner(run, flips=True)(b, a)
    np.testing.assert_allclose(plain[:, 0], flipped[:, 0], atol=1e-6)
    assert scaled_runner(run, factor=2)(b, a).shape == plain.shape


def _half_metre_scene(tmp_path):
    """A 512 x 512 px pair at 0.5 m with bright roofs across the 256 px window seams."""
    from weipian.testing.scenes import SPECTRA

    rng = np.random.default_rng(5)
    base = np.asarray(SPECTRA["crop"], np.float32)[:, None, None] * 10000
    before = np.broadcast_to(base, (4, 512, 512)).copy()
    after = before.copy()
    for (r0, r1, c0, c1), name in zip([(240, 272, 80, 140), (100, 130, 240, 270), (244, 268, 244, 268)],
                                      ["concrete", "white", "blue_steel"]):
        after[:, r0:r1, c0:c1] = np.asarray(SPECTRA[name], np.float32)[:, None, None] * 10000
    before += rng.normal(0, 40, before.shape)
    after += rng.normal(0, 40, after.shape)
    half = Affine(0.5, 0.0, ORIGIN.c, 0.0, -0.5, ORIGIN.f)
    b = write_tif(tmp_path / "b.tif", np.clip(before, 1, None).astype(np.uint16), transform=half)
    a = write_tif(tmp_path / "a.tif", np.clip(after, 1, None).astype(np.uint16), transform=half)
    return b, a


def _unrouted_default(tmp_path):
    """The shipped default model alone, without the routes that send sub-metre pixels elsewhere."""
    from weipian.learn.model import copy_without_routes

    return copy_without_routes(None, tmp_path / "unrouted")


def test_working_resolution_is_seam_exact_across_windows_and_workers(tmp_path):
    b, a = _half_metre_scene(tmp_path)
    model = _unrouted_default(tmp_path)
    whole = weipian.detect(b, a, model=model, window_size=None, clouds=False, threshold=0.2)
    assert whole.attrs["weipian"]["model"]["factor"] == 2  # 0.5 m imagery runs at 1 m
    for size, workers in ((256, 2), (512, 1), (256, 1)):
        tiled = weipian.detect(b, a, model=model, window_size=size, workers=workers, clouds=False,
                               threshold=0.2)
        assert list(tiled.patch_id) == list(whole.patch_id)
        assert all(shapely.equals_exact(x, y, 0) for x, y in zip(tiled.geometry, whole.geometry))


def test_default_routes_sub_metre_pixels_to_its_native_model_seam_exact(tmp_path):
    from weipian.learn import DEFAULT_MODEL

    b, a = _half_metre_scene(tmp_path)
    whole = weipian.detect(b, a, window_size=None, clouds=False, threshold=0.2)
    model = whole.attrs["weipian"]["model"]
    assert Path(model["path"]) == DEFAULT_MODEL.parent / "vhr" / "model.onnx"
    assert model["factor"] == 1  # the routed model runs at the imagery's own 0.5 m
    tiled = weipian.detect(b, a, window_size=256, workers=2, clouds=False, threshold=0.2)
    assert list(tiled.patch_id) == list(whole.patch_id)
    assert all(shapely.equals_exact(x, y, 0) for x, y in zip(tiled.geometry, whole.geometry))


def test_balanced_quality_flips_at_the_working_resolution_seam_exact(tmp_path):
    b, a = _half_metre_scene(tmp_path)
    unrouted = _unrouted_default(tmp_path)
    whole = weipian.detect(b, a, model=unrouted, window_size=None, clouds=False, threshold=0.2,
                           quality="balanced")
    model = whole.attrs["weipian"]["model"]
    assert (model["factor"], model["flips"], model["quality"]) == (2, True, "balanced")
    tiled = weipian.detect(b, a, model=unrouted, window_size=256, workers=2, clouds=False, threshold=0.2,
                           quality="balanced")
    assert list(tiled.patch_id) == list(whole.patch_id)
    assert all(shapely.equals_exact(x, y, 0) for x, y in zip(tiled.geometry, whole.geometry))
    accurate = weipian.detect(b, a, window_size=None, clouds=False, threshold=0.2, quality="accurate")
    assert (accurate.attrs["weipian"]["model"]["factor"], accurate.attrs["weipian"]["model"]["flips"]) == (1, True)
    with pytest.raises(ValueError, match="fast, balanced or accurate"):
        weipian.detect(b, a, quality="best")


def test_guard_is_pure_and_names_causes():
    assert plausibility(0, 0)["plausible"]
    found = plausibility(50, 1000, shift_px=(0.1, 0.0), dates={"before": "2023-12-05", "after": "2024-06-20"})
    assert not found["plausible"] and found["flagged_share"] == 0.05 and found["limit"] == PLAUSIBLE_SHARE
    assert any(c.startswith("season") for c in found["causes"]) and "season" in found["message"]
    assert likely_causes(shift_px=(0.0, -7.5))[0].startswith("registration")
    assert any(c.startswith("haze") for c in likely_causes(levels_before=[(0, 100)], levels_after=[(40, 80)]))
    assert likely_causes(dates={"before": "2024-01-05", "after": "2024-02-20"})[0].startswith("unfamiliar")
    # contrast is compared free of the bit depth: 16-bit before, 8-bit after, same scene
    assert not any(c.startswith("haze") for c in likely_causes(levels_before=[(400, 3000)],
                                                               levels_after=[(10, 76)]))
    # a scene under 10 ha is not judged: one large building is more than 3 % of it
    tiny = plausibility(500, 4096, pixel_m2=1.0)
    assert tiny["plausible"] and not tiny["judged"]
    assert not plausibility(50_000, 1_000_000, pixel_m2=1.0)["plausible"]


def test_guard_fires_on_an_implausible_scene_and_says_so_in_run_json(small_batch, tmp_path):
    with pytest.warns(PlausibilityWarning, match="flagged as new construction"):
        judged = weipian.run(small_batch["before"], small_batch["after"], layers=small_batch["farmland"].parent,
                             output=tmp_path / "out", threshold=0.01, chips=False)
    guard = judged.attrs["weipian"]["guard"]
    assert not guard["plausible"] and guard["flagged_share"] > PLAUSIBLE_SHARE and guard["causes"]
    import json

    record = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert record["guard"]["plausible"] is False
    assert 'id="guard"' in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_guard_is_silent_on_the_sample_batch(small_batch):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        found = weipian.detect(small_batch["before"], small_batch["after"])
    assert found.attrs["weipian"]["guard"]["plausible"]


def _small_lean_checkpoint(torch, tmp_path):
    """An untrained lean network (widths 8-16-24-32, RGB, 1 m working resolution) saved as a checkpoint."""
    from weipian.learn.network import build_network

    torch.manual_seed(0)
    net = build_network("lean", (8, 16, 24, 32))
    ckpt = tmp_path / "net.pt"
    torch.save({"model": net.state_dict(), "config": {"arch": "lean", "widths": [8, 16, 24, 32],
                                                      "rgb_only": True, "working_gsd_m": 1.0},
                "step": 0, "best": None}, ckpt)
    return ckpt


def test_int8_model_agrees_with_the_float_model(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime.quantization")
    from weipian.learn.export import export_onnx
    from weipian.learn.quantise import agreement, quantise

    float_path = export_onnx(_small_lean_checkpoint(torch, tmp_path), tmp_path / "model.onnx")
    rng = np.random.default_rng(0)
    tiles = []
    for _ in range(6):
        x = np.zeros((1, 6, 320, 320), np.float32)
        x[0, :3] = rng.random((3, 320, 320)) * 0.3 + rng.random((3, 1, 1))
        x[0, 5] = 0.0
        tiles.append((x, np.clip(x + rng.normal(0, 0.1, x.shape).astype(np.float32), -0.5, 1.5)))
    int8 = quantise(float_path, tmp_path / "model_int8.onnx", tiles[:4])
    found = agreement(float_path, int8, tiles[4:])
    # stated tolerance (guide, The change model): probabilities within 0.05, flags agree on 99 %
    assert found["max_abs"] <= 0.05 and found["flag_agreement"] >= 0.99
    assert weipian.learn.model.ChangeModel(int8).card["quantised"] == "int8"


def test_calibration_seasonal_pairs_cover_the_fine_pixel_sizes_with_nothing_built():
    """The budget of the fine threshold is held on pairs finer than the tiles' own 4 m, all unbuilt."""
    from weipian.learn.calibrate import CALIBRATION_SEASONAL_SETS, COARSE_GSD_M, calibration_seasonal_pairs
    from weipian.learn.landcover import LandCoverTile

    rng = np.random.default_rng(5)
    tiles = []
    for k in range(4):
        image, cover = _farm_tile(rng)
        big = np.zeros((4, 224, 224), np.float32)
        big_cover = np.zeros((224, 224), np.uint8)
        for r in (0, 96):
            for c in (0, 96):
                big[:, r:r + 96, c:c + 96], big_cover[r:r + 96, c:c + 96] = image, cover
        big[:, 192:], big_cover[192:] = big[:, :32], big_cover[:32]
        big[:, :, 192:], big_cover[:, 192:] = big[:, :, :32], big_cover[:, :32]
        tiles.append(LandCoverTile(f"gid15/farm{k}", big, big_cover, 4.0))
    pairs = calibration_seasonal_pairs(tiles)
    assert len(pairs) == sum(count for count, *_ in CALIBRATION_SEASONAL_SETS)
    assert len({p.name for p in pairs}) == len(pairs)
    for pair in pairs:
        assert not (pair.construction == 1).any()
        assert pair.before.shape[1:] == pair.any_change.shape
    fine = [p.gsd_m for p in pairs if p.gsd_m <= COARSE_GSD_M]
    assert len(fine) >= 48 and min(fine) < 4.0 * 0.5   # enlarged to about 1.6-2 m
    assert max(p.gsd_m for p in pairs) > COARSE_GSD_M  # and the coarse group has its own


def test_replace_card_keeps_the_network(tmp_path):
    torch = pytest.importorskip("torch")
    from weipian.learn.export import export_onnx, replace_card
    from weipian.learn.model import ChangeModel

    path = export_onnx(_small_lean_checkpoint(torch, tmp_path), tmp_path / "model.onnx")
    x = np.random.default_rng(1).random((1, 6, 320, 320)).astype(np.float32)
    y = x[:, :, ::-1].copy()
    before = ChangeModel(path).run(x, y)
    card = dict(ChangeModel(path).card, thresholds={"any": 0.4, "construction": 0.65})
    replace_card(path, card)
    import json
    import shutil

    assert json.loads((tmp_path / "model_card.json").read_text(encoding="utf-8"))["thresholds"]["any"] == 0.4
    again = ChangeModel(shutil.copy(path, tmp_path / "again.onnx"))   # a new path: a new session
    assert again.card["thresholds"]["construction"] == 0.65
    assert again.threshold("construction", 1.0) == 0.65
    np.testing.assert_array_equal(before, again.run(x, y))


def test_an_enlarged_seasonal_example_is_made_on_the_tiles_own_pixels_then_resized():
    """Parcels recoloured at the tile's 4 m, then both epochs and the labels enlarged alike."""
    from weipian.learn.augment import _resize
    from weipian.learn.landcover import LandCoverTile
    from weipian.learn.seasons import seasonal_crop, seasonal_example, seasonal_pair

    image, cover = _farm_tile(np.random.default_rng(8))
    tile = LandCoverTile("test/farm", image, cover, 4.0)
    options = {"change_share": (1.0, 1.0), "source": "test"}
    for seed in range(6):
        made = seasonal_example(tile, 192, _bare_bank(), np.random.default_rng(seed), min_zoom=0.4,
                                max_zoom_out=0.45, **options)
        before, after, any_c, cons, gsd = made
        assert before.shape == after.shape == (4, 192, 192) and any_c.shape == cons.shape == (192, 192)
        assert 1.6 - 1e-9 <= gsd < 4.0                        # enlarged: finer than the tile's 4 m
        assert not (cons == 1).any()                          # nothing was built
        rng = np.random.default_rng(seed)                     # the same draws, done by hand
        crop, crop_cover, crop_gsd = seasonal_crop(tile, 192, rng, min_zoom=0.4, max_zoom_out=0.45,
                                                   resize=False)
        assert crop.shape[1] < 192 and crop_gsd == gsd        # tile pixels, the size it will take
        native = seasonal_pair(crop, crop_cover, 4.0, _bare_bank(), rng, **options)
        np.testing.assert_array_equal(before, _resize(native[0], 192))
        np.testing.assert_array_equal(after, _resize(native[1], 192))
        np.testing.assert_array_equal(any_c, _resize(native[2], 192, labels=True))


def test_seasonal_examples_made_on_the_crop_are_the_earlier_recipe():
    """made_on="crop" (stages 1 and 2 of make model) is crop, resize, then make the pair."""
    from weipian.learn.landcover import LandCoverTile
    from weipian.learn.seasons import seasonal_crop, seasonal_example, seasonal_pair

    image, cover = _farm_tile(np.random.default_rng(8))
    tile = LandCoverTile("test/farm", image, cover, 4.0)
    made = seasonal_example(tile, 64, _bare_bank(), np.random.default_rng(1), min_zoom=0.4, made_on="crop",
                            source="test")
    rng = np.random.default_rng(1)
    crop, crop_cover, gsd = seasonal_crop(tile, 64, rng, min_zoom=0.4)
    by_hand = seasonal_pair(crop, crop_cover, gsd, _bare_bank(), rng, source="test")
    for got, want in zip(made[:4], by_hand):
        np.testing.assert_array_equal(got, want)
    assert made[4] == gsd
    with pytest.raises(ValueError, match="made_on"):
        seasonal_example(tile, 64, _bare_bank(), rng, made_on="pixels")


def test_the_calibration_of_0_4_is_kept_by_name():
    """make model calibrates the shipped weights as 0.4 was: 48 pairs of 128², made on the crop."""
    from weipian.learn.calibrate import CALIBRATIONS, calibration_seasonal_pairs, seasonal_validation_pairs
    from weipian.learn.landcover import LandCoverTile

    rng = np.random.default_rng(6)
    tiles = []
    for k in range(3):
        image, cover = _farm_tile(rng)
        tiles.append(LandCoverTile(f"gid15/farm{k}", np.pad(image, ((0, 0), (0, 64), (0, 64)), mode="reflect"),
                                   np.pad(cover, ((0, 64), (0, 64)), mode="reflect"), 4.0))
    old = calibration_seasonal_pairs(tiles, "0.4")
    assert set(CALIBRATIONS) >= {"current", "0.4"} and len(old) == 48
    by_hand = seasonal_validation_pairs(tiles, made_on="crop")
    for got, want in zip(old, by_hand):
        np.testing.assert_array_equal(got.after, want.after)
        assert got.gsd_m == want.gsd_m >= 4.0
    with pytest.raises(ValueError, match="calibration"):
        calibration_seasonal_pairs(tiles, "0.3")


def _striped_and_bare_tile(rng):
    """64 x 96: a green crop field in rows 8 pixels wide (left) beside a flat bare field (right)."""
    image = np.zeros((4, 64, 96), np.float32)
    cover = np.full((64, 96), C["crop"], np.uint8)
    rows = (np.arange(64) // 4) % 2 == 0
    image[:3, :, :46] = GREEN[:, None, None]
    image[:3, rows, :46] += 0.06
    image[:3, :, 50:] = BARE[:, None, None]
    cover[:, 50:] = C["bare"]
    image[:3, :, 46:50] = 0.9
    cover[:, 46:50] = C["grass"]
    image[:3] += rng.normal(0, 0.01, image[:3].shape).astype(np.float32)
    return image, cover


def _row_contrast(epoch: np.ndarray) -> float:
    """How strongly the left field's rows stand out (band 0, stretched units)."""
    rows = (np.arange(64) // 4) % 2 == 0
    return float(abs(epoch[0, rows, 4:42].mean() - epoch[0, ~rows, 4:42].mean()))


def _two_fields(image, cover, *, n):
    """The segmentation of :func:`_striped_and_bare_tile`: each field one parcel, the dike none."""
    segments = np.full(cover.shape, -1, np.int32)
    segments[:, :46], segments[:, 50:] = 0, 1
    return segments


def test_a_retextured_parcel_takes_the_donor_fields_texture_and_is_not_construction(monkeypatch):
    from weipian.learn import seasons
    from weipian.learn.seasons import _retextured

    image, cover = _striped_and_bare_tile(np.random.default_rng(0))
    left, right = cover == C["crop"], cover == C["bare"]
    pixels = _retextured(image, left, right, np.random.default_rng(1))
    assert pixels.shape == (3, int(left.sum()))
    donor_values = set(np.round(image[0, right], 6))
    assert set(np.round(pixels[0], 6)) <= donor_values      # every pixel is one of the donor's
    assert _retextured(image, left, np.zeros_like(right), np.random.default_rng(1)) is None
    thin = np.zeros_like(right)
    thin[:, 60:64] = True                                   # 4 pixels wide: no 6-pixel square
    assert _retextured(image, left, thin, np.random.default_rng(1)) is None

    monkeypatch.setattr(seasons, "_parcels", _two_fields)
    kept, lost = [], []
    for seed in range(16):
        for share, out in ((0.0, kept), (1.0, lost)):
            rng = np.random.default_rng(seed)
            image, cover = _striped_and_bare_tile(rng)
            before, after, any_c, cons = seasonal_pair(image, cover, 4.0, _bare_bank(), rng,
                                                       change_share=(1.0, 1.0), source="test",
                                                       retexture_share=share)
            assert not (cons == 1).any()                    # nothing was built
            if (any_c[cover == C["crop"]] == 1).all():      # the striped field changed state
                out.append(min(_row_contrast(before), _row_contrast(after)))
    assert kept and lost
    assert min(kept) > 0.01                                 # recoloured: its rows remain
    assert sum(c < 0.005 for c in lost) >= 4                # retextured: the bare field's flat grain


def test_a_demolished_block_is_change_and_built_the_other_way_round_construction():
    swapped_seen = kept_seen = 0
    for seed in range(16):
        rng = np.random.default_rng(seed)
        image, cover = _farm_tile(rng)
        built = cover == C["built"]
        before, after, any_c, cons = seasonal_pair(image, cover, 2.0, _bare_bank(), rng, change_share=(0.0, 0.0),
                                                   source="test", demolish_share=1.0)
        razed = (any_c == 1) & built
        assert razed.any()                                   # a block of the village came down
        assert razed.sum() <= 5000 / 2.0 ** 2
        if np.allclose(before[:3], image[:3]):              # as made: the block was demolished
            kept_seen += 1
            assert not (cons == 1).any()
            assert np.abs(after[:3, razed] - before[:3, razed]).max(0).mean() > 0.08  # it looks razed
        else:                                                # exchanged: a block built on cleared ground
            swapped_seen += 1
            assert (cons[razed] == 1).all()
            assert not (cons[~razed] == 1).any()
    assert swapped_seen and kept_seen


def test_seasonal_build_share_sets_how_many_seasonal_examples_carry_new_roofs():
    """The sampler's seasonal pairs: no construction at build share 0, construction in many at 1."""
    from weipian.learn.batches import BatchSampler
    from weipian.learn.landcover import LandCoverTile

    buildings = _roof_tiles()
    rng = np.random.default_rng(0)
    tiles = [LandCoverTile(f"gid15/farm{k}", *_farm_tile(rng), 1.0) for k in range(3)]
    carrying = {}
    for share in (0.0, 1.0):
        sampler = BatchSampler([], buildings, size=64, landcover=tiles, seasonal_share=1.0,
                               seasonal_build_share=share)
        rng = np.random.default_rng(1)
        targets = [sampler.example(rng)[2] for _ in range(40)]
        carrying[share] = np.mean([(t[1] == 1).any() for t in targets])
        assert all(((t[0] == 1) | (t[1] != 1)).all() for t in targets)   # construction is change
    assert carrying[0.0] == 0.0
    assert carrying[1.0] >= 0.25          # about half are exchanged: demolitions, not construction
