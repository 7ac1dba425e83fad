"""Training crops: rescaling, nuisances of real batches, synthetic change.

Pure array functions driven by a ``numpy.random.Generator``, so a seed
gives the same crops. Arrays are the stretched ``(4, M, N)`` float32 bands
of :mod:`weipian.learn.samples`; labels are ``(M, N)`` uint8 with
:data:`~weipian.learn.samples.IGNORE` for unknown truth.

- :func:`rescaled_crop` cuts a crop at a random ground sampling distance in
  the training range (the network sees its GSD as an input channel).
- :func:`nuisance` applies what differs between epochs without any change:
  gain/offset, sub-pixel shift, blur, haze, seasonal colour of vegetation.
- :func:`synthetic_pair` makes a change pair out of one real image: building
  footprints cut from real building tiles are pasted into the after epoch
  (optionally recoloured as blue colour-steel or red tile roofs), new road
  segments drawn, bare-soil patches laid (change, but not construction);
  exchanging the epochs turns the buildings into demolitions.
"""

from __future__ import annotations

import cv2
import numpy as np

from .samples import IGNORE, BuildingTile, LabelledPair

__all__ = ["rescaled_crop", "nuisance", "synthetic_pair", "exchange", "GSD_RANGE"]

#: Ground sampling distances (metres) the network is trained for.
GSD_RANGE = (0.3, 10.0)


def _resize(array: np.ndarray, size: int, *, labels: bool = False) -> np.ndarray:
    """Resize a (B, M, N) float or (M, N) label array to size × size."""
    if labels:
        known = (array != IGNORE).astype(np.float32)
        pos = (array == 1).astype(np.float32)
        interp = cv2.INTER_AREA if array.shape[0] > size else cv2.INTER_LINEAR
        k = cv2.resize(known, (size, size), interpolation=interp)
        p = cv2.resize(pos, (size, size), interpolation=interp)
        out = (p >= 0.5).astype(np.uint8)
        out[k < 0.999] = IGNORE
        return out
    interp = cv2.INTER_AREA if array.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(band, (size, size), interpolation=interp) for band in array])


def rescaled_crop(pair: LabelledPair, size: int, rng: np.random.Generator, *,
                  gsd_range=GSD_RANGE, max_zoom_out: float = 4.0):
    """A random square crop at a random GSD, resized to ``size``.

    The GSD is drawn log-uniformly between ``0.8 ×`` and ``max_zoom_out ×``
    the pair's own, within ``gsd_range``.

    Returns
    -------
    before, after : (4, size, size) float32
    any_change, construction : (size, size) uint8
    gsd_m : float
    """
    lo = max(gsd_range[0], pair.gsd_m * 0.8)
    hi = min(gsd_range[1] * 1.2, pair.gsd_m * max_zoom_out)
    hi = max(hi, lo)
    gsd = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    rows, cols = pair.any_change.shape
    side = int(round(size * gsd / pair.gsd_m))
    side = max(8, min(side, rows, cols))
    gsd = pair.gsd_m * side / size
    # prefer crops that hold change: half the time centre on a changed pixel
    changed = np.flatnonzero(pair.any_change.ravel() == 1)
    if changed.size and rng.random() < 0.5:
        r, c = divmod(int(changed[rng.integers(changed.size)]), cols)
        r0 = int(np.clip(r - rng.integers(side), 0, rows - side))
        c0 = int(np.clip(c - rng.integers(side), 0, cols - side))
    else:
        r0, c0 = int(rng.integers(rows - side + 1)), int(rng.integers(cols - side + 1))
    rs, cs = slice(r0, r0 + side), slice(c0, c0 + side)
    out = (_resize(pair.before[:, rs, cs], size), _resize(pair.after[:, rs, cs], size),
           _resize(pair.any_change[rs, cs], size, labels=True),
           _resize(pair.construction[rs, cs], size, labels=True))
    return (*_flip_rotate(out, rng), gsd)


def _flip_rotate(arrays, rng):
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    out = []
    for a in arrays:
        a = np.rot90(a, k, axes=(-2, -1))
        if flip:
            a = a[..., ::-1]
        out.append(np.ascontiguousarray(a))
    return out


