"""Throughput of ``weipian batch``: pairs concurrently on a local Dask cluster against one pair at a time.

Usage: python benchmarks/batch.py [--pairs 6] [--size 800] [--concurrent 2]

Writes ``--pairs`` generated pairs (``--size`` px square, 1 m, 4-band) with
their layers, then runs the same manifest twice in this process: one pair at
a time (``concurrent=1``, each pair's windows on all cores: the baseline) and
``--concurrent`` pairs at once on a local ``dask.distributed`` cluster of
single-threaded workers (each pair's windows one after another). Prints
pairs per minute and Mpx/s of both, and their ratio. Both give the same
patches (checked).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd

from weipian.batch import run_batch
from weipian.testing.scenes import generate_scene, write_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--concurrent", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = ["before,after,layers,output"]
        for k in range(args.pairs):
            paths = write_scene(generate_scene((args.size, args.size), rng=900 + k), tmp / f"pair{k}")
            lines.append(f"{paths['before']},{paths['after']},{paths['farmland'].parent},{{out}}/p{k}")
        times, counts = {}, {}
        runs = (("one pair at a time", 1), (f"{args.concurrent} pairs at once", args.concurrent))
        for label, concurrent in runs:
            manifest = tmp / f"manifest_{concurrent}.csv"
            text = "\n".join(line.replace("{out}", str(tmp / f"out{concurrent}")) for line in lines)
            manifest.write_text(text, encoding="utf-8")
            t0 = time.perf_counter()
            summary = run_batch(manifest, concurrent=concurrent, chips=True)
            times[label] = time.perf_counter() - t0
            assert all(s["status"] == "ok" for s in summary), summary
            counts[label] = [len(gpd.read_file(Path(s["output"]) / "patches.gpkg", layer="patches"))
                             for s in summary]
    base, fast = list(times)
    assert counts[base] == counts[fast], counts
    mpx = args.pairs * args.size * args.size / 1e6
    for label, seconds in times.items():
        print(f"{label:24s}: {seconds:6.1f} s = {args.pairs / seconds * 60:5.1f} pairs/min = "
              f"{mpx / seconds:.2f} Mpx/s")
    print(f"concurrent / one at a time: {times[base] / times[fast]:.2f}x the throughput "
          f"({args.pairs} pairs of {args.size}² px, {sum(counts[base])} patches, same in both)")


if __name__ == "__main__":
    main()
