"""Deliverables at the network's pace: batched chips, the SVG chart with real text, bounded memory."""

import subprocess
import tracemalloc

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import chromium_path
from PIL import Image

import weipian
from weipian.deliver.chart import ratio_chart_svg
from weipian.deliver.chips import (
    _rings_px,
    _write_chip,
    chip_window,
    epoch_stretch,
    make_chips,
    stretch_from_record,
)
from weipian.io import PairReader, PairSpec
from weipian.stats import township_stats


@pytest.fixture(scope="module")
def delivered(small_batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("deliver")
    judged = weipian.run(small_batch["before"], small_batch["after"], layers=small_batch["farmland"].parent,
                         output=out, overwrite=True)
    return out, judged


def _edge_patches(small_batch, *, side=600):
    """Patches at the read-block edges (128 px blocks) and at the image edges and corners."""
    with PairReader(PairSpec(str(small_batch["before"]), str(small_batch["after"]))) as reader:
        t, crs = reader.transform, reader.crs
    boxes = []
    for r, c in [(0, 0), (0, side - 6), (side - 6, 0), (side - 6, side - 6),   # image corners
                 (124, 124), (127, 250), (250, 127), (255, 255), (383, 380),    # block edges and corners
                 (300, 0), (0, 300), (590, 300), (128, 128), (40, 500)]:
        x0, y0 = t * (c, r)
        x1, y1 = t * (c + 6, r + 6)
        boxes.append(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    boxes.append(shapely.box(*(t * (100, 300)), *(t * (420, 100))).normalize())     # larger than a block
    return gpd.GeoDataFrame({"patch_id": [f"p{i:03d}" for i in range(len(boxes))],
                             "before_date": "2024-03-15", "after_date": "2024-06-20"},
                            geometry=boxes, crs=crs)


def test_batched_chips_equal_per_patch_chips_pixel_for_pixel(small_batch, tmp_path):
    patches = _edge_patches(small_batch)
    batched = make_chips(patches, small_batch["before"], small_batch["after"], tmp_path / "batched",
                         block=128, workers=2)
    reference = tmp_path / "one_by_one"
    reference.mkdir()
    with PairReader(PairSpec(str(small_batch["before"]), str(small_batch["after"]))) as reader:
        stretch = epoch_stretch(reader)
        rgb = [reader.roles[r] for r in ("red", "green", "blue")]
        for pid, geom, bd, ad in zip(patches.patch_id, patches.geometry, patches.before_date, patches.after_date):
            win = chip_window(geom, reader.transform, reader.shape)
            b, a, _ = reader.read(win)  # one read per patch: how chips were made before batching
            _write_chip(reference / f"{pid}.png", b, a, rgb, stretch, _rings_px(geom, reader.transform, win),
                        abs(reader.transform.a), pid, (bd, ad))
    assert list(batched) == list(patches.patch_id)
    for pid, path in batched.items():
        with Image.open(path) as got, Image.open(reference / f"{pid}.png") as want:
            assert got.size == want.size
            assert np.array_equal(np.asarray(got), np.asarray(want)), pid


def test_chips_reuse_the_levels_detection_measured(small_batch):
    """The run's chip stretch is detection's input levels: the RGB rows, close to a fresh 2–98 % stretch."""
    found = weipian.detect(small_batch["before"], small_batch["after"])
    record = found.attrs["weipian"]
    stretch = stretch_from_record(record)
    roles = record["band_roles"]
    for epoch in ("before", "after"):
        levels = np.asarray(record["levels"][epoch])
        assert np.array_equal(stretch[epoch], levels[[roles["red"], roles["green"], roles["blue"]]])
    with PairReader(PairSpec(str(small_batch["before"]), str(small_batch["after"]))) as reader:
        fresh = epoch_stretch(reader)  # all sampled pixels, read again
    for epoch in ("before", "after"):
        width = fresh[epoch][:, 1] - fresh[epoch][:, 0]
        assert np.all(np.abs(stretch[epoch] - fresh[epoch]) <= 0.05 * width[:, None])
    assert stretch_from_record({}) is None
    assert stretch_from_record({"levels": record["levels"], "band_roles": {"nir": 0}}) is None


def test_thousands_of_tiny_patches_keep_chip_memory_bounded(small_batch, tmp_path):
    rng = np.random.default_rng(3)
    with PairReader(PairSpec(str(small_batch["before"]), str(small_batch["after"]))) as reader:
        t, crs = reader.transform, reader.crs
    n = 2000
    rows, cols = rng.integers(0, 596, n), rng.integers(0, 596, n)
    boxes = [shapely.box(*(t * (c, r + 3)), *(t * (c + 3, r))) for r, c in zip(rows, cols)]
    patches = gpd.GeoDataFrame({"patch_id": [f"t{i:05d}" for i in range(n)]}, geometry=boxes, crs=crs)
    tracemalloc.start()
    try:
        written = make_chips(patches, small_batch["before"], small_batch["after"], tmp_path / "chips",
                             block=128, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(written) == n and all(p.exists() for p in written.values())
    # every chip's pixels held at once would be n x (64 px)^2 x 4 bands x 4 B x 2 epochs = 260 MB;
    # batching holds one block (128 px + a chip) of both epochs and the chips being encoded
    all_at_once = n * 64 * 64 * 4 * 4 * 2
    assert peak < 60e6 < all_at_once, peak


def test_report_chart_is_real_text(delivered):
    out, judged = delivered
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'alt="违法占耕比" src="data:image/png' not in page      # not a picture of the text
    chart = page[page.index("<svg"):page.index("</svg>")]
    for name in set(judged["township"]):
        assert 'class="township"' in chart and f">{name}</text>" in chart
    assert "问责线</text>" in chart and "违法占耕比 (%)</text>" in chart
    svg = (out / "townships.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "问责线" in svg


def test_chart_escapes_and_marks_the_lines():
    stats = township_stats(gpd.GeoDataFrame({
        "label": ["violation", "approved", "violation"], "area_m2": [100.0, 300.0, 50.0],
        "farmland_m2": [80.0, 100.0, 10.0], "township": ["<b>甲镇</b>", "<b>甲镇</b>", "乙镇"],
        "township_code": ["1", "1", "2"]}))
    svg = ratio_chart_svg(stats, line=0.15, strict_line=0.08)
    assert "<b>" not in svg and "&lt;b&gt;甲镇&lt;/b&gt;" in svg
    assert svg.count('class="bar"') == 2 and "15% 问责线" in svg and "8% 从严线" in svg


def test_chart_glyphs_are_not_boxes_in_the_browser(delivered, tmp_path):
    """Every character of the chart, drawn by Chromium in the chart's fonts, differs from a missing glyph."""
    import re

    out, _ = delivered
    svg = (out / "townships.svg").read_text(encoding="utf-8")
    family = re.search(r'font-family="([^"]+)"', svg).group(1)
    texts = re.findall(r">([^<>]+)</text>", svg)
    chars = sorted({ch for t in texts for ch in t if ord(ch) > 0x2E80})  # the CJK characters drawn
    assert chars
    cells = chars + ["\U0010fffd"]  # a noncharacter: no font has it, so it is drawn as a missing glyph
    spans = "".join(f'<span style="position:absolute;left:{10 + 70 * (i % 16)}px;top:{10 + 70 * (i // 16)}px">'
                    f"{c}</span>" for i, c in enumerate(cells))
    page = tmp_path / "glyphs.html"
    page.write_text(f'<html><body style="margin:0;background:#fff;font-size:48px;font-family:{family}">'
                    f"{spans}</body></html>", encoding="utf-8")
    shot = tmp_path / "glyphs.png"
    subprocess.run([chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,800",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("L"))

    def cell(i):
        r, c = 10 + 70 * (i // 16), 10 + 70 * (i % 16)
        return pixels[r:r + 64, c:c + 64] < 128

    missing = cell(len(cells) - 1)
    assert missing.any()  # the reference box was drawn
    for i, ch in enumerate(chars):
        glyph = cell(i)
        assert glyph.any(), ch
        assert not np.array_equal(glyph, missing), f"{ch} is drawn as a missing-glyph box"
    if len(chars) > 1:
        assert len({cell(i).tobytes() for i in range(len(chars))}) > 1  # not all the same box
