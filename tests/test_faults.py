"""Crashes and determinism: a killed run leaves the previous outputs or none, --resume finishes it,
and the same inputs give byte-identical results whatever the worker count."""

import json
import os
import signal
import subprocess
import sys
import time

import geopandas as gpd
import pytest

import weipian
from weipian.testing.scenes import generate_scene, write_scene


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return write_scene(generate_scene((1000, 1000), rng=77), tmp_path_factory.mktemp("kill"))


def _cmd(batch, out, *extra):
    return [sys.executable, "-m", "weipian.cli.main", "-q", "run", str(batch["before"]), str(batch["after"]),
            "--layers", str(batch["farmland"].parent), "-o", str(out), "--window-size", "256",
            "--workers", "1", "--no-chips", *extra]


def test_sigkill_leaves_previous_outputs_and_resume_completes(batch, tmp_path):
    out = tmp_path / "out"
    subprocess.run(_cmd(batch, out), check=True, capture_output=True)
    first_csv = (out / "patches.csv").read_bytes()
    first = gpd.read_file(out / "patches.gpkg", layer="patches")
    # rerun, and kill it hard once some windows are done
    proc = subprocess.Popen(_cmd(batch, out, "--overwrite"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    work = out / ".weipian-work"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(work.glob("r*.pkl"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(work.glob("r*.pkl")))
    assert 0 < done < 16, "the run was not killed part-way"
    # the previous outputs are intact: readable and unchanged
    assert (out / "patches.csv").read_bytes() == first_csv
    assert gpd.read_file(out / "patches.gpkg", layer="patches").drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".weipian-work"]
    # --resume finishes from the windows already done and equals the uninterrupted run
    kept = len(list(work.glob("r*.pkl")))
    subprocess.run(_cmd(batch, out, "--resume"), check=True, capture_output=True)
    assert (out / "patches.csv").read_bytes() == first_csv
    assert not work.exists()
    windows = json.loads((out / "run.json").read_text())["windows"]
    assert windows["reused"] == kept > 0  # the windows finished before the kill were not redone
    assert windows["total"] > kept


def test_killed_first_run_leaves_no_outputs(batch, tmp_path):
    out = tmp_path / "fresh"
    proc = subprocess.Popen(_cmd(batch, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".weipian-work").glob("r*.pkl"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "patches.gpkg").exists() and not (out / "patches.csv").exists()


def test_byte_identical_across_runs_and_workers(batch, tmp_path):
    outputs = []
    for k, kwargs in enumerate(({"workers": 1}, {"workers": 2}, {"workers": 2, "window_size": 200},
                                {"scheduler": "processes", "workers": 2})):
        out = tmp_path / f"o{k}"
        weipian.run(batch["before"], batch["after"], layers=batch["farmland"].parent, output=out,
                    chips=False, **kwargs)
        outputs.append(out)
    csvs = [(o / "patches.csv").read_bytes() for o in outputs]
    assert all(c == csvs[0] for c in csvs)
    frames = [gpd.read_file(o / "patches.gpkg", layer="patches") for o in outputs]
    for f in frames[1:]:
        assert f.drop(columns="geometry").equals(frames[0].drop(columns="geometry"))
        assert all(a.equals_exact(b, 0) for a, b in zip(f.geometry, frames[0].geometry))
