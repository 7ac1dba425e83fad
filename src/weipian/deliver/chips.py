"""Evidence chips (举证): before/after image pairs for every patch.

Chips are grouped by the image block they lie in and each block is read
once for all its chips (never a whole-image read, never one read per
patch); they are rendered and encoded in parallel, shown in true colour
with a robust 2–98 % stretch computed once per epoch from sample windows
spread over the whole image (so chips of one batch are comparable), and
carry the patch outline, a scale bar, a north arrow, the patch id and the
dates.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from rasterio.windows import Window, from_bounds
from rasterio.windows import union as windows_union

from ..io import PairReader, PairSpec, atomic_path
from .tables import safe_filename

__all__ = ["epoch_stretch", "stretch_from_record", "render_chip", "make_chips", "chip_window", "CHIP_BLOCK"]

CHIP_PIXELS = 256


def epoch_stretch(reader: PairReader, *, low: float = 2.0, high: float = 98.0) -> dict:
    """Per-epoch, per-band stretch limits from sample windows over the whole image.

    Returns
    -------
    dict
        ``{"before": (3, 2) array, "after": (3, 2) array}``: low/high for red,
        green, blue.
    """
    from ..engine.pair_model import sample_tiles

    rgb = [reader.roles[r] for r in ("red", "green", "blue")]
    values = {"before": [], "after": []}
    for tile in sample_tiles(*reader.shape):
        b, a, v = reader.read(tile.core)
        if v.any():
            values["before"].append(b[rgb][:, v])
            values["after"].append(a[rgb][:, v])
    out = {}
    for epoch, parts in values.items():
        data = np.concatenate(parts, axis=1) if parts else np.zeros((3, 2))
        out[epoch] = np.percentile(data, [low, high], axis=1).T
    return out


def stretch_from_record(record: dict) -> dict | None:
    """The chip stretch from a detection record's input levels, or None when it has none.

    Detection already measures each epoch's 2nd and 98th percentiles per band
    on the same sample windows (:class:`weipian.engine.pair_model.PairModel`,
    ``levels`` in ``run.json``), to stretch the network's input; chips and the
    report reuse them instead of reading the samples again.

    Parameters
    ----------
    record : dict
        ``attrs["weipian"]`` of detected or judged patches (``levels`` and
        ``band_roles``).

    Returns
    -------
    dict or None
        As :func:`epoch_stretch`.
    """
    levels, roles = record.get("levels"), record.get("band_roles")
    if not levels or not roles or not all(r in roles for r in ("red", "green", "blue")):
        return None
    rgb = [roles[r] for r in ("red", "green", "blue")]
    out = {epoch: np.asarray(levels.get(epoch) or (), float) for epoch in ("before", "after")}
    if any(v.ndim != 2 or v.shape[0] <= max(rgb) for v in out.values()):
        return None
    return {epoch: v[rgb] for epoch, v in out.items()}


def _to_rgb8(image: np.ndarray, limits: np.ndarray) -> np.ndarray:
    lo, hi = limits[:, 0][:, None, None], limits[:, 1][:, None, None]
    scaled = (image - lo) / np.maximum(hi - lo, 1e-6)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


def _nice_length(metres: float) -> float:
    exp = 10 ** math.floor(math.log10(max(metres, 1e-9)))
    for m in (5, 2, 1):
        if m * exp <= metres:
            return m * exp
    return exp


def render_chip(rgb: np.ndarray, outline_px: list, *, metres_per_px: float, title: str):
    """Draw one chip: outline, scale bar, north arrow and a title.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray of uint8
    outline_px : list of (K, 2) arrays
        Rings in pixel coordinates (col, row) of ``rgb``.
    metres_per_px : float
        Ground size of one pixel of ``rgb``.
    title : str

    Returns
    -------
    PIL.Image.Image
    """
    import cv2
    from PIL import Image, ImageDraw

    zoom = CHIP_PIXELS / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * zoom)), max(1, round(rgb.shape[0] * zoom)))
    # bilinear when enlarged (the usual case), pixel-area averaging when a large patch is shrunk
    img = Image.fromarray(cv2.resize(np.ascontiguousarray(rgb), size,
                                     interpolation=cv2.INTER_LINEAR if zoom >= 1 else cv2.INTER_AREA), "RGB")
    draw = ImageDraw.Draw(img)
    for ring in outline_px:
        pts = [(float(x) * zoom, float(y) * zoom) for x, y in ring]
        if len(pts) > 2:
            draw.line(pts + [pts[0]], fill=(255, 255, 0), width=2)
    # scale bar: a round length about a quarter of the width
    m_per_screen_px = metres_per_px / zoom
    length_m = _nice_length(img.width / 4 * m_per_screen_px)
    bar = length_m / m_per_screen_px
    x0, y0 = 8, img.height - 12
    draw.rectangle([x0 - 3, y0 - 14, x0 + bar + 3, y0 + 5], fill=(0, 0, 0))
    draw.line([x0, y0, x0 + bar, y0], fill=(255, 255, 255), width=3)
    _draw_label(img, (x0, y0 - 13), f"{length_m:g} m")
    # north arrow
    nx, ny = img.width - 16, 10
    draw.polygon([(nx, ny), (nx - 6, ny + 16), (nx + 6, ny + 16)], fill=(255, 255, 255),
                 outline=(0, 0, 0))
    _draw_label(img, (nx - 3, ny + 17), "N")
    draw.rectangle([0, 0, min(img.width, 8 + 7 * len(title)), 14], fill=(0, 0, 0))
    draw.text((4, 2), title, fill=(255, 255, 255), font=_font())
    return img


@functools.lru_cache(maxsize=1)
def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


@functools.lru_cache(maxsize=64)
def _label_mask(text: str):
    """White ``text`` in the default font as an ``L`` mask and its offset.

    Cached: the scale-bar lengths and the north arrow's "N" repeat on every chip.
    """
    from PIL import Image, ImageDraw

    left, top, right, bottom = _font().getbbox(text)
    mask = Image.new("L", (max(1, right - min(left, 0)), max(1, bottom - min(top, 0))), 0)
    ImageDraw.Draw(mask).text((-min(left, 0), -min(top, 0)), text, fill=255, font=_font())
    return mask, (min(left, 0), min(top, 0))


def _draw_label(img, xy: tuple, text: str) -> None:
    """Draw white ``text`` at ``xy`` as ``ImageDraw.text`` would, from a cached bitmap."""
    mask, (dx, dy) = _label_mask(text)
    img.paste((255, 255, 255), (int(xy[0] + dx), int(xy[1] + dy)), mask)


def chip_window(geom, transform, shape, *, margin: float = 0.6, min_size_m: float = 40.0) -> Window:
    """The read window of one patch's chip: its bounds grown by ``margin``, at least ``min_size_m``."""
    minx, miny, maxx, maxy = geom.bounds
    size = max(maxx - minx, maxy - miny, min_size_m) * (1 + margin)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    win = from_bounds(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2,
                      transform).round_offsets().round_lengths()
    return win.intersection(Window(0, 0, shape[1], shape[0]))


