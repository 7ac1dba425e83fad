"""False alarms: construction flagged where nothing was built, beside CVA + Otsu.

Usage::

    python benchmarks/false_alarms.py [--realdata ../shared/realdata] [--model PATH] [--quality fast]
                                      [--seasonal 40] [--vhr | --coarse]

Most 卫片 patches lie on farmland, where a harvested field or a pond shore
flagged as construction is a wasted field visit. Two measures, run through
``weipian.detect`` exactly as a user runs it (default settings, clouds on):

- **Real pairs outside their labelled change**: the held-out DSIFN images and
  OSCD cities (``weipian.learn.recipe.TEST`` and ``realdata/oscd``), scored
  only on pixels farther than 3 pixels from any labelled change. Their labels
  mark urban change only, so the figure is an upper bound: some of what is
  flagged there is real, unlabelled change (a cleared site, a new farm road).
- **Synthetic seasonal pairs** (:mod:`weipian.learn.seasons`) made from
  land-cover tiles held out from training and calibration
  (:func:`weipian.learn.landcover.split_of`), with nothing built: every
  flagged pixel is a false alarm. Measured twice: changed fields keeping
  their own texture (the pairs models 0.2–0.4 were trained on), and taking
  the texture of the field whose state they take (a harvest changes the
  rows and grain of a field, not only its colour).

Printed per pair kind: the share of the scene flagged, and patches per km²
(the patches of the minimum mapping unit, 50 m²), for weipian and for textbook
CVA + Otsu on the same pixels in the same run. Goal (issue): the real quiet
farm pair flags at most 0.5 % of its scene.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio import features
from scipy import ndimage

import weipian
from weipian.learn.recipe import SUB_METRE_DATASETS
from weipian.learn.resolution import QUALITIES
from weipian.patches import mask_to_patches
from weipian.raster.difference import cva_otsu

ROOT = Path(__file__).resolve().parent.parent


def _write(path: Path, bands: np.ndarray, gsd: float) -> Path:
    data = np.clip(np.round(bands * 200 + 20), 1, 255).astype(np.uint8)
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": 3,
               "dtype": "uint8", "crs": "EPSG:4547",
               "transform": Affine(gsd, 0, 500000.0, 0, -gsd, 3500000.0)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data[:3])
        dst.descriptions = ("red", "green", "blue")
    return path


#: Held-out real pairs measured outside their labelled change, by pixel-size range (``--vhr``, ``--coarse``).
REAL_DATASETS = {None: ("dsifn", "oscd"), "vhr": SUB_METRE_DATASETS, "coarse": ("oscd",)}


def seasonal_pairs(realdata: Path, tmp: Path, count: int, retexture_share: float = 0.0, *,
                   scale: str | None = None):
    """(name, before.tif, after.tif, gsd) of seasonal pairs from held-out land-cover tiles.

    With ``retexture_share`` 1, every changed field that takes the state of
    another field of its image takes that field's texture too. With ``scale``
    ``"vhr"``, only the held-out tiles finer than 1 m (the 0.3 m LoveDA rural tile),
    crops zoomed out at most twice (0.3–0.6 m pixels); with ``"coarse"``, 64²
    pairs of the ≈ 4 m tiles zoomed out 1.5–3 times (6–12 m pixels, all
    above the 5 m where the coarse thresholds and route begin).
    """
    from weipian.learn.calibrate import seasonal_validation_pairs
    from weipian.learn.landcover import load_landcover_folder

    tiles = load_landcover_folder(realdata / "train" / "landcover", split="held_out")
    if scale == "vhr":
        tiles = [t for t in tiles if t.gsd_m < 1.0]
    size, min_zoom = (64, 1.5) if scale == "coarse" else (256, 1.0)
    max_zoom_out = 2.0 if scale == "vhr" else 3.0
    for pair in seasonal_validation_pairs(tiles, count=count, size=size, seed=11, min_zoom=min_zoom,
                                          retexture_share=retexture_share, max_zoom_out=max_zoom_out):
        name = f"{pair.name.replace('/', '_')}_{retexture_share:g}"
        yield (pair.name, _write(tmp / f"{name}_b.tif", pair.before, pair.gsd_m),
               _write(tmp / f"{name}_a.tif", pair.after, pair.gsd_m), pair.gsd_m, None)


def real_pairs(realdata: Path, tmp: Path, datasets=("dsifn", "oscd")):
    """(name, before, after, gsd, truth) of the held-out pairs of ``datasets``."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from real import held_out_pairs

    for dataset, name, b, a, truth in held_out_pairs(realdata, tmp, datasets=datasets):
        with rasterio.open(b) as src:
            gsd = abs(src.transform.a) if src.crs and src.crs.is_projected else 10.0
        yield name, b, a, gsd, truth


def _flags(before, after, *, model, quality) -> tuple[np.ndarray, int]:
    with rasterio.open(before) as src:
        shape, transform = src.shape, src.transform
    patches = weipian.detect(before, after, model=model, quality=quality)
    mask = np.zeros(shape, bool)
    if len(patches):
        mask = features.rasterize(patches.geometry, out_shape=shape, transform=transform).astype(bool)
    return mask, len(patches)


