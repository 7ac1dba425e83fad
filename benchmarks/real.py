"""Accuracy on real imagery the model did not train on, beside CVA + Otsu.

Usage::

    python benchmarks/real.py [--realdata ../shared/realdata] [--model PATH] [--lodo out/models]
                              [--lodo-only] [--targets construction,any] [--datasets levir_cd,...]
                              [--zoom-out K]

What is measured, per pair and per dataset:

- the held-out pairs of ``realdata/train`` (``weipian.learn.recipe.TEST``:
  whole LEVIR-CD tiles, DSIFN images, OSCD cities, the lower half of the WHU-CD
  tile, five Pakistani house pairs) and the three OSCD cities of ``realdata/oscd`` (bercy, paris, rennes;
  not in ``train/`` at all), run through ``weipian.detect`` exactly as a user
  runs it (default minimum mapping unit 50 m², clouds on);
- pixel F1 of the patches against the change labels, and object recall and
  precision: a labelled change (8-connected component) counts as found when
  patches cover at least 30 % of it, a patch counts as right when at least
  30 % of it lies on labelled change;
- textbook CVA + Otsu (all bands, whole image, no minimum unit) on the same
  pixels, in the same run, beside every figure;
- with ``--zoom-out K``: the held-out pairs averaged down by K, a coarser
  sensor's view of the same ground (``--datasets oscd --zoom-out 3``: 30 m);
- with ``--lodo DIR``: leave-one-dataset-out, each dataset X scored on all its
  pairs with the model in ``DIR/lodo_X/model.onnx``, trained without X.

PNG pairs are written to temporary GeoTIFFs in a projected CRS at the
dataset's ground sampling distance (from ``train/manifest.csv``). Nothing here
is tuned per dataset. Goal (issue): mean pixel F1 >= 0.60 on held-out real
data, no dataset below CVA + Otsu; leave-one-dataset-out mean >= 0.40.
"""

from __future__ import annotations

import argparse
import glob
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio import features

import weipian
from weipian.learn.recipe import TEST, WHU_SPLIT_ROW
from weipian.learn.resolution import QUALITIES
from weipian.learn.samples import read_image
from weipian.patches import mask_to_patches
from weipian.raster.difference import cva_otsu
from weipian.settings import ChangeParams
from weipian.testing.scores import object_scores, pixel_scores

ROOT = Path(__file__).resolve().parent.parent


def _write_tif(path: Path, data: np.ndarray, gsd: float, descriptions) -> Path:
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": data.shape[0],
               "dtype": data.dtype, "crs": "EPSG:4547",
               "transform": Affine(gsd, 0, 500000.0, 0, -gsd, 3500000.0)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(descriptions)
    return path


def _manifest(train: Path) -> dict:
    import csv

    with open(train / "manifest.csv", newline="", encoding="utf-8") as f:
        return {f"{r['dataset']}/{r['pair']}": r for r in csv.DictReader(f)}


def _label(folder: Path) -> np.ndarray:
    path = next(p for p in folder.iterdir() if p.stem == "label")
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("L")) > 0
    with rasterio.open(path) as src:
        return src.read(1) > 0


def _pair_files(folder: Path, gsd: float, tmp: Path, name: str, rows=slice(None)):
    """(before.tif, after.tif, truth) for one pair folder, cropped to ``rows``."""
    files = []
    for stem in ("before", "after"):
        path = next(p for p in folder.iterdir() if p.stem == stem)
        if path.suffix == ".tif" and rows == slice(None):
            files.append(path)
            continue
        data, roles = read_image(path)
        order = sorted(roles, key=roles.get)
        files.append(_write_tif(tmp / f"{name.replace('/', '_')}_{stem}.tif", data[:, rows], gsd, order))
    return files[0], files[1], _label(folder)[rows]


def manifest_pairs(realdata: Path, tmp: Path, keys, datasets=None):
    """Yield (dataset, key, before, after, truth, gsd) for the manifest pairs named in ``keys``.

    A key is ``dataset/pair``, or ``whu_cd/…:lower`` for the rows below
    :data:`~weipian.learn.recipe.WHU_SPLIT_ROW`; ``datasets`` keeps only those datasets.
    """
    train = realdata / "train"
    manifest = _manifest(train) if (train / "manifest.csv").exists() else {}
    for key in keys:
        name, _, part = key.partition(":")
        row = manifest.get(name)
        dataset = name.split("/")[0]
        if row is None or (datasets and dataset not in datasets):
            continue
        rows = slice(WHU_SPLIT_ROW, None) if part == "lower" else slice(None)
        gsd = float(row["resolution_m"])
        b, a, truth = _pair_files(train / row["path"], gsd, tmp, key, rows)
        yield dataset, key, b, a, truth, gsd


