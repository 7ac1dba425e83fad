"""Synthetic sample batches with known truth, and the bundled sample data.

:func:`generate_scene` builds a rural/peri-urban district at 1 m: a road grid,
field parcels (crops, paddies, fallow, grass, forest, ponds) and villages,
seen at two epochs with the nuisances of real batches — harvest and planting,
flooded paddies, dry-season grass, demolished buildings, a different per-band
gain and offset in the after image, a sub-pixel shift between epochs, sensor
blur and noise — and with new structures of every roof type (concrete, blue
colour-steel, white, red tile, dark) from 8 m × 8 m up plus a new road. The
structures are placed on farmland, reserve land, approved land, valid and
expired temporary-use approvals, government projects and other land, so
their correct label is known by construction, and the six reference layers
are written to match.

Run ``python -m weipian.testing.scenes DIR`` to write the sample batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio import features
from scipy import ndimage
from shapely.geometry import box

__all__ = ["Scene", "SPECTRA", "ROOF_TYPES", "generate_scene", "write_scene", "write_large_pair",
           "sample_paths"]

#: Reflectance (blue, green, red, nir) of each surface, from typical library spectra.
SPECTRA = {
    "crop": (0.035, 0.075, 0.045, 0.38),
    "grass": (0.040, 0.085, 0.060, 0.33),
    "forest": (0.030, 0.050, 0.035, 0.30),
    "soil": (0.090, 0.130, 0.170, 0.23),
    "stubble": (0.075, 0.105, 0.135, 0.22),
    "dry_grass": (0.070, 0.100, 0.130, 0.21),
    "water": (0.060, 0.070, 0.050, 0.025),
    "yard": (0.120, 0.140, 0.160, 0.20),
    "asphalt": (0.090, 0.100, 0.110, 0.13),
    "rubble": (0.140, 0.160, 0.180, 0.21),
    "concrete": (0.200, 0.220, 0.230, 0.25),
    "blue_steel": (0.220, 0.170, 0.090, 0.12),
    "white": (0.480, 0.500, 0.500, 0.50),
    "red_tile": (0.070, 0.080, 0.210, 0.27),
    "dark": (0.045, 0.050, 0.050, 0.06),
    "new_road": (0.150, 0.165, 0.175, 0.19),
}

#: Roof types of new structures.
ROOF_TYPES = ("concrete", "blue_steel", "white", "red_tile", "dark")

#: Where a new structure is placed, and the label the rules must give it.
PLACEMENTS = {
    "farmland": "violation",
    "reserve": "violation",
    "approved": "approved",
    "temporary_valid": "temporary_use",
    "temporary_expired": "violation",
    "government": "government_project",
    "other": "violation",
}

BEFORE_DATE = dt.date(2024, 3, 15)
AFTER_DATE = dt.date(2024, 6, 20)
CRS = "EPSG:4547"  # CGCS2000 3-degree Gauss-Kruger CM 114E
ORIGIN = (452_000.0, 2_508_000.0)  # upper-left corner, Shenzhen area


@dataclass
class Scene:
    """A generated bi-temporal batch.

    Attributes
    ----------
    before, after : (4, M, N) ndarray of uint16
        Blue, green, red, nir; reflectance × 10000 (after: with its own
        per-band gain and offset).
    transform : affine.Affine
    crs : str
    layers : dict of GeoDataFrame
        ``farmland``, ``reserve``, ``approved``, ``temporary``,
        ``government``, ``townships`` in ``crs``.
    truth : GeoDataFrame
        New structures and the new road, with ``kind``, ``placement`` and
        ``expected_label``.
    truth_mask : (M, N) ndarray of bool
        The same as pixels.
    before_date, after_date : datetime.date
    shift : tuple of float
        True ``(dy, dx)`` of the after image relative to the before, pixels.
    gain, offset : (4,) ndarray
        True radiometric difference of the after image.
    nuisances : dict
        Counts of harvested, planted, flooded, dried and demolished objects.
    obscured : (M, N) ndarray of bool
        Pixels under a cloud or its shadow in either epoch.
    """

    before: np.ndarray
    after: np.ndarray
    transform: Affine
    crs: str
    layers: dict
    truth: gpd.GeoDataFrame
    truth_mask: np.ndarray
    before_date: dt.date
    after_date: dt.date
    shift: tuple
    gain: np.ndarray
    offset: np.ndarray
    nuisances: dict = field(default_factory=dict)
    obscured: np.ndarray | None = None


class _Objects:
    """Painter's list of scene objects with a surface per epoch."""

    def __init__(self):
        self.geoms: list = []
        self.before: list[str] = []
        self.after: list[str] = []
        self.jitter: list = []

    def add(self, geom, before: str, after: str, jitter) -> int:
        self.geoms.append(geom)
        self.before.append(before)
        self.after.append(after)
        self.jitter.append(jitter)
        return len(self.geoms)  # ids start at 1


