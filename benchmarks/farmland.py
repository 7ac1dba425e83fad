"""Farmland use (耕地非粮化): land-cover accuracy, parcel-state accuracy and speed, printed.

Usage: python benchmarks/farmland.py [--landcover ../shared/realdata/train/landcover] [--size 2048]
       [--model default] [--skip-speed]

1. **Land cover on held-out tiles** (never trained on, nor validated on; see
   ``weipian.learn.landcover.split_of``): pixel accuracy and per-class F1 of
   the land-cover model for each set (GID-15, LoveDA), beside a textbook
   baseline fitted in the same run on the training tiles: a minimum-distance
   classifier on each pixel's stretched RGB and its 5 × 5 neighbourhood mean.
2. **Parcel states on generated parcel layers drawn over the held-out
   tiles**: each tile is cut into parcels (the connected regions of its
   label map inside a 56-pixel grid, at least 25 pixels); each parcel is
   judged by ``weipian.workflows.farmland.judge_parcel_covers`` from the
   model's covers and from the true labels, and the states compared (all
   parcels, and parcels with at least 70 % of one cover: the goal's subset).
   The pair is the tile with itself, so every 非粮化 state is an existing use
   (one pair of real dates per tile is what the data allow).
3. **Speed**: on a generated 1 m scene, ``weipian run`` with and without
   ``--farmland-use`` (chips and report on), and ``farmland_use`` alone in
   Mpx/s beside ``weipian detect``. Goal: farmland use adds <= 30 % to a run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from weipian.learn.cover_inputs import COVERS, NO_COVER, cover_factor
from weipian.learn.cover_model import load_cover_model
from weipian.learn.cover_train import add_scores, class_scores, summarise_scores, tile_truth
from weipian.learn.landcover import load_landcover_folder


def model_classes(model, tile, *, with_confidence: bool = False):
    """The model's class map of a tile at the tile's resolution (averaged toward the working size first),
    and the winning class's probability where ``with_confidence``."""
    rgb = tile.image[:3]
    f = cover_factor(tile.gsd_m, model.working_gsd_m)
    h, w = rgb.shape[1] // f * f, rgb.shape[2] // f * f
    small = rgb[:, :h, :w].reshape(3, h // f, f, w // f, f).mean(axis=(2, 4)).astype(np.float32)
    prob = model.probabilities(small, tile.gsd_m * f)
    maps = [prob.argmax(0).astype(np.uint8), prob.max(0).astype(np.float32)]
    out = []
    for k, m in enumerate(maps):
        full = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) if f > 1 else m
        canvas = np.full(rgb.shape[1:], NO_COVER if k == 0 else 0, m.dtype)
        canvas[:h, :w] = full
        out.append(canvas)
    return tuple(out) if with_confidence else out[0]


def _features(tile) -> np.ndarray:
    rgb = tile.image[:3]
    local = np.stack([cv2.blur(b, (5, 5)) for b in rgb])
    return np.concatenate([rgb, local]).reshape(6, -1).T


def fit_minimum_distance(tiles) -> np.ndarray:
    """Class means (K, 6) of the training pixels' features (RGB and 5×5 mean)."""
    sums, counts = np.zeros((len(COVERS), 6)), np.zeros(len(COVERS))
    for t in tiles:
        x, y = _features(t), tile_truth(t).ravel()
        for k in range(len(COVERS)):
            sel = y == k
            sums[k] += x[sel].sum(0)
            counts[k] += sel.sum()
    return sums / np.maximum(counts, 1)[:, None]


def minimum_distance_classes(means, tile) -> np.ndarray:
    x = _features(tile)
    d = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    return d.argmin(1).astype(np.uint8).reshape(tile.image.shape[1:])


_PADDY, _CROP = COVERS.index("paddy"), COVERS.index("crop")


def _cropland(classes: np.ndarray) -> np.ndarray:
    """Paddy merged into crop: the goal's cropland class (LoveDA's agriculture holds both)."""
    return np.where(classes == _PADDY, _CROP, classes).astype(np.uint8)


def land_cover_scores(model, held, train):
    """Per set: the model's and the baseline's summarised scores, cropland (paddy + crop) as one class too."""
    means = fit_minimum_distance(train)
    out = {}
    for tile in held:
        s = tile.name.split("/")[0]
        truth = tile_truth(tile)
        entry = out.setdefault(s, {"model": {}, "baseline": {}, "model_c": {}, "baseline_c": {}, "tiles": 0})
        entry["tiles"] += 1
        predictions = (
            ("model", model_classes(model, tile)),
            ("baseline", minimum_distance_classes(means, tile)),
        )
        for key, pred in predictions:
            add_scores(entry[key], class_scores(pred, truth))
            add_scores(entry[key + "_c"], class_scores(_cropland(pred), _cropland(truth)))
    result = {}
    for s, e in out.items():
        result[s] = {"tiles": e["tiles"]}
        for key in ("model", "baseline"):
            summary = summarise_scores(e[key])
            summary["f1"]["cropland"] = summarise_scores(e[key + "_c"])["f1"]["crop"]
            result[s][key] = summary
    return result


