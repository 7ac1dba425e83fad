"""Pixel F1 of weipian on real imagery (OSCD and LEVIR-CD), beside CVA + Otsu.

Usage: python benchmarks/real.py [--realdata ../shared/realdata]

OSCD (Sentinel-2, 10 m): B02, B03, B04, B08 of each epoch are stacked into a
4-band GeoTIFF and scored against ``<city>-cm.tif`` (2 = change). LEVIR-CD
(RGB, about 0.5 m): the GeoTIFF crops, scored against the 0/255 labels. Every
pair is run with ``--target construction`` and ``--target any`` and the
default minimum mapping unit (50 m²); CVA + Otsu runs on the same raw stacks
in the same process. Nothing here is tuned per dataset. Goal: mean F1 >= 0.55.
"""

from __future__ import annotations

import argparse
import glob
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio import features

import weipian
from weipian.raster.difference import cva_otsu
from weipian.testing.scores import pixel_scores

ROOT = Path(__file__).resolve().parent.parent


def _stack(files, out: Path, descriptions) -> None:
    arrays, profile = [], None
    for f in files:
        with rasterio.open(f) as src:
            arrays.append(src.read(1))
            profile = profile or src.profile
    profile.update(count=len(arrays), driver="GTiff")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack(arrays))
        dst.descriptions = descriptions


def oscd_pairs(realdata: Path, tmp: Path):
    for city_dir in sorted((realdata / "oscd").iterdir()):
        if not city_dir.is_dir():
            continue
        city = city_dir.name
        paths = []
        for epoch in ("imgs_1", "imgs_2"):
            files = [glob.glob(str(city_dir / epoch / f"*_{b}.tif"))[0] for b in ("B02", "B03", "B04", "B08")]
            out = tmp / f"{city}_{epoch}.tif"
            _stack(files, out, ("blue", "green", "red", "nir"))
            paths.append(out)
        with rasterio.open(city_dir / f"{city}-cm.tif") as src:
            truth = src.read(1) == 2
        yield f"oscd/{city}", paths[0], paths[1], truth


def levir_pairs(realdata: Path):
    base = realdata / "levir_cd_samples" / "geotiff"
    for a in sorted((base / "A").glob("*.tif")):
        with rasterio.open(base / "label" / a.name) as src:
            truth = src.read(1) > 0
        yield f"levir/{a.stem}", a, base / "B" / a.name, truth


def score(before, after, truth, target) -> float:
    patches = weipian.detect(before, after, target=target)
    with rasterio.open(before) as src:
        shape, transform = src.shape, src.transform
    mask = np.zeros(shape, bool)
    if len(patches):
        mask = features.rasterize(patches.geometry, out_shape=shape, transform=transform).astype(bool)
    return pixel_scores(mask, truth)["f1"]


def baseline(before, after, truth) -> float:
    with rasterio.open(before) as b, rasterio.open(after) as a:
        mask = cva_otsu(b.read().astype(np.float32), a.read().astype(np.float32))
    return pixel_scores(mask, truth)["f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    args = parser.parse_args()
    realdata = Path(args.realdata)
    if not realdata.exists():
        print(f"no real data at {realdata}; nothing to measure")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pairs = list(oscd_pairs(realdata, Path(tmp))) + list(levir_pairs(realdata))
        print(f"{'pair':36s} {'construction':>12s} {'any':>8s} {'CVA+Otsu':>9s} {'changed %':>9s}")
        for name, before, after, truth in pairs:
            row = (name, score(before, after, truth, "construction"), score(before, after, truth, "any"),
                   baseline(before, after, truth), 100 * truth.mean())
            rows.append(row)
            print(f"{row[0]:36s} {row[1]:12.3f} {row[2]:8.3f} {row[3]:9.3f} {row[4]:9.2f}", flush=True)
    for prefix in ("oscd/", "levir/", ""):
        sel = [r for r in rows if r[0].startswith(prefix) and r[4] > 0]
        if not sel:
            continue
        label = prefix.rstrip("/") or "all"
        print(f"mean F1 ({label}, {len(sel)} pairs with change): construction "
              f"{np.mean([r[1] for r in sel]):.3f}  any {np.mean([r[2] for r in sel]):.3f}  "
              f"CVA+Otsu {np.mean([r[3] for r in sel]):.3f}")
    print("goal: mean F1 >= 0.55; pairs without any labelled change have no defined F1 and are "
          "left out of the means (their false-positive share is printed in the table as F1 0).")


if __name__ == "__main__":
    main()