def _split(rect, rng, min_size, max_size, gap):
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    if max(w, h) <= max_size and (min(w, h) < 2 * min_size or rng.random() < 0.4):
        return [(x0 + gap / 2, y0 + gap / 2, x1 - gap / 2, y1 - gap / 2)]
    if w >= h and w >= 2 * min_size:
        cut = x0 + w * rng.uniform(0.3, 0.7)
        return _split((x0, y0, cut, y1), rng, min_size, max_size, gap) + _split(
            (cut, y0, x1, y1), rng, min_size, max_size, gap
        )
    if h >= 2 * min_size:
        cut = y0 + h * rng.uniform(0.3, 0.7)
        return _split((x0, y0, x1, cut), rng, min_size, max_size, gap) + _split(
            (x0, cut, x1, y1), rng, min_size, max_size, gap
        )
    return [(x0 + gap / 2, y0 + gap / 2, x1 - gap / 2, y1 - gap / 2)]


def _grid_lines(length, rng, spacing=(260, 420)):
    lines, pos = [], rng.uniform(60, spacing[0])
    while pos < length - 60:
        lines.append(pos)
        pos += rng.uniform(*spacing)
    return lines


def _structure(rng, centre, size, angle):
    w, h = size
    rect = box(-w / 2, -h / 2, w / 2, h / 2)
    rect = shapely.affinity.rotate(rect, angle, origin=(0, 0))
    return shapely.affinity.translate(rect, *centre)


def _place_in(region, rng, occupied, *, size, tries=60, margin=4.0):
    """A random structure fully inside ``region`` clear of ``occupied``."""
    inner = region.buffer(-margin)
    if inner.is_empty:
        return None
    minx, miny, maxx, maxy = inner.bounds
    for _ in range(tries):
        centre = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        angle = 0.0 if rng.random() < 0.6 else rng.uniform(-40, 40)
        geom = _structure(rng, centre, size, angle)
        if inner.contains(geom) and not occupied.intersects(geom):
            return geom
    return None


