"""Accuracy of weipian on generated scenes, beside textbook CVA + Otsu.

Usage: python benchmarks/accuracy.py [--size 3000] [--seeds 101,202,303] [--rgb] [--model PATH]

Scenes come from :func:`weipian.testing.scenes.generate_scene` with seeds that no test
uses. For each scene it prints object recall (a truth structure is found when
patches cover >= 30 % of it), object precision (a patch is true when >= 30 %
of it is truth), pixel F1, and label accuracy among found structures; then
the same object and pixel scores for change-vector analysis + Otsu on the raw
epochs (polygonised with the same minimum mapping unit). Goals: recall >= 0.97,
precision >= 0.90, pixel F1 >= 0.80, label accuracy >= 0.98.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio import features

import weipian
from weipian.patches import mask_to_patches
from weipian.raster.difference import cva_otsu
from weipian.testing.scenes import generate_scene, write_scene
from weipian.testing.scores import object_scores, pixel_scores


def _rgb_copy(path: Path, out: Path) -> None:
    with rasterio.open(path) as src:
        profile = src.profile
        data = src.read([3, 2, 1])
        tags = src.tags()
    profile.update(count=3)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("red", "green", "blue")
        dst.update_tags(**tags)


def evaluate_scene(size: int, seed: int, rgb: bool, workdir: Path, model: str = "default") -> dict:
    scene = generate_scene((size, size), rng=seed)
    paths = write_scene(scene, workdir)
    before, after = paths["before"], paths["after"]
    if rgb:
        _rgb_copy(before, workdir / "before_rgb.tif")
        _rgb_copy(after, workdir / "after_rgb.tif")
        before, after = workdir / "before_rgb.tif", workdir / "after_rgb.tif"
    t0 = time.perf_counter()
    judged = weipian.run(before, after, layers=workdir / "layers", output=workdir / "out", model=model,
                         overwrite=True)
    seconds = time.perf_counter() - t0
    truth = scene.truth
    ours = object_scores(judged.geometry.values, truth.geometry.values,
                         patch_labels=judged.label.values, truth_labels=truth.expected_label.values)
    mask = features.rasterize(judged.geometry, out_shape=(size, size), transform=scene.transform,
                              dtype="uint8").astype(bool) if len(judged) else np.zeros((size, size), bool)
    ours_px = pixel_scores(mask, scene.truth_mask)

    base_mask = cva_otsu(scene.before.astype(np.float32), scene.after.astype(np.float32))
    table = mask_to_patches(base_mask, transform=scene.transform, min_pixels=50)
    n = len(table["geometry"])
    kept = features.rasterize(table["geometry"], out_shape=(size, size), transform=scene.transform,
                              dtype="uint8").astype(bool) if n else np.zeros((size, size), bool)
    base = object_scores(table["geometry"], truth.geometry.values)
    base_px = pixel_scores(kept, scene.truth_mask)
    return dict(seed=seed, structures=len(truth), patches=len(judged), seconds=seconds,
                recall=ours.recall, precision=ours.precision, f1=ours_px["f1"],
                label_accuracy=ours.label_accuracy,
                missed=[f"{truth.kind.iloc[i]}@{truth.placement.iloc[i]}" for i in ours.missed],
                base_recall=base.recall, base_precision=base.precision, base_f1=base_px["f1"],
                base_patches=n)


def cloud_scene(size: int, seed: int, n_clouds: int, workdir: Path, model: str = "default") -> dict:
    """False patches inside clouds and shadows, and recall outside them, with and without masking."""
    import shapely

    from weipian.vector.overlay import layer_overlap

    scene = generate_scene((size, size), rng=seed, clouds=n_clouds)
    paths = write_scene(scene, workdir)
    shapes = features.shapes(scene.obscured.astype("uint8"), mask=scene.obscured, transform=scene.transform)
    hidden_area = shapely.union_all([shapely.geometry.shape(g) for g, _ in shapes])
    truth = scene.truth
    hidden = np.array([g.intersects(hidden_area) for g in truth.geometry])
    out = {}
    for masking in (False, True):
        found = weipian.detect(paths["before"], paths["after"], clouds=masking, model=model)
        inside = np.array([g.intersection(hidden_area).area >= 0.3 * g.area for g in found.geometry])
        true_share = layer_overlap(found.geometry.values, truth.geometry.values).area / found.area.values
        outside = object_scores(found.geometry.values, truth.geometry.values[~hidden])
        out[masking] = dict(false_in_cloud=int((inside & (true_share < 0.3)).sum()),
                            recall_outside=outside.recall, structures_outside=int((~hidden).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--seeds", default="101,202,303")
    parser.add_argument("--rgb", action="store_true", help="Use only the red, green, blue bands.")
    parser.add_argument("--clouds", type=int, default=6,
                        help="Cloud banks per scene in the cloud measurement (0 skips it).")
    parser.add_argument("--model", default="default", help="ONNX change model (default: the shipped one)")
    args = parser.parse_args()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(evaluate_scene(args.size, seed, args.rgb, Path(tmp), args.model))
        r = rows[-1]
        print(f"seed {r['seed']}: {r['structures']} structures, {r['patches']} patches, "
              f"{r['seconds']:.1f} s | weipian recall {r['recall']:.3f} precision {r['precision']:.3f} "
              f"pixel F1 {r['f1']:.3f} label acc {r['label_accuracy']:.3f} | CVA+Otsu recall "
              f"{r['base_recall']:.3f} precision {r['base_precision']:.3f} pixel F1 {r['base_f1']:.3f} "
              f"({r['base_patches']} patches)", flush=True)
        if r["missed"]:
            print(f"  missed: {', '.join(r['missed'])}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("recall", "precision", "f1", "label_accuracy", "base_recall", "base_precision", "base_f1")}
    bands = "RGB" if args.rgb else "4-band"
    print(f"\nmean over {len(rows)} scenes of {args.size}x{args.size} px ({bands}):")
    print(f"  weipian : object recall {mean['recall']:.3f} (goal 0.97)  object precision "
          f"{mean['precision']:.3f} (goal 0.90)  pixel F1 {mean['f1']:.3f} (goal 0.80)  "
          f"label accuracy {mean['label_accuracy']:.3f} (goal 0.98)")
    print(f"  CVA+Otsu: object recall {mean['base_recall']:.3f}  object precision "
          f"{mean['base_precision']:.3f}  pixel F1 {mean['base_f1']:.3f}")
    if args.clouds and not args.rgb:
        print(f"\nclouds: {args.clouds} cloud banks with shadows per scene")
        for seed in [int(s) for s in args.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                r = cloud_scene(args.size, seed + 1, args.clouds, Path(tmp), args.model)
            for masking, v in r.items():
                print(f"  seed {seed + 1} cloud masking {'on ' if masking else 'off'}: false patches in "
                      f"cloud/shadow {v['false_in_cloud']} (goal 0), recall outside clouds "
                      f"{v['recall_outside']:.3f} ({v['structures_outside']} structures)", flush=True)


if __name__ == "__main__":
    main()