def held_out_pairs(realdata: Path, tmp: Path, datasets=None):
    """Yield (dataset, name, before, after, truth) for every held-out pair."""
    for dataset, key, b, a, truth, _ in manifest_pairs(realdata, tmp, TEST, datasets):
        yield dataset, key, b, a, truth
    if datasets and "oscd" not in datasets:
        return
    for city_dir in sorted((realdata / "oscd").glob("*/")):
        city = city_dir.name
        if not (city_dir / f"{city}-cm.tif").exists():
            continue
        paths = []
        for epoch in ("imgs_1", "imgs_2"):
            bands = []
            for b in ("B02", "B03", "B04", "B08"):
                with rasterio.open(glob.glob(str(city_dir / epoch / f"*_{b}.tif"))[0]) as src:
                    bands.append(src.read(1))
                    profile = src.profile
            out = tmp / f"{city}_{epoch}.tif"
            profile.update(count=4, driver="GTiff")
            with rasterio.open(out, "w", **profile) as dst:
                dst.write(np.stack(bands))
                dst.descriptions = ("blue", "green", "red", "nir")
            paths.append(out)
        with rasterio.open(city_dir / f"{city}-cm.tif") as src:
            truth = src.read(1) == 2
        yield "oscd", f"oscd/{city}", paths[0], paths[1], truth


def zoomed_out(pairs, factor: int, tmp: Path, *, changed_share: float = 0.5):
    """The pairs averaged down by ``factor``: what a coarser sensor sees of the same ground.

    Each epoch's pixels are averaged over ``factor`` × ``factor`` blocks (the
    pixel size grows by ``factor``; the blocks that do not fill at the edges
    are dropped), and a block counts as changed where at least
    ``changed_share`` of its labelled pixels changed. OSCD's 10 m cities by 3
    stand in for 30 m Landsat pairs, of which there are none here.
    """
    from rasterio.enums import Resampling

    for dataset, name, before, after, truth in pairs:
        paths = []
        for stem, path in (("before", before), ("after", after)):
            with rasterio.open(path) as src:
                rows, cols = src.height // factor, src.width // factor
                window = rasterio.windows.Window(0, 0, cols * factor, rows * factor)
                data = src.read(window=window, out_shape=(src.count, rows, cols),
                                resampling=Resampling.average)
                profile = {**src.profile, "height": rows, "width": cols, "driver": "GTiff",
                           "transform": src.window_transform(window) * Affine.scale(factor)}
                descriptions = src.descriptions
            out = tmp / f"zoom{factor}_{name.replace('/', '_')}_{stem}.tif"
            with rasterio.open(out, "w", **profile) as dst:
                dst.write(data)
                dst.descriptions = descriptions
            paths.append(out)
        t = truth[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor).mean(axis=(1, 3))
        yield dataset, f"{name} /{factor}", paths[0], paths[1], t >= changed_share


def all_pairs_of(realdata: Path, dataset: str, tmp: Path):
    """Every pair of one dataset in ``train/`` (for leave-one-dataset-out)."""
    train = realdata / "train"
    for key, row in _manifest(train).items():
        if row["dataset"] == dataset and any((train / row["path"]).glob("label.*")):
            b, a, truth = _pair_files(train / row["path"], float(row["resolution_m"]), tmp, "all_" + key)
            yield dataset, key, b, a, truth


def _scores(mask: np.ndarray, truth: np.ndarray, transform, min_pixels: int = 1) -> dict:
    px = pixel_scores(mask, truth)
    t = mask_to_patches(truth, transform=transform)["geometry"]
    p = mask_to_patches(mask, transform=transform, min_pixels=min_pixels)["geometry"]
    obj = object_scores(p, t) if len(t) else None
    return {"f1": px["f1"], "recall": obj.recall if obj else float("nan"),
            "precision": obj.precision if (obj and len(p)) else float("nan")}


def score_pair(before, after, truth, *, target: str, model, quality: str = "fast") -> dict:
    with rasterio.open(before) as src:
        shape, transform = src.shape, src.transform
    patches = weipian.detect(before, after, target=target, params=ChangeParams(model=model, quality=quality))
    mask = np.zeros(shape, bool)
    if len(patches):
        mask = features.rasterize(patches.geometry, out_shape=shape, transform=transform).astype(bool)
    return _scores(mask, truth, Affine.identity())


def score_cva(before, after, truth) -> dict:
    with rasterio.open(before) as b, rasterio.open(after) as a:
        mask = cva_otsu(b.read().astype(np.float32), a.read().astype(np.float32))
    return _scores(mask, truth, Affine.identity())


def _line(name, ours: dict, base: dict, share: float, extra="") -> str:
    return (f"{name:30s} {ours['f1']:6.3f} {ours['recall']:6.3f} {ours['precision']:6.3f}{extra} | "
            f"{base['f1']:6.3f} {base['recall']:6.3f} {base['precision']:6.3f} | {100 * share:5.2f}")