def generate_scene(
    shape: tuple[int, int] = (800, 800),
    *,
    rng: int | np.random.Generator | None = 0,
    structures_per_ha: float = 0.3,
    max_shift: float = 1.5,
    clouds: int = 0,
) -> Scene:
    """Generate a bi-temporal batch with known truth.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` at 1 m.
    rng : int or numpy.random.Generator
        Seed; the same seed gives the same scene, byte for byte.
    structures_per_ha : float
        Density of new structures.
    max_shift : float
        Largest misregistration of the after image, pixels (at least 0.3).
    clouds : int
        Cloud banks (with their shadows) to put into the epochs, each in the
        before or the after image; ``Scene.obscured`` marks where.

    Returns
    -------
    Scene

    Examples
    --------
    >>> scene = generate_scene((300, 300), rng=1)
    >>> scene.before.shape, scene.before.dtype.name
    ((4, 300, 300), 'uint16')
    >>> set(scene.truth.expected_label) <= set(PLACEMENTS.values())
    True
    """
    rng = np.random.default_rng(rng)
    rows, cols = shape
    x0, y0 = ORIGIN
    transform = Affine(1.0, 0.0, x0, 0.0, -1.0, y0)
    objs = _Objects()
    blocks, roads, hlines = _road_grid(rows, cols, rng, objs)
    parcels, village_buildings, nuisances = _parcels(blocks, rng, objs)
    occupied = shapely.union_all(village_buildings + roads) if village_buildings else shapely.union_all(roads)
    n_struct = max(len(PLACEMENTS) + 3, int(round(structures_per_ha * rows * cols / 1e4)))
    zone_geoms, taken = _zones(blocks, occupied, n_struct, rng)
    truth_rows, occupied_new = _new_structures(parcels, zone_geoms, taken, occupied, n_struct, rng, objs)
    taken = _new_road(hlines, blocks, taken, occupied_new, zone_geoms, truth_rows, rng, objs)
    before, after, shift, gain, offset, obscured = _render(objs, shape, rng, max_shift, clouds)

    def world(g):
        return shapely.affinity.affine_transform(g, [1, 0, 0, -1, x0, y0])

    truth = gpd.GeoDataFrame(
        {
            "truth_id": np.arange(1, len(truth_rows) + 1),
            "kind": [r[1] for r in truth_rows],
            "placement": [r[2] for r in truth_rows],
            "expected_label": [r[3] for r in truth_rows],
        },
        geometry=[world(r[0]) for r in truth_rows],
        crs=CRS,
    )
    truth_mask = features.rasterize(
        [(r[0], 1) for r in truth_rows], out_shape=shape, transform=_pixel_transform(), dtype="uint8"
    ).astype(bool) if truth_rows else np.zeros(shape, bool)

    layers = _reference_layers(parcels, zone_geoms, world, rng, rows, cols)
    return Scene(
        before=before, after=after, transform=transform, crs=CRS, layers=layers, truth=truth,
        truth_mask=truth_mask, before_date=BEFORE_DATE, after_date=AFTER_DATE, shift=shift,
        gain=gain, offset=offset, nuisances=nuisances, obscured=obscured,
    )


def _jitter(rng) -> np.ndarray:
    """Per-object brightness and per-band colour variation of a surface."""
    return rng.normal(1.0, 0.09) * rng.normal(1.0, 0.035, 4)


_ROAD_WIDTH = 8.0


def _road_grid(rows, cols, rng, objs):
    """Existing asphalt roads on a grid, grass under everything; the blocks between the roads."""
    width = _ROAD_WIDTH
    vlines = _grid_lines(cols, rng)
    hlines = _grid_lines(rows, rng)
    xs = [0.0] + vlines + [float(cols)]
    ys = [0.0] + hlines + [float(rows)]
    blocks = []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            bx0 = xs[i] + (width / 2 if i > 0 else 0)
            bx1 = xs[i + 1] - (width / 2 if i + 1 < len(xs) - 1 else 0)
            by0 = ys[j] + (width / 2 if j > 0 else 0)
            by1 = ys[j + 1] - (width / 2 if j + 1 < len(ys) - 1 else 0)
            blocks.append((bx0, by0, bx1, by1))
    objs.add(box(0, 0, cols, rows), "grass", "grass", _jitter(rng))
    roads = [box(v - width / 2, 0, v + width / 2, rows) for v in vlines]
    roads += [box(0, h - width / 2, cols, h + width / 2) for h in hlines]
    for r in roads:
        objs.add(r, "asphalt", "asphalt", _jitter(rng))
    return blocks, roads, hlines


_COVERS = ["crop", "paddy", "fallow", "grass", "forest", "village", "pond"]
_COVER_WEIGHTS = [0.30, 0.14, 0.12, 0.12, 0.08, 0.17, 0.07]


