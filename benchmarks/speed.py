"""End-to-end speed of ``weipian run`` against the bare floor, in one process.

Usage: python benchmarks/speed.py [--size 3000] [--repeat 3] [--detect-only]

``weipian run`` is timed as a user runs it (detect with the change model,
judge, lists, statistics, evidence chips for every patch and the report), on
all cores and on one worker; ``detect`` alone and ``run`` without chips are
printed beside it. The floor is the least any detector must do: read all
bands of both epochs, NDVI difference, a fixed threshold, polygonise
(rasterio.features.shapes). All are timed in the same process on the same
generated scene at 1 m (best of ``--repeat``); ``detect --quality balanced``, ``accurate``
and ``detect`` on the same pixels declared 0.5 m are printed too (the default then
routes them to its sub-metre model, which runs at native resolution; beside it the
default alone, whose network runs at its 1 m working resolution, a factor of 2), and ``detect`` with every
mix of Dask workers (1 or all cores) and onnxruntime threads per session run
(1 or all cores): weipian uses all cores as workers with one thread each
(``weipian.learn.model.SESSION_THREADS``). The first run is a warm-up and not
timed. Chips for 720 patches (the issue's pair; the run's patches repeated
under new ids) are timed too. The script prints
Mpx/s, ratios to the floor and the peak RSS; ``--also-model PATH`` times ``detect`` with
another model beside the default's. Goal (issue): ``detect`` >= 5
Mpx/s on 2 cores at 1 m (4-band, clouds on), peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio import features

import weipian
from weipian.deliver.chips import make_chips
from weipian.learn.model import copy_without_routes
from weipian.testing.scenes import generate_scene, write_scene


def floor(before: Path, after: Path) -> int:
    with rasterio.open(before) as b, rasterio.open(after) as a:
        x, y = b.read().astype(np.float32), a.read().astype(np.float32)
        transform = b.transform
    ndvi_b = (x[3] - x[2]) / np.maximum(x[3] + x[2], 1)
    ndvi_a = (y[3] - y[2]) / np.maximum(y[3] + y[2], 1)
    mask = (ndvi_b - ndvi_a) > 0.3
    return sum(1 for _ in features.shapes(mask.astype(np.uint8), mask=mask, transform=transform))


def _as_half_metre(paths, tmp: Path) -> tuple[Path, Path]:
    """The pair's pixels rewritten with a 0.5 m transform (so the network runs at a factor of 2)."""
    from affine import Affine

    out = []
    for key in ("before", "after"):
        with rasterio.open(paths[key]) as src:
            profile, data, tags = src.profile, src.read(), src.tags()
            t = src.transform
            descriptions = src.descriptions
        profile["transform"] = Affine(t.a / 2, t.b, t.c, t.d, t.e / 2, t.f)
        path = tmp / f"half_{key}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            dst.update_tags(**tags)
            dst.descriptions = descriptions
        out.append(path)
    return out[0], out[1]


def _chips_one_read_each(patches, paths, directory: Path) -> None:
    """The baseline: every chip read on its own and rendered on one thread (how chips were made in 0.1)."""
    from weipian.deliver.chips import _rings_px, _write_chip, chip_window, epoch_stretch
    from weipian.io import PairReader, PairSpec

    directory.mkdir(parents=True, exist_ok=True)
    with PairReader(PairSpec(str(paths["before"]), str(paths["after"]))) as reader:
        stretch = epoch_stretch(reader)
        rgb = [reader.roles[r] for r in ("red", "green", "blue")]
        for pid, geom in zip(patches["patch_id"], patches.geometry):
            win = chip_window(geom, reader.transform, reader.shape)
            b, a, _ = reader.read(win)
            _write_chip(directory / f"{pid}.png", b, a, rgb, stretch, _rings_px(geom, reader.transform, win),
                        abs(reader.transform.a), pid, ("", ""))