def _rings_px(geom, transform, win: Window) -> list:
    """Rings of a patch in pixel coordinates (col, row) of its chip window."""
    import shapely

    inv = ~transform
    rings = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            xy = shapely.get_coordinates(ring)
            col, row = inv @ (xy[:, 0], xy[:, 1])
            rings.append(np.column_stack([col - win.col_off, row - win.row_off]))
    return rings


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """``(B, M, N)`` averaged over ``f`` × ``f`` blocks, the last partial rows and columns dropped."""
    from ..learn.resolution import block_mean

    rows, cols = max(1, x.shape[1] // f) * f, max(1, x.shape[2] // f) * f
    return block_mean(x[:, :rows, :cols], f) if x.shape[1] >= f and x.shape[2] >= f else x


def _png_params() -> list:
    """OpenCV's libpng with the "up" filter on every row and Huffman coding only.

    Chips are imagery enlarged about 3× (smooth down the columns): this writes
    them in half the time of zlib's run-length strategy with adaptive filters
    (3.9 ms against 7.9 ms a chip on this project's 2-core machine, files
    about 35 % larger, about 150 kB), lossless like any PNG.
    """
    import cv2

    return [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
            cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


#: JPEG quality of the chip previews embedded in report.html (the chips themselves are lossless PNG).
PREVIEW_QUALITY = 85


def _write_chip(path: Path, b, a, rgb_idx, stretch, rings, res, pid, dates,
                preview: bool = False) -> tuple[Path, bytes | None]:
    """Render the before | after chip of one patch and write it as PNG (atomically).

    Returns the path and, with ``preview``, the chip encoded as JPEG
    (:data:`PREVIEW_QUALITY`; about a seventh of the PNG's bytes) for the
    report, else None.
    """
    import cv2
    from PIL import Image

    panels = []
    for epoch, data, date in (("before", b, dates[0]), ("after", a, dates[1])):
        rgb = _to_rgb8(data[rgb_idx], stretch[epoch])
        panels.append(render_chip(rgb, rings, metres_per_px=res, title=f"{pid} {epoch} {date}"))
    canvas = Image.new("RGB", (panels[0].width * 2 + 6, panels[0].height), (255, 255, 255))
    canvas.paste(panels[0], (0, 0))
    canvas.paste(panels[1], (panels[0].width + 6, 0))
    bgr = np.asarray(canvas)[:, :, ::-1]
    ok, data = cv2.imencode(".png", bgr, _png_params())
    if not ok:  # pragma: no cover - libpng refuses only on out-of-memory
        raise OSError(f"{path}: the chip could not be encoded as PNG")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())
    if not preview:
        return path, None
    return path, cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])[1].tobytes()