def _surfaces_of(cover, rng, nuisances):
    """Before and after surface of a parcel, counting the nuisance changes."""
    if cover == "crop":
        if rng.random() < 0.45:
            nuisances["harvested"] += 1
            return "crop", ("soil" if rng.random() < 0.5 else "stubble")
        return "crop", "crop"
    if cover == "paddy":
        u = rng.random()
        before = "crop" if u < 0.6 else "soil"
        after = "water" if u < 0.8 else "crop"
        nuisances["flooded"] += after == "water"
        return before, after
    if cover == "fallow":
        after = "crop" if rng.random() < 0.5 else "soil"
        nuisances["planted"] += after == "crop"
        return "soil", after
    if cover == "grass":
        after = "dry_grass" if rng.random() < 0.6 else "grass"
        nuisances["dried"] += after == "dry_grass"
        return "grass", after
    return {"pond": ("water", "water"), "forest": ("forest", "forest")}.get(cover, ("yard", "yard"))


def _parcels(blocks, rng, objs):
    """Land parcels in every block, village buildings in village parcels."""
    parcels = []  # (geom, cover, object id)
    village_buildings = []
    nuisances = dict(harvested=0, planted=0, flooded=0, dried=0, demolished=0)
    for blk in blocks:
        for rect in _split(blk, rng, 35, 150, 2.0):
            geom = box(*rect)
            if geom.area < 400:
                continue
            cover = rng.choice(_COVERS, p=_COVER_WEIGHTS)
            before, after = _surfaces_of(cover, rng, nuisances)
            oid = objs.add(geom, before, after, _jitter(rng))
            parcels.append((geom, cover, oid))
            if cover == "village":
                village_buildings += _village(geom, rng, objs, nuisances)
    return parcels, village_buildings, nuisances


def _village(geom, rng, objs, nuisances):
    """Rows of existing houses in a village parcel, some demolished to rubble."""
    buildings = []
    gx0, gy0, gx1, gy1 = geom.bounds
    y = gy0 + 3
    while y < gy1 - 11:
        hgt = rng.uniform(8, 16)
        x = gx0 + 3
        while x < gx1 - 11:
            wid = rng.uniform(8, 18)
            if x + wid < gx1 - 3 and y + hgt < gy1 - 3:
                b = box(x, y, x + wid, y + hgt)
                roof = rng.choice(ROOF_TYPES)
                demolish = rng.random() < 0.12
                nuisances["demolished"] += demolish
                objs.add(b, roof, "rubble" if demolish else roof, _jitter(rng))
                buildings.append(b)
            x += wid + rng.uniform(3, 6)
        y += hgt + rng.uniform(3, 6)
    return buildings


def _zones(blocks, occupied, n_struct, rng):
    """Rectangles for the reference layers (reserve, approved, temporary, government)."""
    zone_geoms: dict[str, list] = {k: [] for k in PLACEMENTS if k not in ("farmland", "other")}
    taken = shapely.Polygon()
    n_zones_each = max(1, int(round(n_struct / 14)))
    for kind in zone_geoms:
        made = 0
        for _ in range(200):
            if made >= n_zones_each:
                break
            blk = blocks[rng.integers(len(blocks))]
            bw, bh = blk[2] - blk[0], blk[3] - blk[1]
            zw, zh = rng.uniform(50, 110), rng.uniform(50, 110)
            if bw < zw + 4 or bh < zh + 4:
                continue
            zx = rng.uniform(blk[0] + 2, blk[2] - zw - 2)
            zy = rng.uniform(blk[1] + 2, blk[3] - zh - 2)
            z = box(zx, zy, zx + zw, zy + zh)
            if z.intersects(taken.buffer(10)) or z.intersects(occupied):
                continue
            zone_geoms[kind].append(z)
            taken = taken.union(z)
            made += 1
    return zone_geoms, taken


