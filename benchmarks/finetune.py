"""What fine-tuning on a bureau's verified patches buys, measured on pairs it did not see.

Usage::

    python benchmarks/finetune.py [--dataset oscd] [--model default] [--all-pairs] [--steps 300]
                                  [--max-patches 50] [--realdata ../shared/realdata]

The pairs of one dataset (the held-out pairs of ``weipian.learn.recipe.TEST``,
plus ``realdata/oscd`` for OSCD; with ``--all-pairs`` every pair of the
dataset, for a leave-one-dataset-out model that never saw it) are split in
two halves by name. On the *tuning* half the model detects patches as a
bureau would; each patch is "verified" from the change labels as a field
crew would (``new_construction`` when at least 30 % of it is labelled
change, else ``no_change``), up to ``--max-patches``. The model is
fine-tuned on those verified patches only (``weipian train --from-model``),
then both models are scored on the *test* half: pixel F1 and object
recall/precision before and after, CVA + Otsu beside. Fine-tuning time is
printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio import features

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real  # noqa: E402

import weipian  # noqa: E402
from weipian.learn.fit import train_from_folders  # noqa: E402
from weipian.learn.model import load_model  # noqa: E402
from weipian.learn.train import TrainConfig  # noqa: E402
from weipian.learn.verified import verified_pairs  # noqa: E402
from weipian.settings import ChangeParams  # noqa: E402


def _verified(before, after, truth, model: str) -> gpd.GeoDataFrame:
    found = weipian.detect(before, after, params=ChangeParams(model=model))
    with rasterio.open(before) as src:
        transform = src.transform
    if not len(found):
        return found.assign(verified=[])
    share = []
    for geom in found.geometry:
        mask = features.rasterize([geom], out_shape=truth.shape, transform=transform).astype(bool)
        share.append(truth[mask].mean() if mask.any() else 0.0)
    outcome = np.where(np.array(share) >= 0.3, "new_construction", "no_change")
    return found[["geometry"]].assign(verified=outcome)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(real.ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--dataset", default="oscd")
    parser.add_argument("--model", default="default")
    parser.add_argument("--all-pairs", action="store_true")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--max-patches", type=int, default=50)
    args = parser.parse_args()
    realdata = Path(args.realdata)
    if not (realdata / "train").exists():
        print(f"no real data at {realdata}; nothing to measure")
        return
    import warnings

    warnings.simplefilter("ignore")
    model_path = load_model(args.model).path
    weights = Path(model_path).with_name("weights.pt")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs = list(real.all_pairs_of(realdata, args.dataset, tmp) if args.all_pairs
                     else real.held_out_pairs(realdata, tmp, datasets={args.dataset}))
        pairs = [p for p in sorted(pairs, key=lambda p: p[1]) if p[4].any()]
        tune, test = pairs[0::2], pairs[1::2]
        print(f"{args.dataset}: tuning on {[p[1] for p in tune]}, testing on {[p[1] for p in test]}")
        samples, count = [], 0
        for _, name, b, a, truth in tune:
            layer = _verified(b, a, truth, model_path)
            layer = layer.iloc[: max(0, args.max_patches - count)]
            count += len(layer)
            if len(layer):
                samples += verified_pairs(b, a, layer)
        outcomes = f"{count} verified patches"
        print(outcomes)
        t0 = time.perf_counter()
        summary = train_from_folders(None, tmp / "tuned", extra_pairs=samples, from_model=str(weights),
                                     config=TrainConfig(steps=args.steps, lr=5e-4, val_every=args.steps),
                                     progress=False)
        seconds = time.perf_counter() - t0
        print(f"fine-tuned {args.steps} steps in {seconds:.0f} s")
        rows = []
        for _, name, b, a, truth in test:
            before_ft = real.score_pair(b, a, truth, target="construction", model=model_path)
            after_ft = real.score_pair(b, a, truth, target="construction", model=summary["onnx"])
            base = real.score_cva(b, a, truth)
            rows.append((before_ft, after_ft, base))
            print(f"{name:28s} F1 before {before_ft['f1']:.3f} after {after_ft['f1']:.3f}  "
                  f"recall {before_ft['recall']:.3f} -> {after_ft['recall']:.3f}  "
                  f"precision {before_ft['precision']:.3f} -> {after_ft['precision']:.3f}  "
                  f"| CVA + Otsu {base['f1']:.3f}")
        if rows:
            mean = [np.mean([r[k]["f1"] for r in rows]) for k in range(3)]
            print(f"mean F1 on the test half: before {mean[0]:.3f}, after {mean[1]:.3f}, "
                  f"CVA + Otsu {mean[2]:.3f} ({outcomes}, {seconds:.0f} s of fine-tuning on the CPU)")


if __name__ == "__main__":
    main()
