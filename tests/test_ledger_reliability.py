"""The ledger under SIGKILL and concurrent writers, on both back ends.

* A ``weipian ledger add`` or ``status --set`` killed with SIGKILL at points
  spread over its run leaves the ledger as it was before the command or as
  it is after it, never between.
* Eight processes changing the same patches at once lose no change: every
  change is in the ledger exactly once and the versions add up.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from weipian.ledger import Ledger

N_BIG = 20_000


def grid_batch(batch: str, n: int, offset: float = 0.0) -> gpd.GeoDataFrame:
    """``n`` 8 m x 8 m patches on a 20 m grid (areas 64 m²)."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x = 452000.0 + (i % side) * 20.0 + offset
    y = 2500000.0 + (i // side) * 20.0
    return gpd.GeoDataFrame({
        "patch_id": [f"440305-{batch}-{k + 1:06d}" for k in i], "label": "violation", "reason": "r",
        "evidence_category": "违法", "township": np.where(i % 2, "南山街道", "西丽街道"),
        "township_code": "440305001", "area_m2": 64.0, "farmland_m2": 64.0, "basic_farmland_m2": 0.0,
        "temporary_expired_m2": 0.0, "key_project": False, "before_date": "2024-03-01",
        "after_date": "2024-06-20"}, geometry=shapely.box(x, y, x + 8, y + 8), crs="EPSG:4547")


def weipian(*args) -> list[str]:
    return [sys.executable, "-m", "weipian.cli.main", *args]


def counts(location, batch):
    with Ledger(location) as ledger:
        patches = ledger.patches(batch=batch)
        history = ledger.history()
        batches = ledger.batches()
    return (len(patches), int(history["patch_id"].str.contains(f"-{batch}-").sum()),
            int((batches["batch"] == batch).sum()))


@pytest.fixture
def big_run(tmp_path):
    from weipian.workflows import write_patches

    out = tmp_path / "run2024Q3"
    out.mkdir()
    write_patches(grid_batch("2024Q3", N_BIG, offset=2.0), out / "patches.gpkg")
    (out / "run.json").write_text('{"judge": {"batch": "2024Q3"}, "inputs": {}}', encoding="utf-8")
    return out


def test_sigkill_during_add_and_status_leaves_before_or_after(ledger_location, big_run, tmp_path):
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(grid_batch("2024Q2", N_BIG), batch="2024Q2")
    # how long an uninterrupted add takes, on a ledger of its own
    reference = str(tmp_path / "reference.gpkg")
    with Ledger(reference, crs="EPSG:4547") as ledger:
        ledger.add_patches(grid_batch("2024Q2", N_BIG), batch="2024Q2")
    t = time.perf_counter()
    subprocess.run(weipian("ledger", "add", str(big_run), "--ledger", reference), check=True,
                   capture_output=True)
    full = time.perf_counter() - t
    outcomes = []
    for fraction in (0.35, 0.6, 0.75, 0.9, 0.97):
        proc = subprocess.Popen(weipian("ledger", "add", str(big_run), "--ledger", ledger_location),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        n, history, listed = counts(ledger_location, "2024Q3")
        assert (n, history, listed) in ((0, 0, 0), (N_BIG, N_BIG, 1)), (fraction, n, history, listed)
        outcomes.append(n)
        if n:
            break
    if not outcomes[-1]:
        subprocess.run(weipian("ledger", "add", str(big_run), "--ledger", ledger_location), check=True,
                       capture_output=True)
    assert counts(ledger_location, "2024Q3") == (N_BIG, N_BIG, 1)
    # the earlier batch is untouched, its patches matched by the repeats
    with Ledger(ledger_location) as ledger:
        frame = ledger.patches(batch="2024Q3")
    assert (frame["state"] == "重复").all()

    ids = [f"440305-2024Q2-{k + 1:06d}" for k in range(4000)]
    t = time.perf_counter()
    subprocess.run(weipian("ledger", "status", *ids, "--set", "已核查", "--ledger", reference), check=True,
                   capture_output=True)
    full = time.perf_counter() - t
    for fraction in (0.4, 0.7, 0.9):
        proc = subprocess.Popen(weipian("ledger", "status", *ids, "--set", "已核查", "--ledger", ledger_location),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Ledger(ledger_location) as ledger:
            states = ledger.patches(batch="2024Q2").set_index("patch_id").loc[ids, "state"]
            moved = int((ledger.history()["action"] == "state").sum())
        assert set(states) in ({"疑似"}, {"已核查"}), fraction
        assert moved == (len(ids) if set(states) == {"已核查"} else 0)
        if set(states) == {"已核查"}:
            break


#: One writer: N versioned state changes with re-read on conflict (shared with benchmarks/ledger.py).
WORKER = Path(__file__).resolve().parent.parent / "benchmarks" / "_ledger_writer.py"


def _run_writers(location, ids, writers, changes):
    procs = [subprocess.Popen([sys.executable, str(WORKER), location, str(p), str(changes), ",".join(ids)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONWARNINGS="ignore"))
             for p in range(writers)]
    conflicts = 0
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        conflicts += int(out.split()[0])  # the writer prints: conflicts, start, end
    return conflicts


def test_eight_writers_lose_no_change(ledger_location):
    writers, changes = 8, 500
    ids = [f"440305-2024Q2-{k + 1:06d}" for k in range(5)]
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(grid_batch("2024Q2", 5), batch="2024Q2")
        for s in ("已核查", "立案", "整改中"):
            ledger.set_state(ids, s)
    _run_writers(ledger_location, ids, writers, changes)
    with Ledger(ledger_location) as ledger:
        history = ledger.history()
        frame = ledger.patches()
    changed = history[history["who"].str.startswith("w")]
    expected = {f"{p}-{k}" for p in range(writers) for k in range(changes)}
    assert len(changed) == writers * changes
    assert set(changed["note"]) == expected  # each change exactly once
    assert int(frame["version"].sum()) == 5 * 4 + writers * changes
    # every patch's history is a clean alternation: each change starts where the last ended
    for pid, g in changed.groupby("patch_id"):
        states = g.sort_values("id")
        assert (states["from_state"].to_numpy()[1:] == states["to_state"].to_numpy()[:-1]).all()
    final = frame.set_index("patch_id").loc[ids, "state"]
    per_patch = changed.groupby("patch_id").size().reindex(ids)
    assert list(final) == ["已整改" if n % 2 else "整改中" for n in per_patch]
    assert pd.Series(changed["note"]).is_unique
