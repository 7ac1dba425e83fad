"""Windowed detection gives the same patches whatever the window size."""

import numpy as np
import pytest
import shapely
from affine import Affine
from conftest import write_tif

import weipian
from weipian.engine.windows import tile_windows
from weipian.patches import assemble_pieces, tile_pieces
from weipian.testing.scenes import SPECTRA


def _pieces_for(mask, size):
    transform = Affine(1, 0, 0, 0, -1, mask.shape[0])
    parts = []
    for t in tile_windows(*mask.shape, size, halo=0):
        r = slice(int(t.core.row_off), int(t.core.row_off + t.core.height))
        c = slice(int(t.core.col_off), int(t.core.col_off + t.core.width))
        tr = transform @ Affine.translation(t.core.col_off, t.core.row_off)
        parts.append(tile_pieces(mask[r, c], mask[r, c].astype(float), transform=tr,
                                 row_off=int(t.core.row_off), col_off=int(t.core.col_off),
                                 width=mask.shape[1], min_pixels=1))
    return assemble_pieces(parts, min_pixels=3)


def test_assembly_merges_across_seams_and_corners():
    mask = np.zeros((12, 12), bool)
    mask[2:6, 2:10] = True        # crosses the vertical seam at col 6
    mask[7, 5] = mask[8, 6] = True  # diagonal pair across the corner (6, 6)
    mask[8, 7] = True
    mask[10:12, 0:2] = True       # 4 px in a corner tile
    mask[0, 11] = True            # 1 px, dropped
    whole = _pieces_for(mask, 12)
    tiled = _pieces_for(mask, 6)
    assert list(whole["pixels"]) == [32, 3, 4]
    assert list(tiled["pixels"]) == [32, 3, 4]
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(whole["geometry"], tiled["geometry"]))
    assert whole["geometry"][0].area == 32
    assert whole["geometry"][1].geom_type == "MultiPolygon"  # 8-connected through a corner


def _seam_scene(tmp_path):
    """A 512 x 512 crop field with roofs across the 256 and 128 window seams and corners."""
    rng = np.random.default_rng(11)
    base = np.asarray(SPECTRA["crop"], np.float32)[:, None, None] * 10000
    before = np.broadcast_to(base, (4, 512, 512)).copy()
    after = before.copy()
    roofs = [(250, 262, 100, 140), (120, 140, 250, 262), (250, 262, 250, 262),  # seams, corner
             (380, 390, 120, 136), (60, 72, 380, 400), (126, 134, 126, 134)]
    names = ["concrete", "white", "blue_steel", "red_tile", "dark", "concrete"]
    for (r0, r1, c0, c1), name in zip(roofs, names):
        after[:, r0:r1, c0:c1] = np.asarray(SPECTRA[name], np.float32)[:, None, None] * 10000
    before += rng.normal(0, 40, before.shape)
    after += rng.normal(0, 40, after.shape)
    b = write_tif(tmp_path / "b.tif", np.clip(before, 1, None).astype(np.uint16))
    a = write_tif(tmp_path / "a.tif", np.clip(after, 1, None).astype(np.uint16))
    return b, a, roofs


def test_patches_identical_for_any_window_size(tmp_path):
    b, a, roofs = _seam_scene(tmp_path)
    whole = weipian.detect(b, a, window_size=None)
    assert len(whole) >= 1
    # sizes are rounded to whole network tiles (256 px): 100 and 128 run as 256
    for size in (256, 128, 100):
        tiled = weipian.detect(b, a, window_size=size, workers=2)
        assert list(tiled.patch_id) == list(whole.patch_id)
        assert all(shapely.equals_exact(x, y, 0) for x, y in zip(tiled.geometry, whole.geometry))
        assert tiled.drop(columns="geometry").equals(whole.drop(columns="geometry"))


def test_same_result_with_processes(tmp_path):
    b, a, _ = _seam_scene(tmp_path)
    threads = weipian.detect(b, a, window_size=128, workers=2)
    procs = weipian.detect(b, a, window_size=128, workers=2, scheduler="processes")
    assert threads.drop(columns="geometry").equals(procs.drop(columns="geometry"))


def test_bad_scheduler(tmp_path):
    b, a, _ = _seam_scene(tmp_path)
    with pytest.raises(weipian.errors.WeipianError, match="scheduler was 'gpu'"):
        weipian.detect(b, a, scheduler="gpu")


def test_resume_reuses_finished_windows(tmp_path):
    b, a, _ = _seam_scene(tmp_path)
    work = tmp_path / "work"
    first = weipian.detect(b, a, window_size=256, work_dir=work)
    finished = sorted(p.name for p in work.glob("r*.pkl"))
    assert len(finished) == 4
    # simulate an interruption: two windows lost, one left corrupt
    for name in finished[:2]:
        (work / name).unlink()
    (work / finished[2]).write_bytes(b"cut sho")
    stamp = {name: (work / name).stat().st_mtime_ns for name in finished[3:]}
    again = weipian.detect(b, a, window_size=128, work_dir=work, resume=True)
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert all((work / n).stat().st_mtime_ns == t for n, t in stamp.items())  # not redone
    with pytest.raises(weipian.errors.WeipianError, match="other inputs or settings"):
        weipian.detect(b, a, window_size=512, work_dir=work, resume=True)
