"""End-to-end speed of ``weipian run`` against the bare floor, in one process.

Usage: python benchmarks/speed.py [--size 3000] [--repeat 3]

``weipian run`` is timed without evidence chips (they cost per patch, not per pixel; the
with-chips time is printed too). The floor is the least any detector must do: read all bands of both epochs,
NDVI difference, a fixed threshold, polygonise (rasterio.features.shapes).
Both are timed in the same run on the same generated scene (best of
``--repeat``); the script prints Mpx/s of each and their ratio. Goal: ratio
<= 3x.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio import features

import weipian
from weipian.testing.scenes import generate_scene, write_scene


def floor(before: Path, after: Path) -> int:
    with rasterio.open(before) as b, rasterio.open(after) as a:
        x, y = b.read().astype(np.float32), a.read().astype(np.float32)
        transform = b.transform
    ndvi_b = (x[3] - x[2]) / np.maximum(x[3] + x[2], 1)
    ndvi_a = (y[3] - y[2]) / np.maximum(y[3] + y[2], 1)
    mask = (ndvi_b - ndvi_a) > 0.3
    return sum(1 for _ in features.shapes(mask.astype(np.uint8), mask=mask, transform=transform))


def best_of(func, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_scene(generate_scene((args.size, args.size), rng=777), tmp)
        mpx = args.size * args.size / 1e6
        t_floor = best_of(lambda: floor(paths["before"], paths["after"]), args.repeat)
        t_run = best_of(
            lambda: weipian.run(paths["before"], paths["after"], layers=tmp / "layers",
                                output=tmp / "out", overwrite=True, chips=False),
            args.repeat,
        )
        t_detect = best_of(lambda: weipian.detect(paths["before"], paths["after"]), args.repeat)
        t_chips = best_of(
            lambda: weipian.run(paths["before"], paths["after"], layers=tmp / "layers",
                                output=tmp / "out", overwrite=True), 1)
        judged = weipian.run(paths["before"], paths["after"], layers=tmp / "layers",
                             output=tmp / "out", overwrite=True, chips=False)
        stages = judged.attrs["weipian"]["timings"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scene {args.size}x{args.size} px ({mpx:.1f} Mpx per epoch, 4-band uint16), best of {args.repeat}")
    print(f"floor (read, NDVI diff, threshold, polygonise): {t_floor:.2f} s = {mpx / t_floor:.2f} Mpx/s")
    print(f"weipian run (detect, judge, lists, stats, report; no chips): {t_run:.2f} s = "
          f"{mpx / t_run:.2f} Mpx/s")
    print(f"ratio run / floor: {t_run / t_floor:.2f}x (goal <= 3x)")
    print(f"weipian detect alone: {t_detect:.2f} s = {mpx / t_detect:.2f} Mpx/s "
          f"({t_detect / t_floor:.2f}x the floor)")
    print(f"weipian run with evidence chips for all {len(judged)} patches: {t_chips:.2f} s "
          f"({t_chips / t_floor:.2f}x the floor; chips scale with the patch count)")
    print(f"detect stages (s): {stages}")
    print(f"peak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
