"""The change model: training, export, inference, model files and training data."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import write_tif

import weipian
from weipian.cli.main import main
from weipian.errors import ModelError, ResolutionWarning, TrainingDataError
from weipian.learn.inputs import CHANNELS
from weipian.learn.model import ChangeModel, load_model
from weipian.learn.samples import IGNORE, LabelledPair
from weipian.learn.tiling import predict_tiled
from weipian.learn.verified import outcome_of

torch = pytest.importorskip("torch", reason="training tests need PyTorch (make test installs it)")

from weipian.learn.export import export_onnx  # noqa: E402
from weipian.learn.network import SiameseUNet, count_parameters  # noqa: E402
from weipian.learn.train import TrainConfig, _masked_loss, load_checkpoint, train  # noqa: E402


def _toy_pair(seed=0, size=64, name="toy/0"):
    """A random texture; a bright square appears in the after epoch (construction)."""
    rng = np.random.default_rng(seed)
    before = rng.uniform(0.2, 0.5, (4, size, size)).astype(np.float32)
    after = before + rng.normal(0, 0.02, before.shape).astype(np.float32)
    label = np.zeros((size, size), np.uint8)
    r, c = rng.integers(8, size - 24, 2)
    after[:3, r:r + 16, c:c + 16] = 0.95
    label[r:r + 16, c:c + 16] = 1
    return LabelledPair(name, "toy", before, after, True, 1.0, label, label.copy())


def test_network_is_small_and_keeps_the_input_size():
    net = SiameseUNet()
    assert count_parameters(net) <= 2_000_000
    x = torch.zeros(2, CHANNELS, 64, 96)
    assert net(x, x).shape == (2, 2, 64, 96)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    net = SiameseUNet(widths=(8, 16, 32, 64))
    pairs = [_toy_pair(s) for s in range(4)]
    from weipian.learn.batches import _channels

    xb = torch.from_numpy(np.stack([_channels(p.before, True, 1.0) for p in pairs]))
    xa = torch.from_numpy(np.stack([_channels(p.after, True, 1.0) for p in pairs]))
    y = torch.from_numpy(np.stack([np.stack([p.any_change, p.construction]) for p in pairs]))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    losses = []
    for _ in range(25):
        loss = _masked_loss(net(xb, xa), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])


def test_unknown_pixels_carry_no_loss():
    rng = np.random.default_rng(4)
    target = torch.from_numpy(rng.integers(0, 2, (1, 2, 8, 8)).astype(np.uint8))
    target[0, :, :4] = IGNORE  # the top half is unknown
    logits = torch.from_numpy(rng.normal(0, 1, (1, 2, 8, 8)).astype(np.float32))
    changed = logits.clone()
    changed[0, :, :4] = 50.0  # wildly wrong where the truth is unknown
    assert _masked_loss(logits, target).item() == pytest.approx(_masked_loss(changed, target).item(), rel=1e-6)
    changed[0, :, 4:] += 1.0  # a change where the truth is known does count
    assert _masked_loss(logits, target).item() != pytest.approx(_masked_loss(changed, target).item(), rel=1e-3)


def test_per_example_dice_weighs_a_small_roof_like_a_large_one():
    # two examples: a 40 x 40 px new building and a 2 x 2 px one, both outputs alike
    target = torch.zeros(2, 2, 64, 64, dtype=torch.uint8)
    target[0, :, 10:50, 10:50] = 1
    target[1, :, 30:32, 30:32] = 1
    right = torch.where(target == 1, 10.0, -10.0)
    small_missed = right.clone()
    small_missed[1, :, 30:32, 30:32] = -10.0
    cost = {dice: (_masked_loss(small_missed, target, dice) - _masked_loss(right, target, dice)).item()
            for dice in ("batch", "example")}
    # pooled over the batch, 4 missed pixels of 1,604 move Dice by about 4 / 1,604 each output;
    # per example, the small example's Dice goes from about 0 to 4 / 5 (smoothing 1), half the mean
    assert cost["batch"] < 0.01
    assert cost["example"] == pytest.approx(0.4, abs=0.02)
    with pytest.raises(ValueError, match="dice"):
        _masked_loss(right, target, "pixel")


def test_per_example_dice_skips_unknown_pixels():
    rng = np.random.default_rng(5)
    target = torch.from_numpy(rng.integers(0, 2, (2, 2, 8, 8)).astype(np.uint8))
    target[1] = IGNORE  # nothing known in the second example
    logits = torch.from_numpy(rng.normal(0, 1, (2, 2, 8, 8)).astype(np.float32))
    changed = logits.clone()
    changed[1] = 50.0
    assert _masked_loss(logits, target, "example").item() == pytest.approx(
        _masked_loss(changed, target, "example").item(), rel=1e-6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Four steps on toy pairs, exported: checkpoint folder and model.onnx."""
    out = tmp_path_factory.mktemp("model")
    pairs = [_toy_pair(s) for s in range(3)]
    config = TrainConfig(steps=4, batch=2, crop=64, val_every=2, widths=(8, 16, 32, 64), synthetic_share=0.0)
    summary = train(pairs, out, val_pairs=pairs[:1], config=config, progress=False)
    export_onnx(summary["best"], out / "model.onnx", card={"datasets": ["toy"]})
    return out, summary


