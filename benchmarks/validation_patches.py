"""Pixel F1 and false patches per km² on the recipe's validation pairs, at several thresholds.

Usage::

    python benchmarks/validation_patches.py [--realdata ../shared/realdata] [--model PATH]
                                            [--datasets levir_cd,pak_houses,whu_cd]
                                            [--thresholds card,0.6,0.7,0.8] [--baseline PATH]

For choosing a model's construction threshold without looking at the held-out
test pairs: each validation pair of ``weipian.learn.recipe.VALIDATION`` in
``--datasets`` is run through ``weipian.detect`` as a user runs it (default
settings, clouds on), once per threshold (``card``: the model card's own);
printed per setting are the mean pixel F1 of construction and the false
patches per km² — patches of at least 50 m² touching no labelled change, per
km² of the pixels farther than 3 px from it (``benchmarks/false_alarms.py``'s
measure). ``--baseline`` scores another model at its card's threshold in the
same run (for the shipped default's sub-metre route: a folder holding only the
0.5 ``model.onnx`` and ``model_card.json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio import features
from scipy import ndimage

import weipian
from weipian.learn.recipe import SUB_METRE_DATASETS, VALIDATION

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from false_alarms import patches_outside, realdata_to_measure  # noqa: E402
from real import manifest_pairs  # noqa: E402


def validation_pairs(realdata: Path, tmp: Path, datasets):
    """(key, before, after, truth, gsd) of the recipe's validation pairs of ``datasets``."""
    for _, key, b, a, truth, gsd in manifest_pairs(realdata, tmp, VALIDATION, datasets):
        yield key, b, a, truth, gsd


def score(pairs, model: str, threshold: float | None) -> tuple[list[float], list[float]]:
    """Per-pair pixel F1 and false patches per km² of ``model`` at ``threshold`` (None: its card's)."""
    f1s, densities = [], []
    for _, b, a, truth, gsd in pairs:
        kwargs = {"model": model} if threshold is None else {"model": model, "threshold": threshold}
        patches = weipian.detect(b, a, **kwargs)
        with rasterio.open(b) as src:
            shape, transform = src.shape, src.transform
        mask = np.zeros(shape, bool)
        if len(patches):
            mask = features.rasterize(patches.geometry, out_shape=shape, transform=transform).astype(bool)
        f1s.append(2 * (mask & truth).sum() / max(1, mask.sum() + truth.sum()))
        quiet_km2 = (~ndimage.binary_dilation(truth, iterations=3)).sum() * gsd ** 2 / 1e6
        densities.append(patches_outside(mask, truth, gsd) / quiet_km2)
    return f1s, densities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--datasets", default=",".join(SUB_METRE_DATASETS))
    parser.add_argument("--thresholds", default="card,0.6,0.7,0.8")
    parser.add_argument("--baseline", default=None, help="another model, at its card's threshold")
    args = parser.parse_args()
    realdata = realdata_to_measure(args)
    if realdata is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        pairs = list(validation_pairs(realdata, Path(tmp), args.datasets.split(",")))
        print("validation pairs:", ", ".join(p[0] for p in pairs))
        settings = [(f"{args.baseline} (card)", args.baseline, None)] if args.baseline else []
        for t in args.thresholds.split(","):
            settings.append((f"{args.model} @ {t}", args.model, None if t == "card" else float(t)))
        for label, model, threshold in settings:
            f1s, dens = score(pairs, model, threshold)
            print(f"{label}: F1 {np.mean(f1s):.3f} ({' '.join(f'{x:.2f}' for x in f1s)}); "
                  f"false patches/km² {np.mean(dens):.1f} ({' '.join(f'{x:.0f}' for x in dens)})", flush=True)


if __name__ == "__main__":
    main()