def parcels_of(truth: np.ndarray, cell: int = 56, min_px: int = 25, *, by_class: bool = True):
    """Parcels of a tile (pixel coordinates): the connected regions of one class inside each grid cell,
    or (``by_class=False``) the grid cells themselves, mixed covers and all."""
    import geopandas as gpd
    from rasterio import features
    from shapely.geometry import shape

    geoms = []
    rows, cols = truth.shape
    for r in range(0, rows, cell):
        for c in range(0, cols, cell):
            block = np.full(truth.shape, NO_COVER, np.uint8)
            block[r : r + cell, c : c + cell] = truth[r : r + cell, c : c + cell] if by_class else 0
            for geom, value in features.shapes(block, mask=block != NO_COVER, connectivity=4):
                g = shape(geom)
                if g.area >= min_px:
                    geoms.append(g)
    return gpd.GeoDataFrame(geometry=geoms, crs="EPSG:4547")


def parcel_accuracy(model, held, *, by_class: bool = True, min_confidence: float = 0.4):
    """Agreement of parcel states judged from the model's covers and from the true labels."""
    import datetime as dt

    from affine import Affine
    from shapely import affinity

    from weipian.farmland.states import ParcelRule
    from weipian.workflows.farmland import judge_parcel_covers

    rule = ParcelRule(min_confidence=min_confidence)

    totals = {}
    for tile in held:
        s = tile.name.split("/")[0]
        truth = tile_truth(tile)
        predicted, confidence = model_classes(model, tile, with_confidence=True)
        cell, min_px = round(224 / tile.gsd_m), max(4, round(400 / tile.gsd_m**2))  # 224 m cells, 400 m²
        parcels = parcels_of(truth, cell=cell, min_px=min_px, by_class=by_class)
        if not len(parcels):
            continue
        # pixel coordinates to a 1-pixel-per-gsd metric grid (y up), as a map would be
        transform = Affine(tile.gsd_m, 0, 0, 0, -tile.gsd_m, truth.shape[0] * tile.gsd_m)
        parcels = parcels.set_geometry(
            [
                affinity.affine_transform(g, [tile.gsd_m, 0, 0, -tile.gsd_m, 0, truth.shape[0] * tile.gsd_m])
                for g in parcels.geometry
            ],
            crs="EPSG:4547",
        )
        ones = np.ones(truth.shape, np.float32)
        date = dt.date(2024, 9, 15)
        judged = {}
        for name, cover, conf in (("truth", truth, ones), ("model", predicted, confidence)):
            judged[name] = judge_parcel_covers(
                parcels, cover, cover, conf, transform, COVERS, before_date=date, after_date=date, rule=rule
            )
        t, m = judged["truth"], judged["model"]
        labelled = (t["obscured_share"] <= 0.3).to_numpy()  # parcels mostly of unlabelled pixels are left out
        t, m = t[labelled], m[labelled]
        shares = t[[f"share_{c}_after" for c in COVERS]].to_numpy()
        pure = shares.max(1) >= 0.7
        key = (t["state"] + ":" + t["new_use"]).to_numpy()
        got = (m["state"] + ":" + m["new_use"]).to_numpy()
        e = totals.setdefault(
            s,
            {
                "all": [0, 0],
                "pure": [0, 0],
                "non_grain_pure": [0, 0],
                "decided_pure": [0, 0],
                "confusion": {},
            },
        )
        decided = pure & ((m["state"] != "uncertain") | (t["state"] == "uncertain")).to_numpy()
        e["decided_pure"][0] += int((key == got)[decided].sum())
        e["decided_pure"][1] += int(decided.sum())
        for a, b in zip(key[pure], got[pure]):
            e["confusion"][(a, b)] = e["confusion"].get((a, b), 0) + 1
        e["all"][0] += int((key == got).sum())
        e["all"][1] += len(key)
        e["pure"][0] += int((key == got)[pure].sum())
        e["pure"][1] += int(pure.sum())
        ng = pure & (t["state"] == "non_grain").to_numpy()
        e["non_grain_pure"][0] += int((key == got)[ng].sum())
        e["non_grain_pure"][1] += int(ng.sum())
    return totals


