"""Path-in, path-out workflows: :func:`detect`, :func:`judge`, :func:`run`, :func:`deliver`.

These are the guts of the ``weipian`` commands minus the option parsing: they
work on named files and return GeoDataFrames, for notebooks and other tools.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from . import __version__
from .engine.tiles import CELL
from .errors import DateError, InputFileError, LayerError, WeipianError
from .io import atomic_path, check_output, parse_date
from .learn.network_outputs import OUTPUTS
from .legality import EVIDENCE_CATEGORIES, LABELS_ZH, classify, property_table
from .params import ChangeParams, LayerParams
from .patches import assemble_pieces, min_pixels_for
from .schema import (
    _LONLAT,
    LAYER_AREA_FIELDS,
    PATCH_FIELDS,
    add_location_fields,
    batch_of,
    iso_date,
    patch_ids,
    pixel_area_m2,
    scene_lon,
)
from .vector.layers import find_layers, read_layer
from .vector.naming import choose_name_field, feature_labels
from .vector.overlay import area_crs, layer_overlap

__all__ = ["detect", "judge", "run", "deliver", "read_patches", "write_patches"]

def detect(
    before,
    after,
    *,
    bands: str | None = None,
    min_area: float = 50.0,
    target: str = "construction",
    params: ChangeParams | None = None,
    before_date=None,
    after_date=None,
    window_size: int | None = 1024,
    workers: int | None = None,
    scheduler: str | None = None,
    work_dir=None,
    resume: bool = False,
    progress: bool = False,
    clouds: bool = True,
    mask_before=None,
    mask_after=None,
    crs=None,
    min_overlap: float = 0.5,
) -> gpd.GeoDataFrame:
    """Find patches of new construction between two epochs.

    The pair is processed in windows (``window_size`` pixels plus a halo) in
    parallel through Dask; shift, normalisation and noise are estimated once
    for the whole pair, so the patches are identical whatever the window size
    and the number of workers.

    Parameters
    ----------
    before, after : str or Path
        Any GDAL rasters; the after image is aligned onto the before grid.
    bands : str, optional
        Band roles, e.g. ``"blue,green,red,nir"``.
    min_area : float
        Minimum mapping unit, m².
    target : {"construction", "any"}
        ``construction`` flags pixels that became built; ``any`` every
        significant change.
    params : ChangeParams, optional
    before_date, after_date : str or date, optional
        Override the dates read from the image tags.
    window_size : int or None
        Side of the processing windows; ``None`` for one window.
    workers : int, optional
        Local threads or processes (default: all cores).
    scheduler : str, optional
        ``threads`` (default), ``processes``, ``synchronous`` or a
        ``dask.distributed`` address (default from ``WEIPIAN_SCHEDULER``).
    work_dir : str or Path, optional
        Folder keeping finished windows; with ``resume`` an interrupted run
        continues from them.
    resume : bool
    progress : bool
        Show a progress bar.
    clouds : bool
        Detect clouds and cloud shadows in both epochs and leave them out
        (see :mod:`weipian.clouds`).
    mask_before, mask_after : str or Path, optional
        Users' masks of pixels to leave out: a raster (non-zero = masked) or a
        polygon layer.
    crs : str, optional
        CRS to assume for epochs whose files have none.
    min_overlap : float
        Smallest share of the before image the after image must cover.

    Returns
    -------
    GeoDataFrame
        One row per patch (``patch_id``, ``score``, ``area_m2``, ``area_mu``,
        ``x``, ``y``, ``lon``, ``lat``, ``before_date``, ``after_date``) in the
        before image's CRS; ``attrs["weipian"]`` holds the estimated shift,
        normalisation, counts and timings.

    Raises
    ------
    weipian.errors.WeipianError
        For unreadable, non-overlapping or ill-described inputs.
    """
    from .engine.scheduler import WorkFolder, resolve_scheduler, run_tiles
    from .io import PairSpec
    from .learn.model import load_model

    params = params or ChangeParams()
    resolve_scheduler(scheduler)  # a wrong name fails before anything is read or written
    dates = {
        "before": parse_date(before_date, source="--before-date") if before_date else None,
        "after": parse_date(after_date, source="--after-date") if after_date else None,
    }
    net = load_model(params.model)
    spec = PairSpec(str(before), str(after), bands, None,
                    str(mask_before) if mask_before else None, str(mask_after) if mask_after else None,
                    str(crs) if crs else None, float(min_overlap))
    window_size = _snap_window(window_size, net.tile)
    fingerprint = {"spec": spec.__dict__, "params": params.to_dict(), "target": str(target),
                   "min_area": min_area, "window_size": window_size, "clouds": clouds,
                   "version": __version__}
    timings = {}
    work = WorkFolder(work_dir) if work_dir is not None else None
    try:
        t0 = time.perf_counter()
        scene, pair = _open_pair(spec, net, fingerprint, work=work, resume=resume, workers=workers,
                                 clouds=clouds)
        timings["model_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        tiles, detector, masks = _plan(scene, net, params, target, window_size, clouds)
        min_pixels = min_pixels_for(min_area, scene.pixel_m2)
        parts = run_tiles(spec, tiles, pair, detector, min_pixels=min_pixels, workers=workers,
                          scheduler=scheduler, work=work, progress=progress, masks=masks)
        timings["tiles_s"] = time.perf_counter() - t0
    except WeipianError:
        if work is not None and not resume:  # bad input: leave nothing behind
            work.clear()
        raise
    t0 = time.perf_counter()
    dates = {k: v or scene.dates[k] for k, v in dates.items()}
    frame = _patch_frame(assemble_pieces(parts, min_pixels=min_pixels), scene, min_area, dates)
    timings["assemble_s"] = time.perf_counter() - t0
    frame.attrs["obscured"] = _obscured_polygons(tiles, parts, scene.shape, scene.transform, scene.crs, CELL)
    frame.attrs["weipian"] = {
        "inputs": {"before": str(before), "after": str(after)},
        "settings": {"bands": bands, "min_area_m2": min_area, "target": str(target),
                     "window_size": window_size, "workers": workers,
                     "scheduler": scheduler or "threads", "params": params.to_dict()},
        **_detect_record(scene, pair, detector, tiles, parts, work, clouds=bool(clouds),
                         user_masks=[m for m in (spec.mask_before, spec.mask_after) if m]),
        "patches": len(frame),
        "dates": {k: iso_date(v) for k, v in dates.items()},
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    return frame


@dataclass(frozen=True)
class _Scene:
    """What detection needs to know of a pair before reading any pixel."""

    shape: tuple
    transform: object
    crs: object
    roles: dict
    dates: dict
    acrs: object
    pixel_m2: float

    @property
    def gsd_m(self) -> float:
        """Pixel size in metres (from the central pixel's projected area)."""
        return math.sqrt(self.pixel_m2)


def _snap_window(window_size, tile: int):
    """Window sides are whole multiples of the network tile (so results do not depend on them)."""
    if not window_size:
        return None
    return max(tile, int(round(int(window_size) / tile)) * tile)


def _open_pair(spec, net, fingerprint, *, work, resume, workers, clouds):
    """Open the pair, check it against the model, estimate (or reload) the pair model."""
    from .engine.pair_model import PairModel, estimate_pair_model
    from .io import PairReader
    from .raster.clouds import CloudParams

    with PairReader(spec) as reader:
        acrs = area_crs(reader.crs, scene_lon(reader.transform, reader.shape, reader.crs))
        scene = _Scene(reader.shape, reader.transform, reader.crs, reader.roles, reader.dates, acrs,
                       pixel_area_m2(reader.transform, reader.shape, reader.crs, acrs))
        net.check(scene.roles, scene.gsd_m, source=spec.before)
        if work is not None:  # only once the inputs have opened: bad input leaves nothing
            work.bind(fingerprint, resume=resume)
        stored = work.load("model") if (work is not None and resume) else None
        pair = (PairModel.from_dict(stored) if stored
                else estimate_pair_model(reader, workers=workers, clouds=CloudParams() if clouds else None,
                                         resolution_m=scene.gsd_m))
    if work is not None:
        work.save("model", pair.to_dict())
    return scene, pair


def _plan(scene: _Scene, net, params: ChangeParams, target: str, window_size, clouds: bool):
    """The tiles to run and the settings every tile gets."""
    from .engine.tiles import Detector, MaskSettings
    from .engine.windows import HALO, tile_windows
    from .raster.clouds import CloudParams

    if target not in OUTPUTS:
        raise WeipianError(f"target was {target!r} but is expected to be one of {', '.join(OUTPUTS)}")
    detector = Detector(model=net, target=target,
                        threshold=(params.threshold if params.threshold is not None
                                   else net.threshold(target, scene.gsd_m)),
                        gsd_m=net.gsd_for_model(scene.gsd_m), vegetation_ndvi=params.vegetation_ndvi)
    masks = MaskSettings(clouds=CloudParams() if clouds else None, resolution_m=scene.gsd_m)
    halo = HALO + (CloudParams().reach(scene.gsd_m) if clouds else 0)
    return tile_windows(scene.shape[0], scene.shape[1], window_size, halo=halo), detector, masks


def _patch_frame(table: dict, scene: _Scene, min_area: float, dates: dict) -> gpd.GeoDataFrame:
    """Assembled patches as a GeoDataFrame: location fields, minimum mapping unit, serials."""
    frame = gpd.GeoDataFrame({"score": table["score"]}, geometry=list(table["geometry"]), crs=scene.crs)
    add_location_fields(frame, scene.acrs)
    frame = frame[frame["area_m2"] >= min_area].reset_index(drop=True)
    frame.insert(0, "patch_id", [f"{i + 1:06d}" for i in range(len(frame))])
    frame["score"] = np.round(frame["score"].astype(float), 3)
    frame["before_date"] = iso_date(dates["before"])
    frame["after_date"] = iso_date(dates["after"])
    return frame


def _detect_record(scene: _Scene, pair, detector, tiles, parts, work, *, clouds: bool, user_masks) -> dict:
    """Provenance of a detection for run.json: grid, shift, normalisation, model, counts."""
    obscured_px = sum(int(p["obscured"][0]) for p in parts)
    res_m = scene.gsd_m
    return {
        "crs": scene.crs.to_string(),
        "area_crs": scene.acrs.to_string(),
        "shape": list(scene.shape),
        "resolution_m": round(res_m, 4),
        "band_roles": scene.roles,
        "model": {"path": detector.model.path, "target": detector.target,
                  "threshold": detector.threshold, "gsd_given_m": detector.gsd_m,
                  "vegetation_ndvi": detector.vegetation_ndvi,
                  "trained_on": detector.model.card.get("datasets")},
        "shift_px": {"dy": round(pair.shift[0], 3), "dx": round(pair.shift[1], 3)},
        "shift_m": {"dy": round(pair.shift[0] * res_m, 3), "dx": round(pair.shift[1] * res_m, 3)},
        "normalisation": {"gain": [round(g, 5) for g in pair.gain],
                          "offset": [round(o, 3) for o in pair.offset],
                          "invariant_share": round(pair.invariant_share, 4),
                          "sampled_pixels": pair.sampled_pixels,
                          "maps": "after = gain * before + offset"},
        "levels": {"before": pair.levels_before, "after": pair.levels_after},
        "noise": [round(n, 3) for n in pair.noise],
        "tiles": len(tiles),
        "windows": {"total": len(tiles), "reused": work.reused if work is not None else 0},
        "valid_pixels": int(sum(int(p["valid"][0]) for p in parts)),
        "flagged_pixels": int(sum(int(p["flagged"][0]) for p in parts)),
        "obscured": {"pixels": obscured_px, "area_m2": round(obscured_px * scene.pixel_m2, 1),
                     "clouds_detected": clouds, "masks": list(user_masks)},
    }


def _obscured_polygons(tiles, parts, shape, transform, crs, cell) -> gpd.GeoSeries:
    """Cells (``cell`` pixels square) at least half obscured, as polygons."""
    from affine import Affine
    from rasterio import features

    grid = np.zeros((-(-shape[0] // cell), -(-shape[1] // cell)), np.float32)
    for tile, part in zip(tiles, parts):
        cells = part.get("obscured_cells")
        if cells is None:
            continue
        r0, c0 = int(tile.core.row_off) // cell, int(tile.core.col_off) // cell
        grid[r0: r0 + cells.shape[0], c0: c0 + cells.shape[1]] = cells
    covered = (grid >= 0.5).astype(np.uint8)
    geoms = [shapely.geometry.shape(g) for g, _ in features.shapes(
        covered, mask=covered > 0, transform=transform * Affine.scale(cell))]
    return gpd.GeoSeries(geoms, crs=crs)


def judge(
    patches,
    *,
    layers=None,
    overrides: dict | None = None,
    after_date=None,
    min_share: float = 0.5,
    end_date_field: str | None = None,
    batch: str | None = None,
    layer_crs=None,
    layer_params: LayerParams | None = None,
) -> gpd.GeoDataFrame:
    """Overlay patches with the reference layers and label them.

    Parameters
    ----------
    patches : GeoDataFrame or str or Path
        From :func:`detect`, or a GeoPackage written by ``weipian detect``.
    layers : str or Path, optional
        Folder holding the reference layers (see :mod:`weipian.layers`).
    overrides : dict, optional
        Layer name to path; wins over the folder.
    after_date : str or date, optional
        Date the temporary approvals are checked against; defaults to the
        patches' ``after_date``.
    min_share : float
        Share of a patch that must lie in approved, temporary or government
        land for that label.
    end_date_field : str, optional
        End-date field of the temporary-use layer; default: the first of
        ``end_date``, ``截至时间`` ... present.
    batch : str, optional
        Batch name in the patch ids; defaults to the after date's quarter
        (``2024Q2``).
    layer_crs : str, optional
        CRS to assume for layers without one (Shapefiles without ``.prj``).
    layer_params : LayerParams, optional
        Farmland filter, fields that name features, key projects.

    Returns
    -------
    GeoDataFrame
        The fields of :data:`PATCH_FIELDS`, geometry in the patches' CRS;
        ``attrs["weipian"]`` records the layers read and their repairs.

    Raises
    ------
    weipian.errors.WeipianError
    """
    if not isinstance(patches, gpd.GeoDataFrame):
        patches = read_patches(patches)
    frame = patches.copy()
    crs = frame.crs
    if crs is None:
        raise LayerError("patches have no CRS; write them with weipian detect")
    paths = find_layers(layers, overrides)
    after = _judge_date(frame, after_date, paths)
    lon = 114.0  # no patches: any zone measures nothing
    if len(frame):
        cx = frame.geometry.union_all().centroid
        lon, _ = Transformer.from_crs(crs, _LONLAT, always_xy=True).transform(cx.x, cx.y)
    acrs = area_crs(crs, lon)
    geoms = frame.geometry.to_crs(acrs).to_numpy()
    bbox = tuple(frame.total_bounds) if len(frame) else None

    layer_params = layer_params or LayerParams()
    table, info = property_table(geoms, paths, acrs, after=after, bbox=bbox,
                                 end_date_field=end_date_field, layer_crs=layer_crs,
                                 layer_params=layer_params)
    key_projects = info.pop("key_projects")
    labels, reasons = classify(table, min_share=min_share)

    batch = batch or batch_of(after)
    _fill_judged_fields(frame, table, labels, reasons, acrs=acrs, after=after, batch=batch)
    frame = gpd.GeoDataFrame(frame[list(PATCH_FIELDS)], geometry=frame.geometry, crs=crs)
    frame.attrs["weipian"] = {
        **patches.attrs.get("weipian", {}),
        "judge": {
            "layers": {k: str(v) for k, v in paths.items()},
            "layer_info": info,
            "after_date": iso_date(after),
            "min_share": min_share,
            "end_date_field": (info.get("temporary") or {}).get("end_date_field", end_date_field),
            "layer_params": layer_params.to_dict(),
            "name_fields": {k: {"field": v["name_field"], "how": v["name_field_how"]}
                            for k, v in info.items()},
            "key_projects": key_projects,
            "batch": batch,
            "counts": {lab: int((labels == lab).sum()) for lab in LABELS_ZH},
        },
    }
    return frame


def _judge_date(frame, after_date, paths):
    """The date temporary approvals are checked against: given, else the patches' after date."""
    if after_date is not None:
        after = parse_date(after_date, source="--after-date")
    elif "after_date" in frame and len(frame) and str(frame["after_date"].iloc[0]):
        after = parse_date(frame["after_date"].iloc[0], source="after_date")
    else:
        after = None
    if after is None and "temporary" in paths:
        raise DateError(
            f"{paths['temporary']}: temporary approvals need the after date; "
            "pass --after-date YYYY-MM-DD"
        )
    return after


def _fill_judged_fields(frame, table, labels, reasons, *, acrs, after, batch) -> None:
    """Labels, reasons, layer areas, township, location and ids of judged patches, in place."""
    frame["label"] = labels
    frame["label_zh"] = [LABELS_ZH[lab] for lab in labels]
    frame["evidence_category"] = [EVIDENCE_CATEGORIES[lab] for lab in labels]
    frame["reason"] = reasons
    for column in LAYER_AREA_FIELDS:
        frame[column] = np.round(table[column], 2)
    frame["key_project"] = np.asarray(table["government_key"], bool)
    frame["township"] = table["townships_name"]
    frame["township_code"] = table.get("township_code", np.full(len(frame), "", dtype=object))
    if "area_m2" not in frame or "lon" not in frame:
        add_location_fields(frame, acrs)
    for column in ("before_date", "after_date"):
        if column not in frame:
            frame[column] = ""
    if after is not None:
        frame["after_date"] = iso_date(after)
    serial = [str(p).split("-")[-1] for p in frame["patch_id"]] if "patch_id" in frame else [
        f"{i + 1:06d}" for i in range(len(frame))
    ]
    frame["patch_id"] = patch_ids(frame["township_code"], batch, serial)


def read_patches(path) -> gpd.GeoDataFrame:
    """Read a patch GeoPackage written by weipian (layer ``patches``)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; run `weipian detect` first")
    import pyogrio

    try:
        frame = gpd.read_file(path, layer="patches", engine="pyogrio")
    except Exception as exc:
        raise InputFileError(
            f"{path}: no readable 'patches' layer ({str(exc).splitlines()[0][:100]}); "
            "give a GeoPackage written by weipian detect"
        ) from None
    meta = pyogrio.read_info(path, layer="patches")
    for key in ("patch_id", "township_code", "before_date", "after_date"):
        if key in frame:
            frame[key] = frame[key].fillna("").astype(str)
    frame.attrs["weipian"] = {"inputs": {"patches": str(path)}, "features": meta.get("features")}
    return frame


def write_patches(frame: gpd.GeoDataFrame, path, *, overwrite: bool = False, obscured=None) -> Path:
    """Write patches to a GeoPackage (layer ``patches``) atomically.

    ``obscured`` (polygons of cloud, shadow and masked areas) goes to a second
    layer, ``obscured``.
    """
    path = check_output(path, overwrite=overwrite)
    with atomic_path(path) as tmp:
        out = frame.copy()
        out.attrs = {}
        out.to_file(tmp, layer="patches", driver="GPKG", engine="pyogrio")
        if obscured is not None and len(obscured):
            gpd.GeoDataFrame({"kind": ["obscured"] * len(obscured)}, geometry=obscured.values,
                             crs=obscured.crs).to_file(tmp, layer="obscured", driver="GPKG",
                                                       engine="pyogrio")
    return path


def _obscured_by_township(obscured, layers, overrides, layer_crs=None,
                          layer_params: LayerParams | None = None) -> dict:
    """Obscured area (m²) per township: a patch may be hidden there (townships named as in the patches)."""
    if obscured is None or not len(obscured):
        return {}
    paths = find_layers(layers, overrides)
    if "townships" not in paths:
        return {"(all)": round(float(obscured.area.sum()), 1)}
    cx, cy = shapely.box(*obscured.total_bounds).centroid.coords[0]
    lon, _ = Transformer.from_crs(obscured.crs, _LONLAT, always_xy=True).transform(cx, cy)
    acrs = area_crs(obscured.crs, lon) if not CRS.from_user_input(obscured.crs).is_projected else obscured.crs
    towns, _ = read_layer(paths["townships"], acrs, name="townships", layer_crs=layer_crs)
    chosen = (layer_params or LayerParams()).name_fields.get("townships")
    field, _ = choose_name_field(towns, "townships", chosen, path=str(paths["townships"]))
    names = feature_labels(towns, field)
    ov = layer_overlap(towns.geometry.to_numpy(), obscured.to_crs(acrs).to_numpy())
    return {str(n): round(float(a), 1) for n, a in zip(names, ov.area) if a > 0}


def deliver(
    judged: gpd.GeoDataFrame,
    output,
    *,
    before=None,
    after=None,
    bands: str | None = None,
    encoding: str = "UTF-8",
    route: bool = False,
    line: float = 0.15,
    strict_line: float | None = 0.08,
    chips: bool = True,
) -> dict:
    """Write what analysts and field crews take away.

    ``patches.xlsx``, ``patches.csv``, ``patches.shp``, ``patches.kml``,
    ``patches.geojson`` (see :mod:`weipian.export`), ``townships.csv`` and
    ``townships.png`` (see :mod:`weipian.stats`) and, when the epochs are
    given, ``chips/<patch_id>.png`` and ``report.html``.

    Parameters
    ----------
    judged : GeoDataFrame
    output : str or Path
        Output folder.
    before, after : str or Path, optional
        The epochs, for chips and the report map.
    bands, encoding, route, line, strict_line
        See :func:`weipian.export.export_patches` and
        :func:`weipian.stats.township_stats`.
    chips : bool
        Make evidence chips (and embed them in the report).

    Returns
    -------
    dict
        Name to path of everything written.
    """
    from .deliver.chips import make_chips
    from .deliver.lists import export_patches
    from .deliver.report import write_report
    from .stats import plot_ratio, township_stats

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    stats = township_stats(judged, line=line, strict_line=strict_line)
    if route:
        judged = judged.copy()
        from .deliver.route import route_order

        judged.insert(1, "visit_order", route_order(judged))
    written = export_patches(judged, output, stats=stats, encoding=encoding)
    with atomic_path(output / "townships.csv") as tmp:
        stats.to_csv(tmp, index=False, encoding="utf-8-sig")
    written["townships_csv"] = output / "townships.csv"
    with atomic_path(output / "townships.png") as tmp:
        import warnings

        with warnings.catch_warnings():  # no CJK font installed: boxes, not an error
            warnings.filterwarnings("ignore", message="Glyph .* missing")
            plot_ratio(stats, tmp, line=line, strict_line=strict_line)
    written["townships_png"] = output / "townships.png"
    if before is not None and after is not None:
        from .deliver.chips import epoch_stretch
        from .io import PairReader, PairSpec

        with PairReader(PairSpec(str(before), str(after), bands)) as reader:
            stretch = epoch_stretch(reader)  # once, for chips and report alike
        chip_paths = (make_chips(judged, before, after, output / "chips", bands=bands,
                                 stretch=stretch) if chips else {})
        written["chips"] = output / "chips"
        info = judged.attrs.get("weipian", {})
        written["report"] = write_report(judged, stats, output / "report.html", before=before,
                                         after=after, chips=chip_paths,
                                         chart_png=written["townships_png"],
                                         run_info=info.get("dates"), obscured=info.get("obscured"),
                                         stretch=stretch)
    return written


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (dt.date,)):
        return value.isoformat()
    return str(value)


def run(
    before,
    after,
    *,
    layers=None,
    output,
    overrides: dict | None = None,
    bands: str | None = None,
    min_area: float = 50.0,
    target: str = "construction",
    after_date=None,
    before_date=None,
    min_share: float = 0.5,
    end_date_field: str | None = None,
    batch: str | None = None,
    params: ChangeParams | None = None,
    overwrite: bool = False,
    window_size: int | None = 1024,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
    encoding: str = "UTF-8",
    route: bool = False,
    line: float = 0.15,
    strict_line: float | None = 0.08,
    chips: bool = True,
    clouds: bool = True,
    mask_before=None,
    mask_after=None,
    crs=None,
    layer_crs=None,
    min_overlap: float = 0.5,
    layer_params: LayerParams | None = None,
) -> gpd.GeoDataFrame:
    """Detect, judge and write a batch.

    Writes ``OUTDIR/patches.gpkg`` (layer ``patches``), ``OUTDIR/run.json``
    (inputs, settings, estimated shift and normalisation, counts, timings,
    versions) and everything :func:`deliver` writes (patch lists, township
    statistics, chips, ``report.html``); each file appears whole or not at
    all.

    Parameters
    ----------
    before, after : str or Path
    layers : str or Path, optional
    output : str or Path
        Output folder.
    overrides, bands, min_area, target, after_date, before_date, min_share, end_date_field, batch, params
        As for :func:`detect` and :func:`judge`.
    overwrite : bool
        Replace existing outputs.
    window_size, workers, scheduler, progress
        As for :func:`detect`.
    resume : bool
        Continue an interrupted run from the windows it finished (kept in
        ``OUTDIR/.weipian-work`` until the run completes).
    encoding, route, line, strict_line, chips
        As for :func:`deliver`.
    clouds, mask_before, mask_after, crs, min_overlap
        As for :func:`detect`.
    layer_crs, layer_params
        As for :func:`judge`.

    Returns
    -------
    GeoDataFrame
        The judged patches.
    """
    from .engine.scheduler import WorkFolder

    output = Path(output)
    targets = [output / "patches.gpkg", output / "patches.csv", output / "run.json"]
    for t in targets:
        check_output(t, overwrite=overwrite or resume)
    work = output / ".weipian-work"
    created = not output.exists()
    try:
        return _run(before, after, output=output, targets=targets, work=work, layers=layers,
                    overrides=overrides, bands=bands, min_area=min_area, target=target,
                    after_date=after_date, before_date=before_date, min_share=min_share,
                    end_date_field=end_date_field, batch=batch, params=params,
                    window_size=window_size, workers=workers, scheduler=scheduler, resume=resume,
                    progress=progress, encoding=encoding, route=route, line=line,
                    strict_line=strict_line, chips=chips, clouds=clouds, mask_before=mask_before,
                    mask_after=mask_after, crs=crs, layer_crs=layer_crs, min_overlap=min_overlap,
                    layer_params=layer_params)
    except WeipianError:
        if not resume:
            WorkFolder(work).clear()
            if created and output.exists() and not any(output.iterdir()):
                output.rmdir()
        raise


def _run(before, after, *, output, targets, work, layers, overrides, bands, min_area, target,
         after_date, before_date, min_share, end_date_field, batch, params, window_size, workers,
         scheduler, resume, progress, encoding, route, line, strict_line, chips, clouds,
         mask_before, mask_after, crs, layer_crs, min_overlap, layer_params):
    from .engine.scheduler import WorkFolder

    t0 = time.perf_counter()
    found = detect(before, after, bands=bands, min_area=min_area, target=target, params=params,
                   before_date=before_date, after_date=after_date, window_size=window_size,
                   workers=workers, scheduler=scheduler, work_dir=work, resume=resume,
                   progress=progress, clouds=clouds, mask_before=mask_before,
                   mask_after=mask_after, crs=crs, min_overlap=min_overlap)
    t1 = time.perf_counter()
    judged = judge(found, layers=layers, overrides=overrides, after_date=after_date,
                   min_share=min_share, end_date_field=end_date_field, batch=batch,
                   layer_crs=layer_crs, layer_params=layer_params)
    t2 = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    obscured = found.attrs.get("obscured")
    obscured_towns = _obscured_by_township(obscured, layers, overrides, layer_crs, layer_params)
    judged.attrs["weipian"]["obscured"] = {**judged.attrs["weipian"].get("obscured", {}),
                                           "by_township_m2": obscured_towns}
    write_patches(judged, targets[0], overwrite=True, obscured=obscured)
    deliverables = deliver(judged, output, before=before, after=after, bands=bands,
                           encoding=encoding, route=route, line=line, strict_line=strict_line,
                           chips=chips)
    record = dict(judged.attrs["weipian"])
    record["timings"] = {**record.get("timings", {}), "detect_s": round(t1 - t0, 3),
                         "judge_s": round(t2 - t1, 3), "total_s": round(time.perf_counter() - t0, 3)}
    record["outputs"] = [str(t) for t in targets] + [str(p) for p in deliverables.values()]
    record["versions"] = _versions()
    with atomic_path(targets[2]) as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=_json_default),
                       encoding="utf-8")
    WorkFolder(work).clear()
    return judged


def _versions() -> dict:
    import rasterio
    import scipy
    import skimage

    return {"weipian": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-image": skimage.__version__,
            "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__,
            "geopandas": gpd.__version__, "shapely": shapely.__version__}
