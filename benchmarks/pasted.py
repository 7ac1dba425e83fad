"""Real roofs on real farmland, both held out: recall of new construction among seasonal change.

Usage: python benchmarks/pasted.py [--realdata ../shared/realdata] [--model PATH] [--pairs 40] [--native]
                                  [--roofs held_out|training]

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

The enlarged fields are softer than the roofs pasted on them (the 4 m tiles are resampled to
1.75 m, the roofs come from 0.8 m tiles): a combination real imagery does not show. ``--native``
pastes onto 256² crops at the tiles' own ≈ 4 m pixels instead (roofs downsampled to 4 m, fields
and roofs equally sharp, as in a 4 m Gaofen-2 multispectral pair).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from false_alarms import _cva, _flags, _write, model_arguments, realdata_to_measure  # noqa: E402

from weipian.testing.scores import pixel_scores  # noqa: E402

#: Smallest roof pasted (m²): twice the default minimum mapping unit, so that a roof found is a patch.
MIN_ROOF_M2 = 100.0


#: Building sets the held-out roofs come from; ``--roofs training`` takes these sets' training tiles instead.
ROOF_SETS = ("gf2_mfbfs", "shanghai_google")


def pasted_pairs(realdata: Path, count: int, seed: int = 21, native: bool = False, roofs: str = "held_out"):
    """(name, before, after, gsd, roofs, recoloured, demolished, source): roofs pasted on held-out farmland.

    ``roofs`` is a (H, W) int array: 0 nowhere, k for the k-th pasted roof;
    ``recoloured`` the set of recoloured roof numbers; ``source`` the building set the roofs came from.
    ``roofs="training"`` cuts the roofs from the training tiles of the same sets instead: whether a
    miss is one of generalisation (held-out roofs only) or of what the network learned at all.
    """
    from weipian.learn.augment import _building_pieces, _paste
    from weipian.learn.calibrate import seasonal_validation_pairs
    from weipian.learn.landcover import load_landcover_folder
    from weipian.learn.recipe import HELD_OUT_BUILDINGS
    from weipian.learn.samples import load_building_folder

    tiles = load_landcover_folder(realdata / "train" / "landcover", split="held_out")
    gid = [t for t in tiles if t.name.startswith("gid15/")]
    if roofs not in ("held_out", "training"):
        raise ValueError(f"roofs must be 'held_out' or 'training', not {roofs!r}")
    roofs_from = [t for t in load_building_folder(realdata / "train" / "buildings")
                  if (t.name in HELD_OUT_BUILDINGS) == (roofs == "held_out")
                  and t.name.split("/")[1] in ROOF_SETS]
    rng = np.random.default_rng(seed)
    crops = (dict(size=256, min_zoom=1.0, max_zoom_out=1.0) if native else dict(size=512, min_zoom=0.4))
    for k, pair in enumerate(seasonal_validation_pairs(gid, count=count, seed=seed, **crops)):
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


def measure(realdata: Path, tmp: Path, *, count: int, model, quality, native: bool = False,
            roof_tiles: str = "held_out") -> None:
    roofs_seen = []        # (kind, source, found by weipian, found by CVA + Otsu), one per new roof
    demolished_flagged = {"ours": [], "cva": []}
    rest = {"ours": [], "cva": []}
    f1 = {"ours": [], "cva": []}
    print(f"{'pair':12s} {'roofs':>5s} {'found':>5s} {'rest %':>7s} | {'CVA found':>9s} {'CVA rest %':>10s}")
    pairs = pasted_pairs(realdata, count, native=native, roofs=roof_tiles)
    for name, before, after, gsd, roofs, recoloured, demolished, source in pairs:
        stem = name.replace("/", "_")
        b = _write(tmp / f"{stem}_b.tif", before, gsd)
        a = _write(tmp / f"{stem}_a.tif", after, gsd)
        flags = {"ours": _flags(b, a, model=model, quality=quality)[0], "cva": _cva(b, a, gsd)[0]}
        on_roof = roofs > 0
        quiet = ~ndimage.binary_dilation(on_roof, iterations=3)
        for key, mask in flags.items():
            rest[key].append(float(mask[quiet].mean()))
        if demolished:
            for key, mask in flags.items():
                demolished_flagged[key].append(float(mask[on_roof].mean()) if on_roof.any() else 0.0)
            print(f"{name:12s} {int(roofs.max()):5d} {'demol.':>5s} {100 * rest['ours'][-1]:7.3f} | {'':9s} "
                  f"{100 * rest['cva'][-1]:10.3f}", flush=True)
            continue
        pair_roofs = []
        for roof in range(1, int(roofs.max()) + 1):
            sel = roofs == roof
            kind = "recoloured" if roof in recoloured else "own pixels"
            found = [flags[key][sel].mean() >= 0.3 for key in ("ours", "cva")]
            pair_roofs.append((kind, source, *found))
        roofs_seen += pair_roofs
        for key, mask in flags.items():
            f1[key].append(pixel_scores(mask, on_roof)["f1"])
        print(f"{name:12s} {int(roofs.max()):5d} {sum(r[2] for r in pair_roofs):5d} "
              f"{100 * rest['ours'][-1]:7.3f} | {sum(r[3] for r in pair_roofs):9d} "
              f"{100 * rest['cva'][-1]:10.3f}", flush=True)
    print()
    for kind in ("own pixels", "recoloured"):
        of_kind = [r for r in roofs_seen if r[0] == kind]
        for source in sorted({r[1] for r in of_kind}) + ["all"]:
            sel = [r for r in of_kind if source in ("all", r[1])]
            n = max(1, len(sel))
            print(f"object recall, roofs with {kind}, {source} ({len(sel)}): "
                  f"weipian {sum(r[2] for r in sel) / n:.3f}, CVA + Otsu {sum(r[3] for r in sel) / n:.3f}")
    print(f"pixel F1 of construction (pairs with new roofs): weipian {np.mean(f1['ours']):.3f}, "
          f"CVA + Otsu {np.mean(f1['cva']):.3f}")
    print("demolished roof pixels flagged as construction: "
          f"weipian {100 * np.mean(demolished_flagged['ours']):.1f} %, "
          f"CVA + Otsu {100 * np.mean(demolished_flagged['cva']):.1f} %")
    print("rest of the scene flagged (seasonal change, nothing built): "
          f"weipian {100 * np.mean(rest['ours']):.3f} %, CVA + Otsu {100 * np.mean(rest['cva']):.3f} %")


def main() -> None:
    parser = model_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--native", action="store_true",
                        help="paste onto crops at the land-cover tiles' own pixels (about 4 m), not enlarged")
    parser.add_argument("--roofs", choices=("held_out", "training"), default="held_out",
                        help="cut the roofs from the held-out building tiles (default) or from the training "
                        "tiles of the same sets (is a miss one of generalisation?)")
    args = parser.parse_args()
    realdata = realdata_to_measure(args)
    if realdata is None:
        return
    pixels = "the tiles' own pixels (about 4 m)" if args.native else "1.75 m"
    print(f"model: {args.model}, quality {args.quality}; {args.roofs.replace('_', '-')} roofs on held-out "
          f"farmland, {pixels}")
    with tempfile.TemporaryDirectory() as tmp:
        measure(realdata, Path(tmp), count=args.pairs, model=args.model, quality=args.quality,
                native=args.native, roof_tiles=args.roofs)


if __name__ == "__main__":
    main()