def _new_structures(parcels, zone_geoms, taken, occupied, n_struct, rng, objs):
    """New roofs in every placement (farmland, zones, other land): the truth."""
    truth_rows = []
    occupied_new = occupied
    placements = list(PLACEMENTS)
    non_village = [p for p in parcels if p[1] != "village"]
    farmland_parcels = [p[0] for p in non_village if p[1] in ("crop", "paddy", "fallow")]
    other_parcels = [p[0] for p in non_village if p[1] in ("grass", "forest")]
    for i in range(n_struct):
        placement = placements[i % len(placements)]
        roof = ROOF_TYPES[(i // len(placements) + i) % len(ROOF_TYPES)]
        side = 8 + rng.gamma(2.0, 5.0)
        size = (min(side * rng.uniform(1.0, 1.8), 60), min(side, 40))
        if placement in zone_geoms:
            regions = zone_geoms[placement]
        elif placement == "farmland":
            regions = farmland_parcels
        else:
            regions = other_parcels
        if not regions:
            continue
        geom = None
        for _ in range(8):
            region = regions[rng.integers(len(regions))]
            if placement in ("farmland", "other"):
                region = region.difference(taken.buffer(6))
                if region.is_empty:
                    continue
            geom = _place_in(region, rng, occupied_new.buffer(6), size=size)
            if geom is not None:
                break
        if geom is None:
            continue
        objs.add(geom, "", roof, _jitter(rng))
        occupied_new = occupied_new.union(geom)
        truth_rows.append((geom, roof, placement, PLACEMENTS[placement]))
    return truth_rows, occupied_new


def _new_road(hlines, blocks, taken, occupied_new, zone_geoms, truth_rows, rng, objs):
    """A new road through a government-project corridor (added to the zones and the truth)."""
    road_zone = None
    if hlines:
        yc = hlines[rng.integers(len(hlines))]
        for blk in blocks:
            if blk[3] <= yc - 30 and blk[3] - blk[1] > 70 and blk[2] - blk[0] > 120:
                ry = blk[3] - 30
                corridor = box(blk[0] + 5, ry - 8, blk[0] + min(400, blk[2] - blk[0] - 10), ry + 8)
                if not corridor.intersects(taken.buffer(6)) and not corridor.intersects(occupied_new):
                    road_zone = corridor
                    break
    if road_zone is not None:
        zx0, zy0, zx1, zy1 = road_zone.bounds
        road = box(zx0 + 4, zy0 + 4.5, zx1 - 4, zy1 - 4.5)
        objs.add(road, "", "new_road", _jitter(rng))
        zone_geoms["government"].append(road_zone)
        taken = taken.union(road_zone)
        truth_rows.append((road, "new_road", "government", "government_project"))
    return taken


def _render(objs, shape, rng, max_shift, clouds):
    """Both epochs as sensor DNs: textures, season, clouds, misregistration, gain and offset."""
    ids_before = features.rasterize([(g, i + 1) for i, g in enumerate(objs.geoms) if objs.before[i]],
                                    out_shape=shape, transform=_pixel_transform(), dtype="int32")
    ids_after = features.rasterize([(g, i + 1) for i, g in enumerate(objs.geoms)], out_shape=shape,
                                   transform=_pixel_transform(), dtype="int32")

    def table(surfaces):
        t = np.zeros((len(objs.geoms) + 1, 4), np.float32)
        rough = np.zeros(len(objs.geoms) + 1, np.float32)
        for k, name in enumerate(surfaces):
            if name:
                t[k + 1] = np.asarray(SPECTRA[name]) * objs.jitter[k]
                rough[k + 1] = 0.25 if name == "rubble" else 0.05
        return t, rough

    tb, rb = table(objs.before)
    ta, ra = table(objs.after)
    # After epoch: season changes vegetation vigour a little even where unchanged.
    vigour = rng.normal(1.0, 0.05, len(objs.geoms) + 1).astype(np.float32)
    ta[:, 3] *= vigour
    texture_common = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 2.0) * 2.5
    texture_new = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.0) * 2.0
    changed_px = ids_before != ids_after
    refl_b = tb[ids_before].transpose(2, 0, 1) * (1 + rb[ids_before] * texture_common)
    tex_a = np.where(changed_px | (ra[ids_after] > 0.1), texture_new, texture_common)
    refl_a = ta[ids_after].transpose(2, 0, 1) * (1 + ra[ids_after] * tex_a)

    shift_len = rng.uniform(0.3, max(max_shift, 0.3))
    shift_dir = rng.uniform(0, 2 * np.pi)
    shift = (float(shift_len * np.sin(shift_dir)), float(shift_len * np.cos(shift_dir)))
    gain = rng.uniform(0.8, 1.25, 4)
    offset = rng.uniform(0, 400, 4)
    obscured = np.zeros(shape, bool)
    for k in range(clouds):
        alpha, shade = _cloud(shape, rng)
        target = refl_b if k % 2 == 0 else refl_a
        cloud_refl = np.asarray((0.56, 0.58, 0.59, 0.57), np.float32)[:, None, None] * rng.uniform(0.9, 1.1)
        target *= 1 - 0.75 * shade
        target[:] = target * (1 - alpha) + cloud_refl * alpha
        obscured |= (alpha > 0.02) | (shade > 0.02)
    before = _sensor(refl_b, rng, blur=0.6, noise=0.004)
    after = _sensor(refl_a, rng, blur=0.8, noise=0.005, shift=shift)
    return (_to_dn(before, np.ones(4), np.zeros(4)), _to_dn(after, gain, offset), shift, gain, offset,
            obscured)