def test_training_is_reproducible_and_resumes_to_the_same_weights(trained, tmp_path):
    out, _ = trained
    pairs = [_toy_pair(s) for s in range(3)]
    config = dict(batch=2, crop=64, val_every=2, widths=(8, 16, 32, 64), synthetic_share=0.0)
    train(pairs, tmp_path / "a", config=TrainConfig(steps=2, **config), progress=False)  # interrupted at 2
    train(pairs, tmp_path / "a", config=TrainConfig(steps=4, **config), resume=True, progress=False)
    resumed, _ = load_checkpoint(tmp_path / "a" / "last.pt")
    straight, _ = load_checkpoint(out / "last.pt")
    for (k, v), w in zip(resumed.state_dict().items(), straight.state_dict().values()):
        assert torch.allclose(v.float(), w.float(), atol=1e-6), k


def test_onnx_gives_the_pytorch_probabilities(trained):
    out, summary = trained
    net, _ = load_checkpoint(summary["best"])
    rng = np.random.default_rng(1)
    xb = rng.uniform(0, 1, (2, CHANNELS, 96, 64)).astype(np.float32)
    xa = rng.uniform(0, 1, (2, CHANNELS, 96, 64)).astype(np.float32)
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.from_numpy(xb), torch.from_numpy(xa))).numpy()
    got = ChangeModel(out / "model.onnx").run(xb, xa)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # float32 arithmetic in another order


def test_model_card_travels_inside_the_onnx_file(trained):
    out, _ = trained
    card = ChangeModel(out / "model.onnx").card
    assert card["datasets"] == ["toy"]
    assert card["outputs"] == ["any", "construction"]
    assert card["required_bands"] == ["red", "green", "blue"]
    assert (out / "model_card.json").exists() and (out / "weights.pt").exists()


def test_averaged_weights_are_the_weighted_mean_and_counters_are_kept():
    from weipian.learn.average import average_state_dicts

    a = {"w": torch.tensor([0.0, 4.0]), "n": torch.tensor(7)}
    b = {"w": torch.tensor([8.0, 0.0]), "n": torch.tensor(9)}
    out = average_state_dicts([a, b], [1, 3])  # (a + 3 b) / 4
    torch.testing.assert_close(out["w"], torch.tensor([6.0, 1.0]))
    assert out["n"].item() == 7
    torch.testing.assert_close(average_state_dicts([a, b])["w"], torch.tensor([4.0, 2.0]))
    with pytest.raises(ValueError, match="has shape"):
        average_state_dicts([a, {"w": torch.zeros(3), "n": torch.tensor(1)}])
    with pytest.raises(ValueError, match="non-negative"):
        average_state_dicts([a, b], [1, -1])


