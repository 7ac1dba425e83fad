"""Ledger figures: ingest of a 100,000-patch batch into a ledger of 1 M earlier patches, and
concurrent status updates per second, on each back end.

Usage:
    python benchmarks/ledger.py [--earlier 1000000] [--batch 100000] [--writers 8] [--changes 500]
                                [--postgis postgresql://user@host/db] [--workdir DIR]

Ingest. ``--earlier`` patches (8-30 vertex polygons of 8-40 m, like detected sheds and houses,
spread over 100 km x 100 km, a prefecture's ten quarters) are added as ten quarterly batches, then a batch of
``--batch`` patches, 30 % of them re-outlines of earlier patches (shifted up to 4 m), is added
with matching: the figure is that last ``Ledger.add_patches`` (one transaction: read of the
earlier patches in its bounds, matching, inserts) in seconds and patches/s (goal <= 60 s on the
GeoPackage back end). The baseline in the same run is the bare insert of the same rows with
matching skipped (``executemany`` into the same table), so the ratio says what matching and
the ledger's bookkeeping cost.

Concurrency. ``--writers`` processes each make ``--changes`` state changes on 20 shared patches
(read, then a versioned change; a conflict re-reads): changes/s over the wall time of all of
them, conflicts retried, and a check that every change is in the history exactly once.

PostGIS runs where ``--postgis`` names a database (it is emptied) or, without it, where Debian's
PostgreSQL + PostGIS are installed: a throw-away server is started on localhost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def polygons(n: int, rng, x0=452000.0, y0=2500000.0, extent=100000.0):
    """``n`` star-shaped 8-30 vertex polygons of about 8-40 m across."""
    import shapely

    cx = x0 + rng.uniform(0, extent, n)
    cy = y0 + rng.uniform(0, extent, n)
    k = rng.integers(8, 31, n)
    size = rng.uniform(4, 20, n)
    out = np.empty(n, object)
    for vertices in np.unique(k):
        idx = np.flatnonzero(k == vertices)
        angles = (np.arange(vertices) + rng.uniform(0.1, 0.9, (idx.size, vertices))) * (2 * np.pi / vertices)
        radii = size[idx, None] * rng.uniform(0.7, 1.0, (idx.size, vertices))
        ring = np.stack([cx[idx, None] + radii * np.cos(angles), cy[idx, None] + radii * np.sin(angles)], -1)
        out[idx] = shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))
    return out


def frame(batch: str, geoms, after: str):
    import geopandas as gpd
    import shapely

    n = len(geoms)
    i = np.arange(n)
    return gpd.GeoDataFrame({
        "patch_id": [f"440305-{batch}-{k + 1:06d}" for k in i], "label": "violation", "reason": "r",
        "evidence_category": "违法",
        "township": np.array(["南山街道", "西丽街道", "桃源街道", "沙河街道"])[i % 4],
        "township_code": "440305001", "area_m2": shapely.area(geoms), "farmland_m2": 0.0,
        "basic_farmland_m2": 0.0, "temporary_expired_m2": 0.0, "key_project": False,
        "before_date": "", "after_date": after}, geometry=list(geoms), crs="EPSG:4547")


def ingest(location: str, n_earlier: int, n_batch: int) -> dict:
    import shapely

    from weipian.ledger import Ledger

    rng = np.random.default_rng(11)
    earlier = polygons(n_earlier, rng)
    quarters = [f"{2020 + q // 4}Q{q % 4 + 1}" for q in range(10)]
    t = time.perf_counter()
    with Ledger(location, crs="EPSG:4547") as ledger:
        for q, part in enumerate(np.array_split(earlier, len(quarters))):
            ledger.add_patches(frame(quarters[q], part, f"{2020 + q // 4}-0{3 * (q % 4) + 1}-20"),
                               batch=quarters[q])
    setup = time.perf_counter() - t
    repeats = rng.choice(n_earlier, int(0.3 * n_batch), replace=False)
    moved = shapely.transform(earlier[repeats], lambda xy: xy + rng.uniform(-4, 4, 2))
    new = np.concatenate([moved, polygons(n_batch - len(moved), rng)])
    batch = frame("2023Q1", new, "2023-03-20")
    with Ledger(location) as ledger:
        t = time.perf_counter()
        result = ledger.add_patches(batch, batch="2023Q1")
        seconds = time.perf_counter() - t
        # baseline: the same rows inserted bare, no matching, into a scratch batch
        bare = frame("2023Q9", new, "2023-03-20")
        rows = [ledger._patch_row(r, r["patch_id"], "2023Q9", "疑似", "now", None, None)
                for _, r in bare.iterrows()]
        t = time.perf_counter()
        with ledger.backend.transaction(ledger.conn):
            ledger._run("INSERT INTO ledger_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        ("2023Q9", "", "", "", "", "", len(bare), "now", "bench"))
            ledger._insert_patches(rows, bare.geometry.to_numpy())
        bare_s = time.perf_counter() - t
    return {"setup_s": setup, "seconds": seconds, "new": result.new, "repeats": result.repeats,
            "expected_repeats": len(moved), "bare_s": bare_s}


WORKER = Path(__file__).with_name("_ledger_writer.py")


def concurrency(location: str, writers: int, changes: int) -> dict:
    from weipian.ledger import Ledger

    ids = [f"440305-2024Q2-{k + 1:06d}" for k in range(20)]
    rng = np.random.default_rng(3)
    with Ledger(location, crs="EPSG:4547") as ledger:
        ledger.add_patches(frame("2024Q2", polygons(20, rng), "2024-06-20"), batch="2024Q2")
        for s in ("已核查", "立案", "整改中"):
            ledger.set_state(ids, s)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen([sys.executable, str(WORKER), location, str(p), str(changes), ",".join(ids)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for p in range(writers)]
    conflicts, spans = 0, []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise RuntimeError(err[-2000:])
        c, start, end = out.split()
        conflicts += int(c)
        spans.append((float(start), float(end)))
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    with Ledger(location) as ledger:
        history = ledger.history()
    made = history[history["who"].str.startswith("w")]
    exact = len(made) == writers * changes and made["note"].is_unique
    return {"changes": writers * changes, "wall_s": wall, "per_s": writers * changes / wall,
            "conflicts": conflicts, "exactly_once": bool(exact)}


def start_postgis():
    """A throw-away PostgreSQL + PostGIS server; returns (url, stop)."""
    import glob

    found = [p for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
             if glob.glob(f"/usr/share/postgresql/{Path(p).parent.parent.name}/extension/postgis.control")]
    if not found:
        return None, lambda: None
    bin_dir = Path(found[0]).parent
    root = tempfile.mkdtemp(prefix="weipian-pg-")
    as_user = []
    if os.getuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", f"{root}/data", "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", f"{root}/data", "-l", f"{root}/log", "-w",
                    "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=40",
                    "start"], check=True, capture_output=True)

    def stop():
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", f"{root}/data", "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def fresh_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earlier", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--postgis", default=None,
                        help="a PostGIS database URL (emptied) [a throw-away server]")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    stop = lambda: None  # noqa: E731
    server = args.postgis
    if server is None:
        server, stop = start_postgis()
    try:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            backends = [("GeoPackage", lambda name: str(Path(tmp) / f"{name}.gpkg"))]
            if server:
                backends.append(("PostGIS", lambda name: fresh_database(server, name)))
            else:
                print("PostGIS: no server (install Debian's postgresql and postgresql-*-postgis-3)")
            for kind, location in backends:
                if not args.skip_ingest:
                    r = ingest(location("ingest"), args.earlier, args.batch)
                    goal = " (goal <= 60 s)" if kind == "GeoPackage" else ""
                    print(f"{kind}: ingest of {args.batch:,} patches into a ledger of {args.earlier:,} "
                          f"(ten batches, built in {r['setup_s']:.0f} s): {r['seconds']:.1f} s{goal}, "
                          f"{args.batch / r['seconds']:,.0f} patches/s; {r['new']:,} new, {r['repeats']:,} "
                          f"repeats ({r['expected_repeats']:,} re-outlined); bare insert of the same rows "
                          f"{r['bare_s']:.1f} s ({r['seconds'] / r['bare_s']:.1f}x)")
                c = concurrency(location("concurrency"), args.writers, args.changes)
                print(f"{kind}: {args.writers} writers x {args.changes} state changes on 20 shared patches: "
                      f"{c['per_s']:,.0f} changes/s ({c['wall_s']:.1f} s, {c['conflicts']} conflicts "
                      f"re-read and retried), every change exactly once: {c['exactly_once']}")
    finally:
        stop()


if __name__ == "__main__":
    main()
