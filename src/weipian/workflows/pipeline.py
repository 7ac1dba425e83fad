"""``run``: detect, judge and deliver one batch into a folder, with its ``run.json``."""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from .._version import __version__
from ..errors import WeipianError
from ..io import atomic_path, check_output
from ..obscured import obscured_by_township
from ..patch_files import write_patches
from ..settings import DeliverSettings, DetectSettings, Execution, FarmlandSettings, JudgeSettings, resolve
from .delivery import deliver
from .detection import detect
from .judgement import judge

__all__ = ["run"]


def run(before, after, *, layers=None, output, overrides: dict | None = None, overwrite: bool = False,
        detect: DetectSettings | None = None, judge: JudgeSettings | None = None,
        deliver: DeliverSettings | None = None, execution: Execution | None = None,
        farmland: FarmlandSettings | None = None, **options) -> gpd.GeoDataFrame:
    """Detect, judge and write a batch.

    Writes ``OUTDIR/patches.gpkg`` (layer ``patches``), ``OUTDIR/run.json``
    (inputs, the four settings objects, estimated shift and normalisation,
    counts, timings, versions) and everything :func:`weipian.workflows.deliver`
    writes (patch lists, township statistics, chips, ``report.html``); each
    file appears whole or not at all.

    Parameters
    ----------
    before, after : str or Path
        The epochs.
    layers : str or Path, optional
        Folder holding the reference layers.
    output : str or Path
        Output folder.
    overrides : dict, optional
        Layer name to path; wins over the folder.
    overwrite : bool
        Replace existing outputs.
    detect, judge, deliver, execution, farmland : settings objects, optional
        :class:`~weipian.settings.DetectSettings`,
        :class:`~weipian.settings.JudgeSettings`,
        :class:`~weipian.settings.DeliverSettings`,
        :class:`~weipian.settings.Execution`,
        :class:`~weipian.settings.FarmlandSettings`. With ``execution.resume`` an
        interrupted run continues from the windows it finished (kept in
        ``OUTDIR/.weipian-work`` until the run completes). With
        ``farmland.farmland_use`` every farmland parcel is judged too
        (:func:`weipian.workflows.farmland.farmland_use`): ``parcels.gpkg``,
        ``parcels.xlsx``, ``farmland_townships.csv``, ``worst_ten.csv``,
        ``chips_parcels/``, ``farmland.html`` and a section of ``report.html``.
    **options
        Any field of those objects by name (``min_area=80``, ``workers=2``,
        ``chips=False``); wins over the objects. ``after_date`` goes to both
        detection and judgement.

    Returns
    -------
    GeoDataFrame
        The judged patches.
    """
    from ..engine.scheduler import WorkFolder

    steps = resolve(options, detect=detect, judge=judge, deliver=deliver, execution=execution,
                    farmland=farmland)
    output = Path(output)
    targets = [output / "patches.gpkg", output / "patches.csv", output / "run.json"]
    for t in targets:
        check_output(t, overwrite=overwrite or steps[3].resume)
    work = output / ".weipian-work"
    created = not output.exists()
    try:
        return _run(before, after, layers, overrides, output, targets, work, *steps)
    except WeipianError:
        if not steps[3].resume:
            WorkFolder(work).clear()
            if created and output.exists() and not any(output.iterdir()):
                output.rmdir()
        raise


def _run(before, after, layers, overrides, output: Path, targets, work: Path, detect_s: DetectSettings,
         judge_s: JudgeSettings, deliver_s: DeliverSettings, execution: Execution,
         farmland_s: FarmlandSettings):
    from dataclasses import replace

    from ..engine.scheduler import WorkFolder

    t0 = time.perf_counter()
    found = detect(before, after, detect_s, execution=replace(execution, work_dir=str(work)))
    t1 = time.perf_counter()
    judged = judge(found, layers=layers, overrides=overrides, settings=judge_s)
    t2 = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    obscured = found.attrs.get("obscured")
    judged.attrs["weipian"]["obscured"] = {
        **judged.attrs["weipian"].get("obscured", {}),
        "by_township_m2": obscured_by_township(obscured, layers, overrides, judge_s.layer_crs,
                                               judge_s.layer_params)}
    write_patches(judged, targets[0], overwrite=True, obscured=obscured)
    from ..deliver.chips import stretch_from_record

    stretch = stretch_from_record(found.attrs["weipian"])  # detection's input levels, for every chip and map
    farmland_out = (_farmland(before, after, layers, overrides, output, judged, detect_s, judge_s, deliver_s,
                              farmland_s, stretch) if farmland_s.farmland_use else {})
    t3 = time.perf_counter()
    section = farmland_out.pop("section", None)
    deliverables = deliver(judged, output, before=before, after=after, bands=detect_s.bands,
                           settings=deliver_s, sections=[section] if section else None, stretch=stretch)
    record = dict(judged.attrs["weipian"])
    record["settings"] = {**record.get("settings", {}), "deliver": deliver_s.to_dict(),
                          "farmland": farmland_s.to_dict()}
    if "record" in farmland_out:
        record["farmland"] = farmland_out.pop("record")
    record["timings"] = {**record.get("timings", {}), "detect_s": round(t1 - t0, 3),
                         "judge_s": round(t2 - t1, 3), "farmland_s": round(t3 - t2, 3),
                         "total_s": round(time.perf_counter() - t0, 3)}
    record["outputs"] = ([str(t) for t in targets] + [str(p) for p in deliverables.values()]
                         + [str(p) for p in farmland_out.values()])
    record["versions"] = _versions()
    with atomic_path(targets[2]) as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=_json_default),
                       encoding="utf-8")
    WorkFolder(work).clear()
    return judged


def _farmland(before, after, layers, overrides, output: Path, judged, detect_s: DetectSettings,
              judge_s: JudgeSettings, deliver_s: DeliverSettings, farmland_s: FarmlandSettings,
              stretch) -> dict:
    """Farmland use of the run's pair, with the run's patches linked; its files, section and record."""
    from ..deliver.farmland import write_farmland_outputs
    from ..stats import township_stats
    from .farmland import farmland_use

    patches = judged.copy(deep=False)
    patches.attrs = {}  # pandas deep-copies attrs on every operation; farmland use needs none of them
    parcels = farmland_use(before, after, layers=layers, overrides=overrides, patches=patches,
                           model=farmland_s.cover_model, bands=detect_s.bands,
                           before_date=detect_s.before_date,
                           after_date=detect_s.after_date or judge_s.after_date,
                           farmland_where=judge_s.layer_params.farmland_where, layer_crs=judge_s.layer_crs,
                           clouds=detect_s.clouds, mask_before=detect_s.mask_before,
                           mask_after=detect_s.mask_after, rule=farmland_s.rule())
    stats = township_stats(patches, line=deliver_s.line, strict_line=deliver_s.strict_line)
    out = write_farmland_outputs(parcels, output, before=before, after=after, bands=detect_s.bands,
                                 patch_stats=stats, chips=deliver_s.chips, stretch=stretch)
    out["record"] = parcels.attrs["weipian"]["farmland"]
    return out


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (dt.date,)):
        return value.isoformat()
    return str(value)


def _versions() -> dict:
    import rasterio
    import scipy
    import skimage

    return {"weipian": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-image": skimage.__version__,
            "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__,
            "geopandas": gpd.__version__, "shapely": shapely.__version__}