def test_a_model_averaged_with_itself_gives_its_probabilities(trained, tmp_path):
    from weipian.learn.average import average_models

    out, _ = trained
    card = average_models(tmp_path / "avg", [out, out / "weights.pt"], data=None)
    (tmp_path / "member").mkdir()
    member = export_onnx(out / "weights.pt", tmp_path / "member" / "model.onnx")  # weights.pt is float16
    assert [m["weight"] for m in card["averaged_from"]] == [0.5, 0.5]
    assert "f1_by_threshold" not in card and card["thresholds"] == ChangeModel(out / "model.onnx").card["thresholds"]
    rng = np.random.default_rng(4)
    xb = rng.uniform(0, 1, (1, CHANNELS, 64, 64)).astype(np.float32)
    xa = rng.uniform(0, 1, (1, CHANNELS, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(ChangeModel(tmp_path / "avg" / "model.onnx").run(xb, xa),
                               ChangeModel(member).run(xb, xa), atol=1e-6)


def test_models_of_other_designs_cannot_be_averaged(trained, tmp_path):
    from weipian.learn.average import average_models

    out, _ = trained
    config = TrainConfig(steps=1, batch=2, crop=64, val_every=1, widths=(8, 16, 32, 32), synthetic_share=0.0)
    summary = train([_toy_pair(5)], tmp_path / "other", config=config, progress=False)
    export_onnx(summary["best"], tmp_path / "other" / "model.onnx")
    with pytest.raises(TrainingDataError, match=r"widths is .*only fine-tunes of one model can be averaged"):
        average_models(tmp_path / "avg", [out, tmp_path / "other"], data=None)
    result = CliRunner().invoke(main, ["average-models", str(tmp_path / "avg"), str(out), str(out),
                                       "--data", str(tmp_path), "--weight", "1"])
    assert result.exit_code == 2 and "one --weight per member (2)" in result.output
    assert not (tmp_path / "avg").exists()


def test_tiled_prediction_does_not_depend_on_the_window():
    """A window on the tile grid, read with the engine's halo, gives the whole image's pixels exactly."""
    from weipian.engine.windows import HALO

    rng = np.random.default_rng(2)
    before = rng.uniform(0, 1, (CHANNELS, 300, 340)).astype(np.float32)
    after = rng.uniform(0, 1, (CHANNELS, 300, 340)).astype(np.float32)
    model = load_model()
    t = model.tile
    whole = predict_tiled(before, after, model.run, tile=t, margin=model.margin)
    # the window whose core is rows 256-300, cols 0-256, read with the halo, clipped to the image
    rows, cols = slice(t - HALO, 300), slice(0, t + HALO)
    part = predict_tiled(before[:, rows, cols], after[:, rows, cols], model.run,
                         region=(HALO, 0, HALO + 300 - t, t), tile=t, margin=model.margin)
    np.testing.assert_array_equal(part, whole[:, t:300, 0:t])


def test_default_model_ships_with_its_card():
    model = load_model()
    assert model.card["format"] == "weipian-change-model/1"
    assert model.card["gsd_range_m"][0] < 1 < model.card["gsd_range_m"][1]
    assert {"levir_cd", "oscd"} <= set(model.card.get("datasets", []))


def test_model_file_errors(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        ChangeModel(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelError, match="not an ONNX model"):
        ChangeModel(junk)


def test_onnx_without_card_or_with_wrong_bands_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    def graph(channels):
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", channels, "h", "w"])
                  for n in ("before", "after")]
        output = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["n", channels, "h", "w"])
        node = helper.make_node("Sub", ["after", "before"], ["probability"])
        return helper.make_model(helper.make_graph([node], "g", inputs, [output]))

    plain = tmp_path / "plain.onnx"
    onnx.save(graph(CHANNELS), plain)
    with pytest.raises(ModelError, match="without a weipian model card"):
        ChangeModel(plain)
    wrong = graph(3)
    entry = wrong.metadata_props.add()
    entry.key, entry.value = "weipian_card", '{"tile": 256, "margin": 32}'
    onnx.save(wrong, tmp_path / "wrong.onnx")
    with pytest.raises(ModelError, match=r"has shape .*3.*take \(N, 6, H, W\)"):
        ChangeModel(tmp_path / "wrong.onnx")


def test_model_needing_bands_the_imagery_lacks_is_a_one_line_error(trained, tmp_path):
    _, summary = trained
    four_band = export_onnx(summary["best"], tmp_path / "nir.onnx",
                            card={"required_bands": ["red", "green", "blue", "nir"]})
    rng = np.random.default_rng(3)
    b = write_tif(tmp_path / "b.tif", rng.integers(1, 200, (3, 64, 64)).astype(np.uint8))
    a = write_tif(tmp_path / "a.tif", rng.integers(1, 200, (3, 64, 64)).astype(np.uint8))
    result = CliRunner().invoke(main, ["detect", str(b), str(a), "--model", str(four_band),
                                       "-o", str(tmp_path / "o.gpkg")])
    assert result.exit_code == 2
    assert "nir.onnx needs bands red, green, blue, nir but nir is missing" in result.output
    assert not (tmp_path / "o.gpkg").exists()


def test_resolution_outside_the_trained_range_warns(tmp_path):
    model = load_model()
    with pytest.warns(ResolutionWarning, match="30 m is outside"):
        model.check({"red": 0, "green": 1, "blue": 2}, 30.0)
    assert model.gsd_for_model(30.0) == model.card["gsd_range_m"][1]


def test_unknown_outcome_values_are_named_with_the_accepted_ones():
    assert list(outcome_of(["new_construction", "真实新增", "No change"])) == [
        "new_construction", "new_construction", "no_change"]
    with pytest.raises(TrainingDataError, match=r"unknown outcome values \['maybe', 'yes'\]; accepted: "
                                                r"new_construction, no_change, not_construction"):
        outcome_of(["maybe", "new_construction", "yes"])


def test_fine_tuning_on_verified_patches_from_the_cli(small_batch, tmp_path):
    """weipian detect → crews verify → weipian train --from-model default → weipian detect --model."""
    found = weipian.detect(small_batch["before"], small_batch["after"])
    truth = gpd.read_file(small_batch["truth"]) if "truth" in small_batch else None
    verified = found[["geometry"]].copy()
    if truth is not None and len(truth):
        hit = np.array([truth.intersects(g).any() for g in verified.geometry])
    else:
        hit = np.arange(len(verified)) % 2 == 0
    verified["verified"] = np.where(hit, "真实新增", "实地未变化")
    extra = gpd.GeoDataFrame({"verified": ["no_change"]}, geometry=[shapely.box(*found.total_bounds).centroid.buffer(15)],
                             crs=found.crs)
    layer = tmp_path / "verified.gpkg"
    gpd.GeoDataFrame(pd_concat([verified, extra]), crs=found.crs).to_file(layer)
    out = tmp_path / "tuned"
    result = CliRunner().invoke(main, ["train", str(out), "--patches", str(layer), "--before",
                                       str(small_batch["before"]), "--after", str(small_batch["after"]),
                                       "--from-model", "default", "--steps", "3", "--val-every", "3",
                                       "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert (out / "model.onnx").exists()
    again = CliRunner().invoke(main, ["detect", str(small_batch["before"]), str(small_batch["after"]),
                                      "--model", str(out / "model.onnx"), "-o", str(tmp_path / "p.gpkg")])
    assert again.exit_code == 0, again.output


def test_verified_layer_with_unknown_outcomes_is_refused_by_the_cli(small_batch, tmp_path):
    layer = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"verified": ["yes"]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:4547").to_file(layer)
    result = CliRunner().invoke(main, ["train", str(tmp_path / "o"), "--patches", str(layer), "--before",
                                       str(small_batch["before"]), "--after", str(small_batch["after"])])
    assert result.exit_code == 2
    assert "unknown outcome values ['yes']" in result.output


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("policy, expected", [("non_urban", (1, 0)), ("unknown", (IGNORE, IGNORE))])
def test_unmarked_change_is_relabelled_by_the_label_meaning(policy, expected):
    """Strong change outside the label: change but not construction (OSCD), or unknown (DSIFN)."""
    from weipian.learn.unmarked import mark_unlabelled_change

    rng = np.random.default_rng(1)
    before = rng.normal(0.4, 0.02, (4, 64, 64)).astype(np.float32)
    after = before + rng.normal(0, 0.02, before.shape).astype(np.float32)
    after[:3, 5:20, 5:20] += 0.6  # strong change the label leaves unmarked (a harvested field)
    after[:3, 40:55, 40:55] += 0.6  # strong change the label marks (a new building)
    label = np.zeros((64, 64), np.uint8)
    label[40:55, 40:55] = 1
    pair = LabelledPair(name="x/1", dataset="x", before=before, after=after, has_nir=False, gsd_m=10.0,
                        any_change=label.copy(), construction=label.copy())
    out = mark_unlabelled_change(pair, policy)
    assert (out.any_change[7:18, 7:18] == expected[0]).all()
    assert (out.construction[7:18, 7:18] == expected[1]).all()
    assert (out.any_change[40:55, 40:55] == 1).all() and (out.construction[40:55, 40:55] == 1).all()
    quiet = np.ones((64, 64), bool)
    quiet[3:22, 3:22] = quiet[38:57, 38:57] = False
    assert (out.any_change[quiet] == 0).mean() > 0.99  # noise is not change
    with pytest.raises(ValueError, match="policy"):
        mark_unlabelled_change(pair, "urban")


def test_present_dice_leaves_examples_with_nothing_built_to_the_cross_entropy():
    # example 0: a 10 x 10 px roof, found; example 1: nothing built, 4 px flagged by mistake
    target = torch.zeros(2, 2, 32, 32, dtype=torch.uint8)
    target[0, :, 5:15, 5:15] = 1
    logits = torch.where(target == 1, 20.0, -20.0)
    flagged = logits.clone()
    flagged[1, :, 0:2, 0:2] = 20.0
    cost = {dice: (_masked_loss(flagged, target, dice) - _masked_loss(logits, target, dice)).item()
            for dice in ("example", "present")}
    # per example, the empty example's Dice goes from 0 to 1 - 1 / (4 + 1) = 0.8: half the mean, 0.4;
    # "present" averages the roof example only (Dice unchanged), so only the cross-entropy moves:
    # 4 px of 2,048 known per output at about 20 nats each
    bce = 4 * 20.0 / 2048
    assert cost["example"] == pytest.approx(0.4 + bce, abs=0.01)
    assert cost["present"] == pytest.approx(bce, abs=0.005)
    assert _masked_loss(torch.full((1, 2, 8, 8), -20.0), torch.zeros(1, 2, 8, 8, dtype=torch.uint8),
                        "present").item() == pytest.approx(0.0, abs=1e-6)  # no positive anywhere: no Dice


def test_routes_json_sends_some_pixel_sizes_to_another_model(trained, tmp_path):
    import json
    import shutil

    out, summary = trained
    main_model = tmp_path / "model.onnx"
    shutil.copy(out / "model.onnx", main_model)
    (tmp_path / "vhr").mkdir()
    export_onnx(summary["best"], tmp_path / "vhr" / "model.onnx", card={"datasets": ["vhr"]})
    (tmp_path / "routes.json").write_text(json.dumps({"routes": [{"max_gsd_m": 0.6, "model": "vhr/model.onnx"}]}))
    net = ChangeModel(main_model)
    assert net.for_gsd(0.5).card["datasets"] == ["vhr"]
    assert net.for_gsd(0.6).path != net.path
    assert net.for_gsd(2.0) is net  # outside every route: the model itself
    assert ChangeModel(out / "model.onnx").for_gsd(0.5).path == ChangeModel(out / "model.onnx").path  # no routes
    # a route with a lower bound only covers the pixel sizes above it, as the coarse thresholds do
    (tmp_path / "routes.json").write_text(json.dumps({"routes": [{"min_gsd_m": 5.0, "model": "vhr/model.onnx"}]}))
    net = ChangeModel(main_model)
    assert net.for_gsd(5.0) is net and net.for_gsd(0.5) is net
    assert net.for_gsd(10.0).card["datasets"] == ["vhr"] and net.for_gsd(30.0).path != net.path


def _validation_folder(root):
    """A change folder of the recipe's layout holding two validation pairs: LEVIR-CD's and DSIFN's."""
    from PIL import Image

    rows = ["dataset,pair,path,resolution_m"]
    for k, (dataset, pair, gsd) in enumerate((("levir_cd", "test_9", 0.5), ("dsifn", "8", 2.0))):
        toy = _toy_pair(k, size=96)
        folder = root / dataset / pair
        folder.mkdir(parents=True)
        for stem, image in (("before", toy.before), ("after", toy.after)):
            Image.fromarray((image[:3].transpose(1, 2, 0) * 255).astype(np.uint8)).save(folder / f"{stem}.png")
        Image.fromarray(toy.any_change * 255).save(folder / "label.png")
        rows.append(f"{dataset},{pair},{dataset}/{pair},{gsd}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def test_recalibration_validates_on_the_datasets_the_model_was_trained_on(trained, tmp_path):
    import json
    import shutil

    from weipian.learn.fit import recalibrate

    out, summary = trained
    data = _validation_folder(tmp_path / "data")
    for name, datasets in (("all", None), ("levir", ["levir_cd"])):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(summary["best"], folder / "weights.pt")
        export_onnx(folder / "weights.pt", folder / "model.onnx", card={"datasets": datasets})
        card = recalibrate(folder, data)
        scored = {d for group in card["validation_f1_at_thresholds"].values() for d in group}
        assert scored == ({"levir_cd"} if datasets else {"levir_cd", "dsifn"}), name
        groups = card["validation_f1_at_thresholds"].values()  # the checkpoint-choosing score, hand-computed
        assert card["validation_score"] == pytest.approx(np.mean([np.mean(list(g.values())) for g in groups]),
                                                         abs=1e-4)
        assert json.loads((folder / "model_card.json").read_text())["thresholds"] == card["thresholds"]


def test_the_shipped_default_routes_sub_metre_and_coarse_pixels_to_their_own_models():
    from pathlib import Path

    from weipian.learn import DEFAULT_MODEL

    default = ChangeModel(DEFAULT_MODEL)
    assert Path(default.for_gsd(0.5).path).parent.name == "vhr"
    assert Path(default.for_gsd(10.0).path).parent.name == "coarse"
    assert default.for_gsd(1.0) is default and default.for_gsd(5.0) is default  # 0.65-5 m: the model itself
    coarse = default.for_gsd(10.0)
    assert (coarse.tile, coarse.margin) == (default.tile, default.margin)
    assert coarse.card["thresholds"]["coarse"]["min_gsd_m"] == 5.0  # its coarse thresholds cover all it gets


def test_a_copy_without_routes_runs_its_own_network_at_every_pixel_size(tmp_path):
    from weipian.learn import DEFAULT_MODEL
    from weipian.learn.model import copy_without_routes

    routed = ChangeModel(DEFAULT_MODEL)
    assert routed.for_gsd(0.5).path != routed.path  # the shipped default routes sub-metre pixels
    copy = ChangeModel(copy_without_routes(None, tmp_path / "alone"))
    assert copy.routes == [] and copy.for_gsd(0.5) is copy
    assert copy.card == routed.card
    with pytest.raises(ModelError, match="a model is already there; give an empty folder"):
        copy_without_routes(None, tmp_path / "alone")


def test_a_route_to_a_model_on_another_tile_grid_is_refused(trained, tmp_path):
    import json
    import shutil

    out, summary = trained
    shutil.copy(out / "model.onnx", tmp_path / "model.onnx")
    tile = ChangeModel(out / "model.onnx").tile
    export_onnx(summary["best"], tmp_path / "other.onnx", card={"tile": tile * 2})
    (tmp_path / "routes.json").write_text(json.dumps({"routes": [{"max_gsd_m": 0.6, "model": "other.onnx"}]}))
    net = ChangeModel(tmp_path / "model.onnx")
    with pytest.raises(ModelError, match="export both with the same tiling"):
        net.for_gsd(0.5)
    assert net.for_gsd(1.0) is net


@pytest.mark.parametrize("text", ["not json", '{"routes": [{"model": "x.onnx"}]}', '{"paths": []}'])
def test_a_bad_routes_file_is_named_with_the_form_it_needs(trained, tmp_path, text):
    import shutil

    out, _ = trained
    shutil.copy(out / "model.onnx", tmp_path / "model.onnx")
    (tmp_path / "routes.json").write_text(text)
    with pytest.raises(ModelError, match=r"routes\.json: not a routes file .*max_gsd_m"):
        ChangeModel(tmp_path / "model.onnx").for_gsd(0.5)


def test_a_native_fine_tune_drops_the_base_models_working_resolution(trained, tmp_path):
    from weipian.learn.train import _start_network

    out, summary = trained
    base = tmp_path / "base.pt"
    state = torch.load(summary["best"], weights_only=False)
    torch.save({**state, "config": {**state["config"], "working_gsd_m": 1.0}}, base)
    kept = TrainConfig(steps=1)
    assert _start_network(kept, base).working_gsd_m == 1.0 and kept.working_gsd_m == 1.0
    native = TrainConfig(steps=1, native=True)
    assert _start_network(native, base).working_gsd_m is None and native.working_gsd_m is None
    fresh = TrainConfig(steps=1, native=True, widths=(8, 16, 32, 64))
    assert _start_network(fresh, None).working_gsd_m is None


def test_training_on_an_unknown_dataset_names_the_known_ones(tmp_path):
    from weipian.learn.fit import train_from_folders

    (tmp_path / "data").mkdir()
    with pytest.raises(TrainingDataError, match=r"unknown dataset\(s\) no_such_set; choose among .*levir_cd"):
        train_from_folders(tmp_path / "data", tmp_path / "out", datasets=("levir_cd", "no_such_set"))


def test_detect_runs_the_routed_model_on_fine_imagery(trained, tmp_path):
    import json
    import shutil

    from affine import Affine

    out, summary = trained
    shutil.copy(out / "model.onnx", tmp_path / "model.onnx")
    export_onnx(summary["best"], tmp_path / "nir.onnx", card={"required_bands": ["red", "green", "blue", "nir"]})
    (tmp_path / "routes.json").write_text(json.dumps({"routes": [{"max_gsd_m": 0.6, "model": "nir.onnx"}]}))
    rng = np.random.default_rng(3)
    images = {}
    for gsd in (0.5, 1.0):
        transform = Affine(gsd, 0.0, 452000.0, 0.0, -gsd, 2508000.0)
        images[gsd] = [write_tif(tmp_path / f"{name}{gsd}.tif", rng.integers(1, 200, (3, 64, 64)).astype(np.uint8),
                                 transform=transform) for name in ("b", "a")]
    fine = CliRunner().invoke(main, ["detect", *map(str, images[0.5]), "--model", str(tmp_path / "model.onnx"),
                                     "-o", str(tmp_path / "fine.gpkg")])
    assert fine.exit_code == 2 and "nir.onnx needs bands red, green, blue, nir" in fine.output  # the route ran
    coarse = CliRunner().invoke(main, ["detect", *map(str, images[1.0]), "--model", str(tmp_path / "model.onnx"),
                                       "-o", str(tmp_path / "coarse.gpkg")])
    assert coarse.exit_code == 0, coarse.output
