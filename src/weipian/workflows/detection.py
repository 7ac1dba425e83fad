"""``detect``: two epochs in, patches of new construction out."""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from .._version import __version__
from ..engine.tiles import CELL
from ..errors import PlausibilityWarning, WeipianError
from ..guard import plausibility
from ..io import parse_date
from ..learn.network_outputs import OUTPUTS
from ..obscured import obscured_polygons
from ..patches import assemble_pieces, min_pixels_for
from ..schema import add_location_fields, iso_date, pixel_area_m2, scene_area_crs
from ..settings import DetectSettings, Execution, resolve

__all__ = ["detect"]


def detect(before, after, settings: DetectSettings | None = None, *,
           execution: Execution | None = None, **options) -> gpd.GeoDataFrame:
    """Find patches of new construction between two epochs.

    The pair is processed in windows (``execution.window_size`` pixels plus a
    halo) in parallel through Dask; shift, normalisation and noise are
    estimated once for the whole pair, so the patches are identical whatever
    the window size and the number of workers.

    Parameters
    ----------
    before, after : str or Path
        Any GDAL rasters; the after image is aligned onto the before grid.
    settings : DetectSettings, optional
        Bands, minimum mapping unit, target, change core, masks, dates.
    execution : Execution, optional
        Windows, workers, scheduler, work folder and resume.
    **options
        Any field of :class:`~weipian.settings.DetectSettings`,
        :class:`~weipian.settings.ChangeParams` or
        :class:`~weipian.settings.Execution` by name (``min_area=80``,
        ``threshold=0.6``, ``workers=2``); wins over the objects.

    Returns
    -------
    GeoDataFrame
        One row per patch (``patch_id``, ``score``, ``area_m2``, ``area_mu``,
        ``x``, ``y``, ``lon``, ``lat``, ``before_date``, ``after_date``) in the
        before image's CRS; ``attrs["weipian"]`` holds the settings, the
        estimated shift, normalisation, counts and timings, and
        ``attrs["obscured"]`` the obscured area as polygons.

    Raises
    ------
    weipian.errors.WeipianError
        For unreadable, non-overlapping or ill-described inputs.
    """
    from ..engine.scheduler import WorkFolder, resolve_scheduler, run_tiles
    from ..io import PairSpec
    from ..learn.model import load_model

    settings, execution = resolve(options, detect=settings, execution=execution)
    resolve_scheduler(execution.scheduler)  # a wrong name fails before anything is read or written
    given_dates = _given_dates(settings)
    net = load_model(settings.params.model)
    spec = PairSpec(str(before), str(after), settings.bands, None, settings.mask_before,
                    settings.mask_after, settings.crs, float(settings.min_overlap))
    window_size = _snap_window(execution.window_size, net.tile)
    work = WorkFolder(execution.work_dir) if execution.work_dir is not None else None
    timings = {}
    try:
        t0 = time.perf_counter()
        scene, pair = _open_pair(spec, net, _fingerprint(spec, settings, window_size), work=work,
                                 execution=execution, clouds=settings.clouds)
        timings["model_s"] = time.perf_counter() - t0
        tiles, detector, masks = _plan(scene, net, settings, window_size)
        min_pixels = min_pixels_for(settings.min_area, scene.pixel_m2)
        parts = run_tiles(spec, tiles, pair, detector, min_pixels=min_pixels, workers=execution.workers,
                          scheduler=execution.scheduler, work=work, progress=execution.progress,
                          masks=masks)
        timings["tiles_s"] = time.perf_counter() - t0 - timings["model_s"]
    except WeipianError:
        if work is not None and not execution.resume:  # bad input: leave nothing behind
            work.clear()
        raise
    t0 = time.perf_counter()
    dates = {k: v or scene.dates[k] for k, v in given_dates.items()}
    frame = _patch_frame(assemble_pieces(parts, min_pixels=min_pixels), scene, settings.min_area, dates)
    timings["assemble_s"] = time.perf_counter() - t0
    frame.attrs["obscured"] = obscured_polygons(tiles, parts, scene.shape, scene.transform, scene.crs, CELL)
    frame.attrs["weipian"] = {
        "inputs": {"before": str(before), "after": str(after)},
        "settings": {"detect": settings.to_dict(),
                     "execution": {**execution.to_dict(), "window_size": window_size}},
        **_detect_record(scene, pair, detector, tiles, parts, work, settings, dates, source=str(before)),
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


def _fingerprint(spec, settings: DetectSettings, window_size) -> dict:
    """What a resumed run must share with the run it continues."""
    return {"spec": spec.__dict__, "params": settings.params.to_dict(), "target": str(settings.target),
            "min_area": settings.min_area, "window_size": window_size, "clouds": settings.clouds,
            "version": __version__}


def _given_dates(settings: DetectSettings) -> dict:
    """The epochs' dates given in the settings (None: read from the image tags)."""
    given = {"before": (settings.before_date, "--before-date"),
             "after": (settings.after_date, "--after-date")}
    return {k: parse_date(v, source=src) if v else None for k, (v, src) in given.items()}


def _open_pair(spec, net, fingerprint, *, work, execution: Execution, clouds: bool):
    """Open the pair, check it against the model, estimate (or reload) the pair model."""
    from ..engine.pair_model import PairModel, estimate_pair_model
    from ..io import PairReader
    from ..raster.clouds import CloudParams

    with PairReader(spec) as reader:
        acrs = scene_area_crs(reader.transform, reader.shape, reader.crs, source=str(reader.spec.before))
        scene = _Scene(reader.shape, reader.transform, reader.crs, reader.roles, reader.dates, acrs,
                       pixel_area_m2(reader.transform, reader.shape, reader.crs, acrs))
        net.for_gsd(scene.gsd_m).check(scene.roles, scene.gsd_m, source=spec.before)
        if work is not None:  # only once the inputs have opened: bad input leaves nothing
            work.bind(fingerprint, resume=execution.resume)
        stored = work.load("model") if (work is not None and execution.resume) else None
        pair = (PairModel.from_dict(stored) if stored
                else estimate_pair_model(reader, workers=execution.workers,
                                         clouds=CloudParams() if clouds else None,
                                         resolution_m=scene.gsd_m))
    if work is not None:
        work.save("model", pair.to_dict())
    return scene, pair


def _plan(scene: _Scene, net, settings: DetectSettings, window_size):
    """The tiles to run and the settings every tile gets."""
    from ..engine.tiles import Detector, MaskSettings
    from ..engine.windows import HALO, tile_windows
    from ..learn.resolution import quality_flips
    from ..raster.clouds import CloudParams

    target, params = settings.target, settings.params
    net = net.for_gsd(scene.gsd_m)  # a model routed for these pixel sizes (routes.json), or net itself
    if target not in OUTPUTS:
        raise WeipianError(f"target was {target!r} but is expected to be one of {', '.join(OUTPUTS)}")
    factor = net.factor_for(scene.gsd_m, params.quality)
    detector = Detector(model=net, target=target,
                        threshold=(params.threshold if params.threshold is not None
                                   else net.threshold(target, scene.gsd_m)),
                        gsd_m=net.gsd_for_model(scene.gsd_m, factor), vegetation_ndvi=params.vegetation_ndvi,
                        factor=factor, flips=quality_flips(params.quality))
    masks = MaskSettings(clouds=CloudParams() if settings.clouds else None, resolution_m=scene.gsd_m)
    halo = HALO + (CloudParams().reach(scene.gsd_m) if settings.clouds else 0)
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


def _guard(pair, parts, dates, *, source: str, pixel_m2: float) -> dict:
    """The plausibility guard's finding (:mod:`weipian.guard`), warned and logged where it fires."""
    flagged = sum(int(p["flagged"][0]) for p in parts)
    clear = sum(int(p["valid"][0]) - int(p["obscured"][0]) for p in parts)
    finding = plausibility(flagged, clear, pixel_m2=pixel_m2, shift_px=pair.shift,
                           invariant_share=pair.invariant_share,
                           levels_before=pair.levels_before, levels_after=pair.levels_after, dates=dates)
    if not finding["plausible"]:
        logging.getLogger("weipian.guard").warning("%s: %s", source, finding["message"])
        warnings.warn(f"{source}: {finding['message']}", PlausibilityWarning, stacklevel=3)
    return finding


def _detect_record(scene: _Scene, pair, detector, tiles, parts, work, settings: DetectSettings, dates, *,
                   source: str) -> dict:
    """Provenance of a detection for run.json: grid, shift, normalisation, model, counts, guard."""
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
                  "vegetation_ndvi": detector.vegetation_ndvi, "factor": detector.factor,
                  "flips": detector.flips, "quality": settings.params.quality,
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
                     "clouds_detected": bool(settings.clouds),
                     "masks": [m for m in (settings.mask_before, settings.mask_after) if m]},
        "guard": _guard(pair, parts, dates, source=source, pixel_m2=scene.pixel_m2),
    }