def _cloud(shape, rng):
    """Opacity of one cloud bank and of its shadow (offset away from the sun), 0..1."""
    rows, cols = shape
    size = int(rng.uniform(80, 220))
    r0 = int(rng.uniform(0, max(1, rows - size)))
    c0 = int(rng.uniform(0, max(1, cols - size)))
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), size / 8)
    yy, xx = np.mgrid[:size, :size]
    radial = 1 - np.hypot(yy - size / 2, xx - size / 2) / (size / 2)
    core = (field / (field.std() + 1e-6) * 0.4 + radial) > 0.35
    alpha_small = np.clip(ndimage.gaussian_filter(core.astype(np.float32), 3.0) * 1.2, 0, 1)
    alpha = np.zeros(shape, np.float32)
    shade = np.zeros(shape, np.float32)
    alpha[r0:r0 + size, c0:c0 + size] = alpha_small[: rows - r0, : cols - c0]
    dr, dc = int(size * 0.45), int(size * 0.3)
    rs, cs = r0 + dr, c0 + dc
    if rs < rows and cs < cols:
        shade[rs:rs + size, cs:cs + size] = alpha_small[: rows - rs, : cols - cs]
    shade *= 1 - alpha  # the cloud hides its own shadow where they overlap
    return alpha, shade


def _pixel_transform():
    # Geometries are built in pixel space with y growing downwards.
    return Affine.identity()


def _sensor(refl, rng, *, blur, noise, shift=(0.0, 0.0)):
    out = np.empty_like(refl)
    for b in range(refl.shape[0]):
        band = refl[b]
        if shift != (0.0, 0.0):
            band = ndimage.shift(band, shift, order=3, mode="nearest")
        band = ndimage.gaussian_filter(band, blur)
        out[b] = band + rng.normal(0, noise, band.shape).astype(np.float32)
    return out


def _to_dn(refl, gain, offset):
    dn = refl * 10000.0 * gain[:, None, None] + offset[:, None, None]
    return np.clip(np.round(dn), 1, 65535).astype(np.uint16)


