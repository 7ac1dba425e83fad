"""Real roofs on real farmland, both held out: recall of new construction among seasonal change.

Usage: python benchmarks/pasted.py [--realdata ../shared/realdata] [--model PATH] [--pairs 40]

The building tiles kept out of training (``weipian.learn.recipe.HELD_OUT_BUILDINGS``:
``gf2_mfbfs/937``, Gaofen-2-like 0.8 m, and ``shanghai_google/0_9``, ``8_1``, about 0.86 m) are
what the issue keeps them for: footprints are cut from them and pasted, at the pair's pixel size,
onto the labelled land of synthetic seasonal pairs made from held-out land-cover tiles
(``weipian.learn.calibrate.seasonal_validation_pairs``: 512² crops of the 4 m GID tiles enlarged
to 1.75 m, fields harvested, flooded or greening around them). Roofs are 100 m² or more (twice
the minimum mapping unit, so that a roof found can be a patch); half keep their own pixels, half
are recoloured as blue colour-steel, red tile, white or grey sheets (the colours of
``weipian.learn.augment``). In every fourth pair the epochs are exchanged: the roofs are then
demolished, change but not construction.

Each pair is written as GeoTIFFs and run through ``weipian.detect`` as a user runs it; CVA + Otsu
on the same pixels beside it. Printed: object recall of the pasted roofs (a roof is found when
patches cover 30 % of it), for real and recoloured roofs apart; the share of demolished roof
pixels flagged; the share of the rest of each scene flagged (seasonal change, nothing built);
pixel F1 of construction. Nothing here is used for training, checkpoints or thresholds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from false_alarms import _cva, _flags, _write  # noqa: E402

from weipian.learn.resolution import QUALITIES  # noqa: E402

#: Smallest roof pasted (m²): twice the default minimum mapping unit, so that a roof found is a patch.
MIN_ROOF_M2 = 100.0


def pasted_pairs(realdata: Path, count: int, seed: int = 21):
    """(name, before, after, gsd, roofs, recoloured, demolished, source): roofs pasted on held-out farmland.

    ``roofs`` is a (H, W) int array: 0 nowhere, k for the k-th pasted roof;
    ``recoloured`` the set of recoloured roof numbers; ``source`` the building set the roofs came from.
    """
    from weipian.learn.augment import _building_pieces, _paste
    from weipian.learn.calibrate import seasonal_validation_pairs
    from weipian.learn.landcover import load_landcover_folder
    from weipian.learn.recipe import HELD_OUT_BUILDINGS
    from weipian.learn.samples import load_building_folder

    tiles = load_landcover_folder(realdata / "train" / "landcover", split="held_out")
    gid = [t for t in tiles if t.name.startswith("gid15/")]
    roofs_from = [t for t in load_building_folder(realdata / "train" / "buildings")
                  if t.name in HELD_OUT_BUILDINGS]
    rng = np.random.default_rng(seed)
    for k, pair in enumerate(seasonal_validation_pairs(gid, count=count, size=512, seed=seed, min_zoom=0.4)):
        before, after = pair.before.copy(), pair.after.copy()
        # labelled land, changed by the season or not (the tiles' unlabelled strips are left alone)
        cover_ok = pair.any_change != 255
        roofs = np.zeros(pair.any_change.shape, np.int32)
        recoloured = set()
        source = roofs_from[k % len(roofs_from)]
        scale = source.gsd_m / pair.gsd_m
        n = 0
        for img, mask in _building_pieces(source, rng, scale, 24):
            if mask.sum() * pair.gsd_m ** 2 < MIN_ROOF_M2:
                continue
            recolour = n % 2 == 1
            trial = after.copy()
            placed = _paste(trial, img, mask, rng, recolour=recolour)
            if placed is None or (roofs[placed] > 0).any() or not cover_ok[placed].all():
                continue
            grown = ndimage.binary_dilation(placed, iterations=3)
            if (roofs[grown] > 0).any():  # roofs apart, so that each is one object
                continue
            after = trial
            n += 1
            roofs[placed] = n
            if recolour:
                recoloured.add(n)
        demolished = k % 4 == 3
        if demolished:
            before, after = after, before
        yield (f"pasted/{k}", before, after, pair.gsd_m, roofs, recoloured, demolished,
               source.name.split("/")[1])


def measure(realdata: Path, tmp: Path, *, count: int, model, quality) -> None:
    found, base_found = {}, {}
    demolished_flagged, demolished_base = [], []
    rest, rest_base, f1, f1_base = [], [], [], []
    print(f"{'pair':12s} {'roofs':>5s} {'found':>5s} {'rest %':>7s} | {'CVA found':>9s} {'CVA rest %':>10s}")
    for name, before, after, gsd, roofs, recoloured, demolished, source in pasted_pairs(realdata, count):
        stem = name.replace("/", "_")
        b = _write(tmp / f"{stem}_b.tif", before, gsd)
        a = _write(tmp / f"{stem}_a.tif", after, gsd)
        ours, _ = _flags(b, a, model=model, quality=quality)
        base, _ = _cva(b, a, gsd)
        on_roof = roofs > 0
        quiet = ~ndimage.binary_dilation(on_roof, iterations=3)
        rest.append(float(ours[quiet].mean()))
        rest_base.append(float(base[quiet].mean()))
        if demolished:
            demolished_flagged.append(float(ours[on_roof].mean()) if on_roof.any() else 0.0)
            demolished_base.append(float(base[on_roof].mean()) if on_roof.any() else 0.0)
            print(f"{name:12s} {int(roofs.max()):5d} {'demol.':>5s} {100 * rest[-1]:7.3f} | {'':9s} "
                  f"{100 * rest_base[-1]:10.3f}", flush=True)
            continue
        hits = hits_base = 0
        for roof in range(1, int(roofs.max()) + 1):
            sel = roofs == roof
            group = ("recoloured" if roof in recoloured else "own pixels") + f", {source}"
            found.setdefault(group, [0, 0])
            base_found.setdefault(group, [0, 0])
            got, got_base = ours[sel].mean() >= 0.3, base[sel].mean() >= 0.3
            found[group][0] += int(got)
            found[group][1] += 1
            base_found[group][0] += int(got_base)
            base_found[group][1] += 1
            hits += int(got)
            hits_base += int(got_base)
        f1.append(_f1(ours, on_roof))
        f1_base.append(_f1(base, on_roof))
        print(f"{name:12s} {int(roofs.max()):5d} {hits:5d} {100 * rest[-1]:7.3f} | {hits_base:9d} "
              f"{100 * rest_base[-1]:10.3f}", flush=True)
    print()
    for kind in ("own pixels", "recoloured"):
        groups = sorted(g for g in found if g.startswith(kind))
        for group in groups + [kind]:
            got = sum(found[g][0] for g in groups) if group == kind else found[group][0]
            total = sum(found[g][1] for g in groups) if group == kind else found[group][1]
            got_base = sum(base_found[g][0] for g in groups) if group == kind else base_found[group][0]
            print(f"object recall, roofs with {group + (', all' if group == kind else '')} ({total}): "
                  f"weipian {got / max(1, total):.3f}, CVA + Otsu {got_base / max(1, total):.3f}")
    print(f"pixel F1 of construction (pairs with new roofs): weipian {np.mean(f1):.3f}, CVA + Otsu "
          f"{np.mean(f1_base):.3f}")
    print("demolished roof pixels flagged as construction: "
          f"weipian {100 * np.mean(demolished_flagged):.1f} %, "
          f"CVA + Otsu {100 * np.mean(demolished_base):.1f} %")
    print("rest of the scene flagged (seasonal change, nothing built): "
          f"weipian {100 * np.mean(rest):.3f} %, "
          f"CVA + Otsu {100 * np.mean(rest_base):.3f} %")


def _f1(flags: np.ndarray, truth: np.ndarray) -> float:
    tp = float((flags & truth).sum())
    denom = float(flags.sum() + truth.sum())
    return 2 * tp / denom if denom else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--quality", default="fast", choices=QUALITIES)
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    realdata = Path(args.realdata)
    if not (realdata / "train").exists():
        print(f"no real data at {realdata}; nothing to measure")
        return
    warnings.simplefilter("ignore")  # resolution and plausibility warnings are part of what is measured
    print(f"model: {args.model}, quality {args.quality}; held-out roofs on held-out farmland, 1.75 m")
    with tempfile.TemporaryDirectory() as tmp:
        measure(realdata, Path(tmp), count=args.pairs, model=args.model, quality=args.quality)


if __name__ == "__main__":
    main()