def _cva(before, after, gsd: float) -> tuple[np.ndarray, int]:
    with rasterio.open(before) as b, rasterio.open(after) as a:
        mask = cva_otsu(b.read().astype(np.float32), a.read().astype(np.float32))
    min_pixels = max(1, int(50.0 / gsd ** 2))
    n = len(mask_to_patches(mask, transform=Affine.identity(), min_pixels=min_pixels)["geometry"])
    return mask, n


def measure(pairs, *, model, quality) -> list[dict]:
    rows = []
    print(f"{'pair':24s} {'gsd m':>6s} {'flag %':>7s} {'/km²':>7s} | {'CVA %':>7s} {'/km²':>7s}", flush=True)
    for name, b, a, gsd, truth in pairs:
        ours, n_ours = _flags(b, a, model=model, quality=quality)
        base, n_base = _cva(b, a, gsd)
        quiet = np.ones(ours.shape, bool) if truth is None else ~ndimage.binary_dilation(truth, iterations=3)
        km2 = quiet.sum() * gsd ** 2 / 1e6
        row = {"pair": name, "gsd": float(gsd), "ours": float(ours[quiet].mean()),
               "cva": float(base[quiet].mean()),
               "ours_per_km2": n_ours / km2 if truth is None else patches_outside(ours, truth, gsd) / km2,
               "cva_per_km2": n_base / km2 if truth is None else patches_outside(base, truth, gsd) / km2}
        rows.append(row)
        print(f"{name:24s} {gsd:6.2f} {100 * row['ours']:7.3f} {row['ours_per_km2']:7.1f} | "
              f"{100 * row['cva']:7.3f} {row['cva_per_km2']:7.1f}", flush=True)
    return rows


def patches_outside(mask: np.ndarray, truth: np.ndarray, gsd: float) -> int:
    """Patches (≥ 50 m²) that touch no labelled change."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return 0
    sizes = np.bincount(labels.ravel())
    hit = np.zeros(n + 1, bool)
    hit[np.unique(labels[truth & mask])] = True
    keep = (sizes * gsd ** 2 >= 50.0) & ~hit
    keep[0] = False
    return int(keep.sum())


def _summary(title: str, rows) -> None:
    if not rows:
        return
    ours = np.mean([r["ours"] for r in rows])
    cva = np.mean([r["cva"] for r in rows])
    print(f"{title}: weipian flags {100 * ours:.3f} % ({np.mean([r['ours_per_km2'] for r in rows]):.1f} "
          f"patches/km²); CVA + Otsu {100 * cva:.3f} % ({np.mean([r['cva_per_km2'] for r in rows]):.1f} "
          f"patches/km²)")
    edges = [0.0, 2.0, 3.0, 5.0, float("inf")]
    bands = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = [r for r in rows if lo <= r["gsd"] < hi]
        if inside:
            ours_band, cva_band = (100 * np.mean([r[k] for r in inside]) for k in ("ours", "cva"))
            bands.append(f"{lo:g}–{hi:g} m: {ours_band:.3f} % (CVA + Otsu {cva_band:.3f} %, "
                         f"{len(inside)} pairs)")
    print("  by pixel size: " + "; ".join(bands) + "\n")


def model_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--realdata``, ``--model`` and ``--quality``, as the real-data benchmarks here take them."""
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--quality", default="fast", choices=QUALITIES)
    return parser


def realdata_to_measure(args) -> Path | None:
    """The real-data folder of ``args`` (None, and says why, where it is missing); warnings silenced."""
    realdata = Path(args.realdata)
    if not (realdata / "train").exists():
        print(f"no real data at {realdata}; nothing to measure")
        return None
    warnings.simplefilter("ignore")  # resolution and plausibility warnings are part of what is measured
    return realdata


def main() -> None:
    parser = model_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--seasonal", type=int, default=40, help="number of synthetic seasonal pairs")
    scales = parser.add_mutually_exclusive_group()
    scales.add_argument("--vhr", action="store_true",
                       help="pixels of 0.3-0.6 m: seasonal pairs from the held-out 0.3 m tile, real pairs "
                            "from the held-out LEVIR-CD, houses and WHU-CD pairs")
    scales.add_argument("--coarse", action="store_true",
                       help="pixels of 6-12 m: seasonal pairs of the held-out tiles zoomed out, real pairs "
                            "from the held-out OSCD cities (10 m)")
    args = parser.parse_args()
    scale = "vhr" if args.vhr else "coarse" if args.coarse else None
    realdata = realdata_to_measure(args)
    if realdata is None:
        return
    print(f"model: {args.model}, quality {args.quality}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("\nsynthetic seasonal pairs from held-out land-cover tiles (nothing built)")
        _summary("seasonal pairs", measure(seasonal_pairs(realdata, tmp, args.seasonal, scale=scale),
                                           model=args.model, quality=args.quality))
        print("the same tiles, changed fields taking another field's texture as well as its colour")
        retextured = seasonal_pairs(realdata, tmp, args.seasonal, 1.0, scale=scale)
        _summary("seasonal pairs, texture changed", measure(retextured,
                                                            model=args.model, quality=args.quality))
        print("real held-out pairs, pixels farther than 3 px from labelled change (upper bound)")
        real = real_pairs(realdata, tmp, REAL_DATASETS[scale])
        _summary("real pairs outside labelled change", measure(real, model=args.model, quality=args.quality))


if __name__ == "__main__":
    main()