def evaluate(pairs, *, model, targets, quality: str = "fast") -> list[dict]:
    rows = []
    head = f"{'pair':30s} {'F1':>6s} {'objR':>6s} {'objP':>6s}"
    if len(targets) > 1:
        head += f" {'F1any':>6s}"
    print(head + f" | {'CVA F1':>6s} {'objR':>6s} {'objP':>6s} | {'chg %':>5s}", flush=True)
    for dataset, name, b, a, truth in pairs:
        t0 = time.perf_counter()
        ours = score_pair(b, a, truth, target=targets[0], model=model, quality=quality)
        other = {t: score_pair(b, a, truth, target=t, model=model, quality=quality)["f1"]
                 for t in targets[1:]}
        base = score_cva(b, a, truth)
        extra = "".join(f" {v:6.3f}" for v in other.values())
        rows.append({"dataset": dataset, "pair": name, "ours": ours, "other": other, "cva": base,
                     "share": float(truth.mean()), "seconds": time.perf_counter() - t0})
        print(_line(name, ours, base, truth.mean(), extra), flush=True)
    return rows


def summarise(rows, title: str) -> float:
    print(f"\n{title}: mean per dataset (pairs with labelled change)")
    means = []
    for dataset in sorted({r["dataset"] for r in rows}):
        sel = [r for r in rows if r["dataset"] == dataset and r["share"] > 0]
        if not sel:
            continue
        ours = {k: float(np.nanmean([r["ours"][k] for r in sel])) for k in ("f1", "recall", "precision")}
        base = {k: float(np.nanmean([r["cva"][k] for r in sel])) for k in ("f1", "recall", "precision")}
        means.append((ours["f1"], base["f1"]))
        flag = "" if ours["f1"] >= base["f1"] else "   <-- below CVA + Otsu"
        print(_line(f"{dataset} ({len(sel)} pairs)", ours, base, np.mean([r["share"] for r in sel])) + flag)
    sel = [r for r in rows if r["share"] > 0]
    pair_mean = float(np.mean([r["ours"]["f1"] for r in sel]))
    print(f"mean pixel F1 over {len(sel)} pairs: weipian {pair_mean:.3f}, CVA + Otsu "
          f"{np.mean([r['cva']['f1'] for r in sel]):.3f}; over {len(means)} datasets: weipian "
          f"{np.mean([m[0] for m in means]):.3f}, CVA + Otsu {np.mean([m[1] for m in means]):.3f}")
    return pair_mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--model", default="default", help="ONNX model to score (default: the shipped one)")
    parser.add_argument("--lodo", default=None, help="folder with lodo_<dataset>/model.onnx models")
    parser.add_argument("--targets", default="construction,any")
    parser.add_argument("--lodo-only", action="store_true", help="skip the held-out pairs")
    parser.add_argument("--quality", default="fast", choices=QUALITIES)
    parser.add_argument("--datasets", default=None,
                        help="comma-separated datasets of the held-out pairs to score (default: all)")
    parser.add_argument("--zoom-out", type=int, default=1, metavar="K",
                        help="score the held-out pairs averaged down by K (K times their pixel size; a block "
                             "is changed where half its pixels are); --datasets oscd --zoom-out 3 gives 30 m")
    args = parser.parse_args()
    realdata = Path(args.realdata)
    if not (realdata / "train").exists():
        print(f"no real data at {realdata}; nothing to measure")
        return
    targets = args.targets.split(",")
    import warnings

    warnings.simplefilter("ignore")  # resolution and layer warnings are expected on research crops
    with tempfile.TemporaryDirectory() as tmp:
        print(f"model: {args.model}, quality {args.quality}; target {targets[0]} "
              "(F1, object recall/precision)"
              + (f", F1 of {', '.join(targets[1:])}" if targets[1:] else "") + "; CVA + Otsu beside")
        if not args.lodo_only:
            datasets = args.datasets.split(",") if args.datasets else None
            pairs = held_out_pairs(realdata, Path(tmp), datasets)
            if args.zoom_out > 1:
                pairs = zoomed_out(pairs, args.zoom_out, Path(tmp))
            rows = evaluate(pairs, model=args.model, targets=targets, quality=args.quality)
            summarise(rows, "held-out pairs")
        if args.lodo:
            lodo_rows = []
            for dataset in ("levir_cd", "dsifn", "oscd", "whu_cd", "pak_houses"):
                model = Path(args.lodo) / f"lodo_{dataset}" / "model.onnx"
                if not model.exists():
                    print(f"\nno {model}; leave-one-dataset-out for {dataset} skipped")
                    continue
                print(f"\nleave-one-dataset-out: {dataset} with {model}")
                lodo_rows += evaluate(all_pairs_of(realdata, dataset, Path(tmp)), model=str(model),
                                      targets=targets[:1])
            if lodo_rows:
                summarise(lodo_rows, "leave-one-dataset-out")
    print("\ngoal: held-out mean F1 >= 0.60 with no dataset below CVA + Otsu; "
          "leave-one-dataset-out mean F1 >= 0.40")


if __name__ == "__main__":
    main()