def nuisance(image: np.ndarray, rng: np.random.Generator, *, has_nir: bool = True,
             strength: float = 1.0) -> np.ndarray:
    """Apply the differences of an unchanged scene between two dates.

    Per-band gain and offset, a sub-pixel shift (≤ 1.5 px), blur, haze and a
    seasonal change of vegetation colour, each drawn at random.

    Parameters
    ----------
    image : (4, M, N) ndarray of float32
    rng : numpy.random.Generator
    has_nir : bool
        Whether band 3 is real (vegetation is found from it, else from green).
    strength : float
        Scales every effect (0: none).

    Returns
    -------
    (4, M, N) ndarray of float32
    """
    out = image.astype(np.float32, copy=True)
    s = strength
    if rng.random() < 0.5 * s + 0.2:  # season: vegetation greener or browner
        veg = (out[3] - out[0] > 0.15) if has_nir else (out[1] - out[0] > 0.03)
        if veg.any():
            factors = rng.uniform(0.75, 1.25, size=4).astype(np.float32)
            for b in range(4):
                out[b][veg] *= factors[b]
    gain = rng.normal(1.0, 0.12 * s, size=(4, 1, 1)).astype(np.float32)
    offset = rng.normal(0.0, 0.06 * s, size=(4, 1, 1)).astype(np.float32)
    out = out * gain + offset
    if rng.random() < 0.5 * s:
        dy, dx = rng.uniform(-1.5, 1.5, size=2) * s
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        out = np.stack([cv2.warpAffine(b, m, b.shape[::-1], borderMode=cv2.BORDER_REFLECT)
                        for b in out])
    if rng.random() < 0.3 * s:
        sigma = float(rng.uniform(0.4, 1.2))
        out = np.stack([cv2.GaussianBlur(b, (0, 0), sigma) for b in out])
    if rng.random() < 0.25 * s:
        h = float(rng.uniform(0.05, 0.3))
        out = out * (1 - h) + h * rng.uniform(0.6, 1.0)
    if not has_nir:
        out[3] = 0.0
    return np.clip(out, -0.5, 1.5).astype(np.float32)


def exchange(before, after, any_change, construction):
    """Swap the epochs: new construction becomes demolition (construction 0)."""
    swapped = np.where(construction == 1, 0, construction).astype(np.uint8)
    swapped[(construction == IGNORE) | (any_change == IGNORE)] = IGNORE
    # where construction was unknown the swapped truth stays unknown
    return after, before, any_change, swapped


#: Roof colours (red, green, blue; stretched 0–1 units) typical of new rural
#: construction in China: blue colour-steel, red/orange tile, white, grey.
_ROOF_COLOURS = np.float32([[0.15, 0.35, 0.85], [0.25, 0.45, 0.9], [0.75, 0.3, 0.2],
                            [0.85, 0.45, 0.25], [0.95, 0.95, 0.95], [0.6, 0.6, 0.62]])


