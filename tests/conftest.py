"""Shared fixtures: tiny GeoTIFFs built in code and one small generated batch."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from weipian.testing.scenes import generate_scene, write_scene

ORIGIN = Affine(1.0, 0.0, 452000.0, 0.0, -1.0, 2508000.0)


def write_tif(path, array, *, crs="EPSG:4547", transform=ORIGIN, nodata=None, descriptions=None,
              tags=None):
    """Write a (B, M, N) array as a GeoTIFF."""
    array = np.asarray(array)
    profile = dict(driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                   dtype=array.dtype.name, transform=transform, nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if descriptions:
            dst.descriptions = descriptions
        if tags:
            dst.update_tags(**tags)
    return path


def chromium_path() -> str:
    """The headless Chromium to drive in browser tests; skips the test where there is none."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium on this machine (make test installs Debian's chromium)")


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="session")
def small_scene():
    """A 600 x 600 px generated batch (seed used by tests only)."""
    return generate_scene((600, 600), rng=4242)


@pytest.fixture(scope="session")
def small_batch(small_scene, tmp_path_factory):
    """The small scene written to disk: dict of paths."""
    directory = tmp_path_factory.mktemp("batch")
    return write_scene(small_scene, directory)


# -- PostgreSQL + PostGIS for the ledger tests --------------------------------------------------------
def _postgres_bin():
    """The bin folder of Debian's PostgreSQL server with PostGIS installed, or None."""
    import glob
    from pathlib import Path

    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        version = Path(initdb).parent.parent.name
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(initdb).parent
    return None


@pytest.fixture(scope="session")
def postgis_server():
    """A throw-away PostgreSQL + PostGIS server on localhost (Debian packages; make test installs them).

    Yields the URL of its ``postgres`` database; skipped where the packages are missing.
    """
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server with PostGIS (Debian postgresql + postgresql-*-postgis-3; "
                    "make test installs them)")
    root = tempfile.mkdtemp(prefix="weipian-pg-")
    as_user = []
    if os.getuid() == 0:  # the server refuses to run as root: run it as Debian's postgres user
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = f"{root}/data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True)
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c max_connections=40")
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", data, "-o", options, "-l", f"{root}/log",
                    "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["gpkg", "postgis"])
def ledger_location(request, tmp_path):
    """A fresh, empty ledger location on each back end: a GeoPackage path or a new database's URL."""
    if request.param == "gpkg":
        yield str(tmp_path / "台账.gpkg")
        return
    import uuid

    import psycopg

    server = request.getfixturevalue("postgis_server")
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