def speed(size: int, repeat: int, model) -> dict:
    from speed import best_of  # benchmarks/speed.py, beside this script

    import weipian
    from weipian.testing.scenes import generate_scene, write_scene

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_scene(generate_scene((size, size), rng=777), tmp)

        def best(func):
            return best_of(func, repeat)

        def run(**kw):
            return weipian.run(
                paths["before"],
                paths["after"],
                layers=tmp / "layers",
                output=tmp / "out",
                overwrite=True,
                **kw,
            )

        t_run = best(run)
        t_farm_run = best(lambda: run(farmland_use=True, cover_model=model))
        t_detect = best(lambda: weipian.detect(paths["before"], paths["after"]))
        t_farm = best(
            lambda: weipian.farmland_use(paths["before"], paths["after"], layers=tmp / "layers", model=model)
        )
        n = len(weipian.farmland_use(paths["before"], paths["after"], layers=tmp / "layers", model=model))
    return {
        "mpx": size * size / 1e6,
        "run": t_run,
        "run_farmland": t_farm_run,
        "detect": t_detect,
        "farmland": t_farm,
        "parcels": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landcover", default="../shared/realdata/train/landcover")
    parser.add_argument("--model", default="default")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--split",
        default="held_out",
        choices=["held_out", "validation"],
        help="tiles to measure on (validation: for choosing settings, never the figures)",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        nargs="+",
        default=[0.4],
        help="parcel rule min_confidence values to measure parcel states at",
    )
    args = parser.parse_args()
    model = load_cover_model(args.model)
    root = Path(args.landcover)
    if root.is_dir():
        held = load_landcover_folder(root, split=args.split)
        print(f"measured on the {args.split} tiles")
        train = load_landcover_folder(root, split="train")
        print(
            f"land-cover model {model.path}: {model.card.get('parameters', '?'):,} parameters, "
            f"{model.card.get('flops_per_pixel', '?'):,} FLOP per pixel at its {model.working_gsd_m:g} m "
            "working size"
        )
        print(f"1. {args.split} tiles: pixel accuracy and per-class F1 (model | minimum-distance baseline)")
        for s, e in land_cover_scores(model, held, train).items():
            m, b = e["model"], e["baseline"]
            print(
                f"  {s} ({e['tiles']} tiles): pixel accuracy {m['pixel_accuracy']:.3f} | "
                f"{b['pixel_accuracy']:.3f}"
            )
            for c in ("cropland",) + COVERS:
                print(f"    {c:8s} F1 {m['f1'][c]:.3f} | {b['f1'][c]:.3f}")
        print("   goals: F1 >= 0.70 cropland (paddy, crop), water, built; >= 0.50 garden, forest (GID-15)")
        print(f"2. parcel states on parcels drawn over the {args.split} tiles "
              "(model vs truth labels, same rule)")

        def pct(v):
            return f"{v[0] / max(v[1], 1):.3f} ({v[1]} parcels)"

        for layer, by_class, mc in [
            (layer, by_class, mc)
            for mc in args.min_confidence
            for layer, by_class in (("one-class regions in a 224 m grid", True), ("224 m grid cells", False))
        ]:
            print(f"  parcels = {layer}, min_confidence {mc}")
            for s, e in parcel_accuracy(model, held, by_class=by_class, min_confidence=mc).items():
                print(
                    f"    {s}: all {pct(e['all'])}; >= 70 % one cover {pct(e['pure'])} (goal >= 0.90); "
                    f"of those 非粮化 in truth {pct(e['non_grain_pure'])}; of those the model decided "
                    f"(not 不确定) {pct(e['decided_pure'])}"
                )
                wrong = sorted(((n, k) for k, n in e["confusion"].items() if k[0] != k[1]), reverse=True)[:5]
                print(
                    "      commonest errors (truth -> model): "
                    + "; ".join(f"{a} -> {b} {n}" for n, (a, b) in wrong)
                )
    else:
        print(f"{root}: no land-cover tiles here; accuracy not measured")
    if not args.skip_speed:
        r = speed(args.size, args.repeat, args.model)
        print(
            f"3. speed on a generated {args.size} x {args.size} px 1 m scene ({r['mpx']:.1f} Mpx), best of "
            f"{args.repeat}, {r['parcels']} farmland parcels"
        )
        print(
            f"  weipian run: {r['run']:.2f} s; with --farmland-use: {r['run_farmland']:.2f} s "
            f"(+{100 * (r['run_farmland'] / r['run'] - 1):.0f} %, goal <= 30 %)"
        )
        print(
            f"  farmland_use alone: {r['farmland']:.2f} s = {r['mpx'] / r['farmland']:.2f} Mpx/s; "
            f"weipian detect: {r['detect']:.2f} s = {r['mpx'] / r['detect']:.2f} Mpx/s"
        )


if __name__ == "__main__":
    main()