#: Side (pixels) of the blocks chips are grouped by: each block's chips share one read.
CHIP_BLOCK = 1024


def _chip_groups(windows: list, block: int) -> list[list[int]]:
    """Patch indices grouped by the block their chip window's centre falls in (row-major order).

    A chip whose window is larger than ``block`` is a group of its own, so a
    read never spans much more than one block plus one chip.
    """
    groups: dict = {}
    for i, w in enumerate(windows):
        if w.height > block or w.width > block:
            groups[("own", i)] = [i]
            continue
        key = (int((w.row_off + w.height / 2) // block), int((w.col_off + w.width / 2) // block))
        groups.setdefault(key, []).append(i)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0] == "own", k))]


def make_chips(patches, before, after, directory, *, bands=None, margin: float = 0.6,
               min_size_m: float = 40.0, stretch: dict | None = None, workers: int | None = None,
               block: int = CHIP_BLOCK, max_side: int | None = None,
               previews: dict | None = None) -> dict[str, Path]:
    """Write ``<directory>/<patch_id>.png`` for every patch (before | after side by side).

    Patches are grouped by the ``block`` × ``block`` pixel block their chip
    lies in; each group's pixels are read once (the union of its chip
    windows) and its chips rendered and encoded on ``workers`` threads, so a
    county batch of thousands of patches reads each part of the image about
    once and holds one block in memory, not the patch count.

    Parameters
    ----------
    patches : GeoDataFrame
        Judged patches in the imagery CRS.
    before, after : str or Path
    directory : str or Path
    bands : str, optional
    margin : float
        Context around the patch, as a share of its size.
    min_size_m : float
        Smallest ground extent of a chip, metres.
    stretch : dict, optional
        From :func:`epoch_stretch`; computed when not given.
    workers : int, optional
        Threads rendering and encoding (default: all cores).
    block : int
        Side of the read blocks in pixels.
    max_side : int, optional
        Chip windows larger than this many pixels are averaged over whole
        pixel blocks down to at most this side before they are drawn (a
        farmland parcel's chip needs no more than the 256 px it is shown at);
        None draws every chip from the full-resolution pixels.
    previews : dict, optional
        Filled with patch id to the chip as JPEG bytes (:data:`PREVIEW_QUALITY`),
        for a report that embeds them; None encodes no previews.

    Returns
    -------
    dict
        Patch id to chip path, in the patches' order.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with PairReader(PairSpec(str(before), str(after), bands)) as reader:
        stretch = stretch or epoch_stretch(reader)
        rgb_idx = [reader.roles[r] for r in ("red", "green", "blue")]
        res = abs(reader.transform.a)
        geoms = list(patches.to_crs(reader.crs).geometry if patches.crs != reader.crs else patches.geometry)
        ids = [str(p) for p in patches["patch_id"]]
        blank = [""] * len(patches)
        dates = list(zip(patches.get("before_date", blank), patches.get("after_date", blank)))
        windows = [chip_window(g, reader.transform, reader.shape, margin=margin, min_size_m=min_size_m)
                   for g in geoms]
        paths: dict[str, Path] = {}
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            for group in _chip_groups(windows, block):
                union = windows_union(*(windows[i] for i in group))
                b_all, a_all, _ = reader.read(union)
                jobs = []
                for i in group:
                    w = windows[i]
                    r0, c0 = int(w.row_off - union.row_off), int(w.col_off - union.col_off)
                    rows, cols = slice(r0, r0 + int(w.height)), slice(c0, c0 + int(w.width))
                    b, a = b_all[:, rows, cols], a_all[:, rows, cols]
                    rings = _rings_px(geoms[i], reader.transform, w)
                    f = -(-max(b.shape[1:]) // max_side) if max_side else 1
                    if f > 1:
                        b, a = _block_mean(b, f), _block_mean(a, f)
                        rings = [ring / f for ring in rings]
                    jobs.append(pool.submit(_write_chip, directory / f"{safe_filename(ids[i])}.png", b, a,
                                            rgb_idx, stretch, rings, res * f, ids[i], dates[i],
                                            previews is not None))
                for i, job in zip(group, jobs):  # one block's chips finished before the next is read
                    paths[ids[i]], jpeg = job.result()
                    if previews is not None:
                        previews[ids[i]] = jpeg
    return {pid: paths[pid] for pid in ids}
