"""End-to-end speed of ``weipian run`` against the bare floor, in one process.

Usage: python benchmarks/speed.py [--size 3000] [--repeat 3]

``weipian run`` is timed as a user runs it (detect with the change model,
judge, lists, statistics, evidence chips for every patch and the report), on
all cores and on one worker; ``detect`` alone and ``run`` without chips are
printed beside it. The floor is the least any detector must do: read all
bands of both epochs, NDVI difference, a fixed threshold, polygonise
(rasterio.features.shapes). All are timed in the same process on the same
generated scene at 1 m (best of ``--repeat``); the script prints Mpx/s,
ratios to the floor and the peak RSS. Goal (issue): run >= 5 Mpx/s on 2 cores,
peak RSS <= 1.5 GB.
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
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_scene(generate_scene((args.size, args.size), rng=777), tmp)
        mpx = args.size * args.size / 1e6
        t_floor = best_of(lambda: floor(paths["before"], paths["after"]), args.repeat)
        def run(**kw):
            return weipian.run(paths["before"], paths["after"], layers=tmp / "layers", output=tmp / "out",
                               overwrite=True, **kw)

        t_full = best_of(run, args.repeat)
        t_one = best_of(lambda: run(workers=1), 1)
        t_run = best_of(lambda: run(chips=False), args.repeat)
        t_detect = best_of(lambda: weipian.detect(paths["before"], paths["after"]), args.repeat)
        judged = run(chips=False)
        stages = judged.attrs["weipian"]["timings"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scene {args.size}x{args.size} px ({mpx:.1f} Mpx per epoch, 4-band uint16, 1 m), "
          f"best of {args.repeat}")
    print(f"floor (read, NDVI diff, threshold, polygonise): {t_floor:.2f} s = {mpx / t_floor:.2f} Mpx/s")
    print(f"weipian run as a user runs it ({len(judged)} patches, chips and report): {t_full:.2f} s = "
          f"{mpx / t_full:.2f} Mpx/s = {t_full / t_floor:.1f}x the floor (goal >= 5 Mpx/s)")
    print(f"  on one worker: {t_one:.2f} s = {mpx / t_one:.2f} Mpx/s "
          f"(all cores are {t_one / t_full:.2f}x faster)")
    print(f"weipian run without chips: {t_run:.2f} s = {mpx / t_run:.2f} Mpx/s "
          f"({t_run / t_floor:.1f}x the floor)")
    print(f"weipian detect alone: {t_detect:.2f} s = {mpx / t_detect:.2f} Mpx/s "
          f"({t_detect / t_floor:.1f}x the floor)")
    print(f"detect stages (s): {stages}")
    print(f"peak RSS of this process: {peak_mb:.0f} MB (goal <= 1500 MB)")

if __name__ == "__main__":
    main()