def _building_pieces(tile: BuildingTile, rng, scale: float, count: int):
    """Cut ``count`` footprints (image, mask) from a tile at ``scale``."""
    n, comp, stats, _ = cv2.connectedComponentsWithStats(tile.mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return []
    pieces = []
    for label in rng.integers(1, n, size=count):
        x, y, w, h, area = stats[label]
        if area < 20:
            continue
        m = comp[y:y + h, x:x + w] == label
        img = tile.image[:, y:y + h, x:x + w]
        nh, nw = max(2, int(round(h * scale))), max(2, int(round(w * scale)))
        if nh > 80 or nw > 80:
            continue
        m = cv2.resize(m.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA) >= 0.5
        if m.sum() < 4:
            continue
        img = np.stack([cv2.resize(b, (nw, nh), interpolation=cv2.INTER_AREA) for b in img])
        pieces.append((img, m))
    return pieces


def _paste(target: np.ndarray, img: np.ndarray, mask: np.ndarray, rng, recolour: bool):
    _, rows, cols = target.shape
    h, w = mask.shape
    if h >= rows or w >= cols:
        return None
    r0, c0 = int(rng.integers(rows - h)), int(rng.integers(cols - w))
    piece = img.copy()
    if recolour:
        colour = _ROOF_COLOURS[rng.integers(len(_ROOF_COLOURS))] * rng.uniform(0.85, 1.1)
        texture = piece[:3].mean(0, keepdims=True)
        texture = 1.0 + 0.3 * (texture - texture.mean())
        piece[:3] = colour[:, None, None] * texture
        piece[3] = rng.uniform(0.15, 0.45)  # roofs reflect little near-infrared
    region = target[:, r0:r0 + h, c0:c0 + w]
    region[:, mask] = piece[:, mask]
    full = np.zeros((rows, cols), bool)
    full[r0:r0 + h, c0:c0 + w] = mask
    return full


def _road(shape, rng, width_px: float) -> np.ndarray:
    rows, cols = shape
    canvas = np.zeros(shape, np.uint8)
    points = rng.uniform(0, 1, size=(int(rng.integers(2, 4)), 2)) * [cols, rows]
    cv2.polylines(canvas, [points.astype(np.int32)], False, 1, thickness=max(1, int(round(width_px))))
    return canvas.astype(bool)


def _blob(shape, rng, radius_px: float) -> np.ndarray:
    rows, cols = shape
    canvas = np.zeros(shape, np.uint8)
    centre = rng.uniform(0, 1, 2) * [cols, rows]
    angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
    radii = radius_px * rng.uniform(0.5, 1.0, 7)
    pts = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], 1)
    cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
    return canvas.astype(bool)


def synthetic_pair(image: np.ndarray, gsd_m: float, buildings: list[BuildingTile],
                   rng: np.random.Generator, *, has_nir: bool = True):
    """Make a labelled change pair from one real image.

    Parameters
    ----------
    image : (4, M, N) float32
        A real epoch (stretched bands).
    gsd_m : float
        Its pixel size.
    buildings : list of BuildingTile
        Sources of real building footprints.
    rng : numpy.random.Generator
    has_nir : bool

    Returns
    -------
    before, after : (4, M, N) float32
    any_change, construction : (M, N) uint8
    """
    before = image
    after = image.copy()
    shape = image.shape[1:]
    built = np.zeros(shape, bool)
    soil = np.zeros(shape, bool)
    if buildings and rng.random() < 0.85:
        tile = buildings[int(rng.integers(len(buildings)))]
        scale = tile.gsd_m / gsd_m * rng.uniform(0.8, 1.25)
        for img, mask in _building_pieces(tile, rng, scale, int(rng.integers(1, 8))):
            placed = _paste(after, img, mask, rng, recolour=rng.random() < 0.4)
            if placed is not None:
                built |= placed
    if rng.random() < 0.35:  # new road 4–12 m wide, concrete or asphalt
        road = _road(shape, rng, rng.uniform(4, 12) / gsd_m)
        tone = rng.uniform(0.3, 0.9)
        after[:3, road] = tone + rng.normal(0, 0.03, size=(3, int(road.sum()))).astype(np.float32)
        after[3, road] = tone * 0.8
        built |= road
    if rng.random() < 0.3:  # bare soil: cleared or harvested ground, not construction
        blob = _blob(shape, rng, rng.uniform(8, 40) / gsd_m)
        colour = np.float32([rng.uniform(0.45, 0.75), rng.uniform(0.35, 0.6), rng.uniform(0.25, 0.45),
                             rng.uniform(0.3, 0.5)])
        after[:, blob] = colour[:, None] + rng.normal(0, 0.03, size=(4, int(blob.sum()))).astype(np.float32)
        soil = blob & ~built
    after = nuisance(after, rng, has_nir=has_nir)
    if not has_nir:
        after[3] = 0.0
    any_change = (built | soil).astype(np.uint8)
    construction = built.astype(np.uint8)
    if rng.random() < 0.3:
        return exchange(before, after, any_change, construction)
    return before, after, any_change, construction
