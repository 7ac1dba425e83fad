"""Chips and the HTML report, checked in a real headless browser."""

import re
import subprocess

import geopandas as gpd
import numpy as np
import pytest
from conftest import chromium_path
from PIL import Image

import weipian
from weipian.deliver.report import LABEL_COLOURS, write_report
from weipian.stats import township_stats


@pytest.fixture(scope="module")
def delivered(small_batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    weipian.run(small_batch["before"], small_batch["after"], layers=small_batch["farmland"].parent,
                output=out, overwrite=True, route=True)
    return out


def test_one_chip_per_patch(delivered):
    patches = gpd.read_file(delivered / "patches.gpkg", layer="patches")
    chips = sorted(p.stem for p in (delivered / "chips").glob("*.png"))
    assert chips == sorted(patches.patch_id)
    with Image.open(delivered / "chips" / f"{patches.patch_id[0]}.png") as img:
        assert img.width > 2 * img.height * 0.9  # before | after side by side


def test_visit_order_in_lists(delivered):
    gj = gpd.read_file(delivered / "patches.geojson")
    for _, g in gj.groupby("township"):
        assert sorted(g.visit_order) == list(range(1, len(g) + 1))


def _browser(args, tmp_path):
    base = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


def test_report_in_browser(delivered, tmp_path):
    patches = gpd.read_file(delivered / "patches.gpkg", layer="patches")
    url = (delivered / "report.html").as_uri()
    dom = _browser(["--dump-dom", url], tmp_path).stdout
    # the script drew one SVG path per patch
    assert len(re.findall(r'<path [^>]*class="patch', dom)) == len(patches)
    assert f'data-features="{len(patches)}"' in dom
    total = re.search(r'id="total-patches">(\d+)<', dom).group(1)
    area = re.search(r'id="total-area">([\d,.]+)<', dom).group(1)
    assert int(total) == len(patches)
    assert float(area.replace(",", "")) == pytest.approx(patches.area_m2.sum(), abs=0.1)
    for label in ("violation", "approved"):
        shown = re.search(rf'data-label="{label}">(\d+)<', dom).group(1)
        assert int(shown) == int((patches.label == label).sum())
    shot = tmp_path / "report.png"
    _browser(["--window-size=1280,1600", f"--screenshot={shot}", url], tmp_path)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB")).reshape(-1, 3).astype(int)
    # the map was painted: patch outlines in their label colours are on screen
    for label in set(patches.label):
        colour = np.array([int(LABEL_COLOURS[label][i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - colour).sum(axis=1) < 30).sum() > 20, label


def test_report_works_offline(delivered):
    page = (delivered / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_hostile_strings_are_escaped(delivered, small_batch, tmp_path):
    patches = gpd.read_file(delivered / "patches.gpkg", layer="patches")
    patches["township"] = "<script>alert(1)</script>"
    patches["reason"] = '"></path><img src=x onerror=alert(2)>'
    out = write_report(patches, township_stats(patches), tmp_path / "r.html",
                       before=small_batch["before"], after=small_batch["after"])
    page = out.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    dom = _browser(["--dump-dom", out.as_uri()], tmp_path).stdout
    assert "<img src=\"x\"" not in dom and f'data-features="{len(patches)}"' in dom


def test_report_embeds_each_chip_as_a_jpeg_preview_of_its_png(delivered):
    """The run's report carries every chip as a JPEG of the same picture; chips/ keeps the PNGs."""
    import base64
    import io
    import json

    page = (delivered / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1))
    assert data["features"]
    for feature in data["features"]:
        pid = feature["fields"]["patch_id"]
        prefix = "data:image/jpeg;base64,"
        assert feature["chip"].startswith(prefix), pid
        jpeg = base64.b64decode(feature["chip"][len(prefix):])
        with Image.open(io.BytesIO(jpeg)) as got, Image.open(delivered / "chips" / f"{pid}.png") as png:
            assert got.size == png.size
            diff = np.abs(np.asarray(got.convert("RGB"), int) - np.asarray(png.convert("RGB"), int))
            assert diff.mean() < 8, pid            # the same picture, lossily compressed (of 255)
            assert len(jpeg) < (delivered / "chips" / f"{pid}.png").stat().st_size


def test_a_batch_larger_than_the_embedding_limit_links_its_chips(delivered, small_batch, tmp_path, monkeypatch):
    """Beyond EMBED_CHIPS patches the report links chips/ beside it instead of embedding them."""
    import json

    from weipian.deliver import report as report_module
    from weipian.workflows import deliver

    patches = gpd.read_file(delivered / "patches.gpkg", layer="patches")
    monkeypatch.setattr(report_module, "EMBED_CHIPS", 1)
    deliver(patches, tmp_path, before=small_batch["before"], after=small_batch["after"])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1))
    chips = sorted(f["chip"] for f in data["features"])
    assert chips == sorted(f"chips/{pid}.png" for pid in patches.patch_id)
    assert all((tmp_path / c).exists() for c in chips)