def _thread_settings(paths, repeat: int) -> dict:
    """``detect`` time for Dask workers × onnxruntime threads per session run (1 or all cores each)."""
    import os

    from weipian.learn import model

    cores = os.cpu_count() or 1
    out = {}
    try:
        for workers, per_run in ((cores, 1), (cores, cores), (1, cores), (1, 1)):
            model.SESSION_THREADS = per_run
            out[(workers, per_run)] = best_of(
                lambda: weipian.detect(paths["before"], paths["after"], workers=workers), repeat)
    finally:
        model.SESSION_THREADS = 1
    return out


def _repeated(patches, count: int):
    """``count`` patches: the run's own, repeated in order under new ids (the same chips, more of them)."""
    import pandas as pd

    reps = -(-count // len(patches))
    out = pd.concat([patches] * reps, ignore_index=True).iloc[:count].copy()
    out["patch_id"] = [f"rep-{k:05d}" for k in range(len(out))]
    return out


def best_of(func, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def detect_only(args) -> None:
    """The floor, ``detect`` (with its stage timings) and ``--also-model``, best of ``--repeat``."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_scene(generate_scene((args.size, args.size), rng=777), Path(tmp))
        mpx = args.size * args.size / 1e6
        t_floor = best_of(lambda: floor(paths["before"], paths["after"]), args.repeat)
        weipian.detect(paths["before"], paths["after"])  # warm-up: the model session
        runs = []
        t_detect = best_of(lambda: runs.append(weipian.detect(paths["before"], paths["after"])), args.repeat)
        t_also = (best_of(lambda: weipian.detect(paths["before"], paths["after"], model=args.also_model),
                          args.repeat) if args.also_model else None)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = min((r.attrs["weipian"]["timings"] for r in runs), key=lambda t: sum(t.values()))
    print(f"scene {args.size}x{args.size} px ({mpx:.1f} Mpx per epoch, 4-band uint16, 1 m), "
          f"best of {args.repeat}")
    print(f"floor (read, NDVI diff, threshold, polygonise): {t_floor:.2f} s = {mpx / t_floor:.2f} Mpx/s")
    print(f"weipian detect: {t_detect:.2f} s = {mpx / t_detect:.2f} Mpx/s ({t_detect / t_floor:.1f}x the "
          f"floor; goal >= 5 Mpx/s), {len(runs[-1])} patches")
    if t_also is not None:
        print(f"weipian detect with --model {args.also_model}: {t_also:.2f} s = {mpx / t_also:.2f} Mpx/s "
              f"({t_also / t_detect:.2f}x the default's time)")
    print(f"detect stages of the fastest run (s): {stages}")
    print(f"peak RSS of this process: {peak_mb:.0f} MB (goal <= 1500 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--also-model", help="another ONNX change model (an int8 copy, say) whose `detect` "
                        "is timed beside the default's")
    parser.add_argument("--detect-only", action="store_true",
                        help="time only the floor and detect (and --also-model): what a large --size needs")
    args = parser.parse_args()
    if args.detect_only:
        return detect_only(args)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_scene(generate_scene((args.size, args.size), rng=777), tmp)
        mpx = args.size * args.size / 1e6
        t_floor = best_of(lambda: floor(paths["before"], paths["after"]), args.repeat)
        def run(**kw):
            return weipian.run(paths["before"], paths["after"], layers=tmp / "layers", output=tmp / "out",
                               overwrite=True, **kw)

        run()  # warm-up: the model session, the layer reads and the font cache are not what is timed
        t_full = best_of(run, args.repeat)
        t_one = best_of(lambda: run(workers=1), 1)
        t_run = best_of(lambda: run(chips=False), args.repeat)
        t_detect = best_of(lambda: weipian.detect(paths["before"], paths["after"]), args.repeat)
        t_also = (best_of(lambda: weipian.detect(paths["before"], paths["after"], model=args.also_model),
                          args.repeat) if args.also_model else None)
        t_balanced = best_of(lambda: weipian.detect(paths["before"], paths["after"], quality="balanced"), 1)
        t_accurate = best_of(lambda: weipian.detect(paths["before"], paths["after"], quality="accurate"), 1)
        threads = _thread_settings(paths, args.repeat)
        half = _as_half_metre(paths, tmp)
        half_runs = []  # the timed runs' results: which model ran is read from the last
        t_half = best_of(lambda: half_runs.append(weipian.detect(*half)), args.repeat)
        half_model = half_runs[-1].attrs["weipian"]["model"]
        unrouted = copy_without_routes(None, tmp / "unrouted")
        t_half_unrouted = best_of(lambda: weipian.detect(*half, model=unrouted), args.repeat)
        judged = run(chips=False)
        stages = judged.attrs["weipian"]["timings"]
        full = run()
        full_stages = json.loads((tmp / "out" / "run.json").read_text(encoding="utf-8"))["timings"]
        t_chips = best_of(lambda: make_chips(full, paths["before"], paths["after"], tmp / "chips"),
                          args.repeat)
        t_chips_one = best_of(lambda: _chips_one_read_each(full, paths, tmp / "chips_one"), 1)
        many = _repeated(full, 720)
        t_chips_720 = best_of(lambda: make_chips(many, paths["before"], paths["after"], tmp / "chips_720"), 1)
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
    if t_also is not None:
        print(f"weipian detect alone with --model {args.also_model}: {t_also:.2f} s = "
              f"{mpx / t_also:.2f} Mpx/s ({t_detect / t_also:.2f}x the default model)")
    print(f"weipian detect --quality balanced (working resolution, 4 flips): {t_balanced:.2f} s = "
          f"{mpx / t_balanced:.2f} Mpx/s")
    print(f"weipian detect --quality accurate (native resolution, 4 flips): {t_accurate:.2f} s = "
          f"{mpx / t_accurate:.2f} Mpx/s")
    print(f"weipian detect on the same pixels declared 0.5 m ({Path(half_model['path']).parent.name}/"
          f"{Path(half_model['path']).name}, factor {half_model['factor']}): {t_half:.2f} s = "
          f"{mpx / t_half:.2f} Mpx/s")
    print(f"  the default without its sub-metre route (network at 1 m, factor 2): {t_half_unrouted:.2f} s = "
          f"{mpx / t_half_unrouted:.2f} Mpx/s (the route costs {t_half / t_half_unrouted:.2f}x)")
    cores = max(w for w, _ in threads)
    for (workers, per_run), seconds in threads.items():
        chosen = " (the setting weipian uses)" if per_run == 1 and workers == cores else ""
        print(f"detect with {workers} Dask worker(s) x {per_run} onnxruntime thread(s) per run: "
              f"{seconds:.2f} s = {mpx / seconds:.2f} Mpx/s{chosen}")
    deliver_s = full_stages["total_s"] - full_stages["detect_s"] - full_stages["judge_s"]
    print(f"deliverables (lists, chips for all {len(full)} patches, report) in a full run: "
          f"{deliver_s:.2f} s = {100 * deliver_s / full_stages['total_s']:.0f} % of the run (goal <= 10 %); "
          f"run / detect speed {t_detect / t_full:.2f} (goal >= 0.9)")
    print(f"chips alone for {len(full)} patches: {t_chips:.2f} s batched on all cores "
          f"(goal <= 4 s for 720); one read per patch, one thread: {t_chips_one:.2f} s "
          f"({t_chips_one / max(t_chips, 1e-9):.1f}x slower)")
    print(f"chips for 720 patches (this run's patches repeated under new ids): {t_chips_720:.2f} s "
          f"(goal <= 4 s)")
    print(f"detect stages (s): {stages}")
    print(f"peak RSS of this process: {peak_mb:.0f} MB (goal <= 1500 MB)")

if __name__ == "__main__":
    main()