def _reference_layers(parcels, zones, world, rng, rows, cols):
    crs = CRS
    codes = {"crop": ("0103", "旱地"), "paddy": ("0101", "水田"), "fallow": ("0102", "水浇地")}
    farm = [(world(g), *codes[c]) for g, c, _ in parcels if c in codes]
    farmland = gpd.GeoDataFrame(
        {"DLBM": [f[1] for f in farm], "DLMC": [f[2] for f in farm],
         "TBMJ": [round(f[0].area, 2) for f in farm]},
        geometry=[f[0] for f in farm], crs=crs,
    )
    def zone_frame(kind, columns):
        geoms = [world(z) for z in zones[kind]]
        return gpd.GeoDataFrame(columns(len(geoms)), geometry=geoms, crs=crs)

    reserve = zone_frame("reserve", lambda n: {"项目名称": [f"储备地块{i + 1:02d}" for i in range(n)]})
    approved = zone_frame("approved", lambda n: {
        "批准文号": [f"粤府土审[2023]{101 + i}号" for i in range(n)],
        "批准时间": ["2023-09-01"] * n,
        "项目名称": [f"批准项目{i + 1:02d}" for i in range(n)],
    })
    valid = [world(z) for z in zones["temporary_valid"]]
    expired = [world(z) for z in zones["temporary_expired"]]
    temporary = gpd.GeoDataFrame(
        {
            "PZWH": [f"临字[2023]{11 + i}号" for i in range(len(valid) + len(expired))],
            "PZSJ": ["2023-06-01"] * (len(valid) + len(expired)),
            "end_date": ["2025-06-01"] * len(valid) + ["2024-05-01"] * len(expired),
        },
        geometry=valid + expired, crs=crs,
    )
    government = zone_frame("government", lambda n: {
        "项目名称": [f"政府投资项目{i + 1:02d}" for i in range(n)],
        "部门": [("水务", "工务", "交通")[i % 3] for i in range(n)],
        "重点工程": [("是", "否")[i % 2] for i in range(n)],
    })
    # 永久基本农田: the paddy parcels (drawn from no random numbers: the scene is unchanged)
    paddy = farmland[farmland["DLBM"] == "0101"]
    basic_farmland = gpd.GeoDataFrame({"TBBH": [f"JB{i + 1:04d}" for i in range(len(paddy))]},
                                      geometry=paddy.geometry.to_numpy(), crs=crs)
    half_r, half_c = rows / 2, cols / 2
    towns = [
        ("南山街道", "440305001", box(0, 0, half_c, half_r)),
        ("西丽街道", "440305002", box(half_c, 0, cols, half_r)),
        ("桃源街道", "440305003", box(0, half_r, half_c, rows)),
        ("沙河街道", "440305004", box(half_c, half_r, cols, rows)),
    ]
    townships = gpd.GeoDataFrame(
        {"name": [t[0] for t in towns], "code": [t[1] for t in towns]},
        geometry=[world(t[2]) for t in towns], crs=crs,
    )
    return dict(farmland=farmland, basic_farmland=basic_farmland, reserve=reserve, approved=approved,
                temporary=temporary, government=government, townships=townships)


