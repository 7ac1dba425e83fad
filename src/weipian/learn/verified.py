"""Training samples from a bureau's own field-verified patches.

A verified-patch layer holds polygons (the patches a batch sent to the field)
with an outcome column (default ``verified``) that says what the crew found:

=====================  ============================  =====================
outcome                also accepted                 truth inside the patch
=====================  ============================  =====================
``new_construction``   真实新增, 新增建设, 违法建设  any change 1, construction 1
``no_change``          实地未变化, 未变化, 无变化     any change 0, construction 0
``not_construction``   非建设, 非新增建设            any change unknown, construction 0
=====================  ============================  =====================

Pixels within ``ring_m`` metres around a patch are taken as unchanged (the
crew stood there and the patch outline is where the change ends); everything
farther away is unknown and carries no loss. Each patch becomes one window of
the pair, read through :class:`weipian.io.PairReader` (the after epoch aligned
onto the before grid) and shifted and stretched with the pair model, exactly
as detection reads it.
"""

from __future__ import annotations

import numpy as np

from ..errors import TrainingDataError
from .inputs import model_bands
from .samples import IGNORE, LabelledPair

__all__ = ["OUTCOMES", "outcome_of", "verified_pairs"]

#: Outcome values and what they mean for (any change, construction).
OUTCOMES = {
    "new_construction": (1, 1),
    "no_change": (0, 0),
    "not_construction": (IGNORE, 0),
}

_ALIASES = {
    "真实新增": "new_construction", "新增建设": "new_construction", "违法建设": "new_construction",
    "实地未变化": "no_change", "未变化": "no_change", "无变化": "no_change",
    "非建设": "not_construction", "非新增建设": "not_construction",
}


def outcome_of(values, *, source: str = "patches", column: str = "verified") -> np.ndarray:
    """Normalise outcome values; refuse unknown ones, naming them and the accepted ones.

    Raises
    ------
    weipian.errors.TrainingDataError
    """
    out = []
    unknown = set()
    for v in values:
        key = str(v).strip() if v is not None else ""
        key = _ALIASES.get(key, key.lower().replace(" ", "_").replace("-", "_"))
        if key not in OUTCOMES:
            unknown.add(str(v))
        out.append(key)
    if unknown:
        accepted = ", ".join(list(OUTCOMES) + list(_ALIASES))
        raise TrainingDataError(
            f"{source}: column {column!r} has unknown outcome values {sorted(unknown)}; "
            f"accepted: {accepted}")
    return np.array(out, dtype=object)


def verified_pairs(before, after, patches, *, column: str = "verified", bands: str | None = None,
                   ring_m: float = 10.0, window: int = 256) -> list[LabelledPair]:
    """One labelled window per verified patch.

    Parameters
    ----------
    before, after : str or Path
        The two epochs the patches were found on.
    patches : str or Path or GeoDataFrame
        Verified patches with an outcome column.
    column : str
        The outcome column.
    bands : str, optional
        Band roles, as for detection.
    ring_m : float
        Width (metres) of the unchanged ring around each patch.
    window : int
        Smallest window side in pixels (a multiple of 8); larger patches get a
        larger window.

    Returns
    -------
    list of LabelledPair
    """
    import geopandas as gpd
    from rasterio.windows import transform as window_transform

    from ..engine.pair_model import estimate_pair_model, shift_window
    from ..io import PairReader, PairSpec
    from ..schema import pixel_area_m2, scene_area_crs

    frame = patches if isinstance(patches, gpd.GeoDataFrame) else gpd.read_file(patches)
    source = str(patches) if not isinstance(patches, gpd.GeoDataFrame) else "patches"
    if column not in frame.columns:
        raise TrainingDataError(f"{source}: no column {column!r} with field outcomes; columns are "
                                f"{', '.join(map(str, frame.columns))}; name it with --outcome-column")
    outcomes = outcome_of(frame[column], source=source, column=column)
    pairs = []
    with PairReader(PairSpec(str(before), str(after), bands)) as reader:
        pair = estimate_pair_model(reader, workers=1)
        frame = frame.to_crs(reader.crs) if frame.crs is not None else frame.set_crs(reader.crs)
        acrs = scene_area_crs(reader.transform, reader.shape, reader.crs, source=str(reader.spec.before))
        gsd = float(np.sqrt(pixel_area_m2(reader.transform, reader.shape, reader.crs, acrs)))
        ring_px = max(1, int(round(ring_m / gsd)))
        rows, cols = reader.shape
        inverse = ~reader.transform
        for k, (geom, outcome) in enumerate(zip(frame.geometry, outcomes)):
            if geom is None or geom.is_empty:
                continue
            win = _window_around(geom, inverse, rows, cols, window, ring_px)
            if win is None:
                continue
            b, a, valid = reader.read(win)
            a, valid = shift_window(a, valid, pair)
            tr = window_transform(win, reader.transform)
            ring = ring_m if reader.crs.is_projected else ring_px * abs(tr.a)
            any_c, cons = _truth(geom, OUTCOMES[outcome], valid, tr, ring)
            pairs.append(LabelledPair(name=f"verified/{k}", dataset="verified",
                                      before=model_bands(b, reader.roles, pair.levels_before),
                                      after=model_bands(a, reader.roles, pair.levels_after),
                                      has_nir="nir" in reader.roles, gsd_m=gsd, any_change=any_c,
                                      construction=cons))
    if not pairs:
        raise TrainingDataError(f"{source}: no verified patch lies on {before}; check the layer's CRS")
    return pairs


def _window_around(geom, inverse, rows: int, cols: int, window: int, ring_px: int):
    """A square window (side a multiple of 8, at least ``window``) centred on a patch, inside the image."""
    from rasterio.windows import Window

    minx, miny, maxx, maxy = geom.bounds
    (c0, r0), (c1, r1) = inverse @ (minx, maxy), inverse @ (maxx, miny)
    side = int(max(window, np.ceil(max(r1 - r0, c1 - c0) + 4 * ring_px)))
    side = min(-(-side // 8) * 8, rows - rows % 8, cols - cols % 8)
    if side < 8:
        return None
    rc, cc = (r0 + r1) / 2, (c0 + c1) / 2
    col_off = int(np.clip(cc - side / 2, 0, cols - side))
    row_off = int(np.clip(rc - side / 2, 0, rows - side))
    return Window(col_off, row_off, side, side)


def _truth(geom, values, valid, transform, ring: float):
    """(any change, construction) truth of one window: the outcome inside, 0 in the ring, unknown beyond."""
    from rasterio import features

    shape = valid.shape
    inside = features.rasterize([geom], out_shape=shape, transform=transform).astype(bool)
    near = features.rasterize([geom.buffer(ring)], out_shape=shape, transform=transform).astype(bool)
    out = []
    for value in values:
        truth = np.full(shape, IGNORE, np.uint8)
        truth[near] = 0
        truth[inside] = value
        truth[~valid] = IGNORE
        out.append(truth)
    return out