def write_scene(scene: Scene, directory: str | Path) -> dict[str, Path]:
    """Write a scene as a sample batch.

    Files: ``before.tif`` and ``after.tif`` (4-band uint16 GeoTIFF, DEFLATE,
    tiled, band descriptions and ``ACQUISITION_DATE`` tags), ``layers/`` with
    ``farmland.gpkg``, ``reserve.gpkg``, ``approved.geojson``,
    ``temporary.shp`` (UTF-8 with ``.cpg``), ``government.gpkg`` and
    ``townships.gpkg`` (in EPSG:4490, to exercise reprojection), and
    ``truth.gpkg`` with ``truth.json`` (true shift, gains, offsets).

    Parameters
    ----------
    scene : Scene
    directory : str or Path

    Returns
    -------
    dict
        Role name to path.
    """
    import rasterio

    directory = Path(directory)
    (directory / "layers").mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, array, date in (("before", scene.before, scene.before_date),
                              ("after", scene.after, scene.after_date)):
        path = directory / f"{name}.tif"
        profile = dict(driver="GTiff", width=array.shape[2], height=array.shape[1], count=4,
                       dtype="uint16", crs=scene.crs, transform=scene.transform, tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate", nodata=0)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array)
            dst.descriptions = ("blue", "green", "red", "nir")
            dst.update_tags(ACQUISITION_DATE=date.isoformat())
        paths[name] = path
    formats = {"farmland": "gpkg", "basic_farmland": "gpkg", "reserve": "gpkg", "approved": "geojson",
               "temporary": "shp", "government": "gpkg", "townships": "gpkg"}
    for name, frame in scene.layers.items():
        ext = formats[name]
        path = directory / "layers" / f"{name}.{ext}"
        for old in directory.glob(f"layers/{name}.*"):
            old.unlink()
        if name == "townships":
            frame = frame.to_crs("EPSG:4490")
        frame.to_file(path, engine="pyogrio", **({"encoding": "UTF-8"} if ext == "shp" else {}))
        paths[name] = path
    truth_path = directory / "truth.gpkg"
    if truth_path.exists():
        truth_path.unlink()
    scene.truth.to_file(truth_path, layer="truth", engine="pyogrio")
    paths["truth"] = truth_path
    meta = {"shift_dy_dx": scene.shift, "gain": list(scene.gain), "offset": list(scene.offset),
            "before_date": scene.before_date.isoformat(), "after_date": scene.after_date.isoformat(),
            "nuisances": {k: int(v) for k, v in scene.nuisances.items()},
            "structures": int(len(scene.truth))}
    (directory / "truth.json").write_text(json.dumps(meta, indent=2))
    return paths


def write_large_pair(scene: Scene, directory: str | Path, side: int, *, block: int = 512) -> dict:
    """Write a pair of ``side`` × ``side`` pixels tiled from a generated scene.

    Blocks of ``block`` pixels are copied from the scene in a repeating,
    shuffled pattern, so files of any size can be written with memory bounded
    by one block; 4-band uint16, DEFLATE, ``block``-pixel tiles.

    Parameters
    ----------
    scene : Scene
        Source of the pixels (its sides should be multiples of ``block``).
    directory : str or Path
    side : int
    block : int

    Returns
    -------
    dict
        ``before`` and ``after`` paths.
    """
    import rasterio
    from rasterio.windows import Window

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    nb = scene.before.shape[1] // block, scene.before.shape[2] // block
    paths = {}
    for name, array, date in (("before", scene.before, scene.before_date),
                              ("after", scene.after, scene.after_date)):
        path = directory / f"{name}_{side}.tif"
        profile = dict(driver="GTiff", width=side, height=side, count=4, dtype="uint16",
                       crs=scene.crs, transform=scene.transform, tiled=True, blockxsize=block,
                       blockysize=block, compress="deflate", nodata=0, BIGTIFF="IF_SAFER")
        with rasterio.open(path, "w", **profile) as dst:
            for r in range(0, side, block):
                for c in range(0, side, block):
                    i, j = r // block, c // block
                    si, sj = (i * 7 + j * 3) % nb[0], (j * 5 + i) % nb[1]
                    h, w = min(block, side - r), min(block, side - c)
                    tile = array[:, si * block: si * block + h, sj * block: sj * block + w]
                    dst.write(tile, window=Window(c, r, w, h))
            dst.descriptions = ("blue", "green", "red", "nir")
            dst.update_tags(ACQUISITION_DATE=date.isoformat())
        paths[name] = path
    return paths


def sample_paths(directory: str | Path = "sample_data") -> dict[str, Path]:
    """Paths of the sample batch written by ``python -m weipian.testing.scenes``."""
    d = Path(directory)
    return {"before": d / "before.tif", "after": d / "after.tif", "layers": d / "layers",
            "truth": d / "truth.gpkg"}


def main(argv=None) -> None:
    """Write the sample batch: ``python -m weipian.testing.scenes DIR [--size N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240620)
    args = parser.parse_args(argv)
    scene = generate_scene((args.size, args.size), rng=args.seed)
    write_scene(scene, args.directory)
    print(f"wrote {args.directory}: {len(scene.truth)} new structures, shift {scene.shift}")


if __name__ == "__main__":
    main()
