"""``judge``: patches overlaid with the reference layers, each labelled with a reason."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from ..errors import DateError, LayerError
from ..io import parse_date
from ..legality import EVIDENCE_CATEGORIES, LABELS_ZH, classify, property_table
from ..patch_files import read_patches
from ..schema import (
    LAYER_AREA_FIELDS,
    PATCH_FIELDS,
    add_location_fields,
    batch_of,
    frame_area_crs,
    iso_date,
    patch_ids,
)
from ..settings import JudgeSettings, resolve
from ..vector.layers import find_layers

__all__ = ["judge"]


def judge(patches, *, layers=None, overrides: dict | None = None, settings: JudgeSettings | None = None,
          **options) -> gpd.GeoDataFrame:
    """Overlay patches with the reference layers and label them.

    Parameters
    ----------
    patches : GeoDataFrame or str or Path
        From :func:`weipian.detect`, or a GeoPackage written by ``weipian detect``.
    layers : str or Path, optional
        Folder holding the reference layers (see :mod:`weipian.vector.layers`).
    overrides : dict, optional
        Layer name to path; wins over the folder.
    settings : JudgeSettings, optional
        After date, minimum share, batch, layer CRS and how layers are read.
    **options
        Any field of :class:`~weipian.settings.JudgeSettings` or
        :class:`~weipian.settings.LayerParams` by name (``min_share=0.3``,
        ``farmland_where="..."``); wins over ``settings``.

    Returns
    -------
    GeoDataFrame
        The fields of :data:`weipian.schema.PATCH_FIELDS`, geometry in the
        patches' CRS; ``attrs["weipian"]["judge"]`` records the layers read,
        their repairs and the settings.

    Raises
    ------
    weipian.errors.WeipianError
    """
    (settings,) = resolve(options, judge=settings)
    source = None
    if not isinstance(patches, gpd.GeoDataFrame):
        source = str(patches)
        patches = read_patches(patches)
    frame = patches.copy()
    crs = frame.crs
    if crs is None:
        raise LayerError("patches have no CRS; write them with weipian detect")
    paths = find_layers(layers, overrides)
    after = _judge_date(frame, settings.after_date, paths)
    acrs = frame_area_crs(frame, source=source)
    geoms = frame.geometry.to_crs(acrs).to_numpy()
    bbox = tuple(frame.total_bounds) if len(frame) else None
    table, info = property_table(geoms, paths, acrs, after=after, bbox=bbox, layer_crs=settings.layer_crs,
                                 layer_params=settings.layer_params)
    key_projects = info.pop("key_projects")
    labels, reasons = classify(table, min_share=settings.min_share)
    batch = settings.batch or batch_of(after)
    _fill_judged_fields(frame, table, labels, reasons, acrs=acrs, after=after, batch=batch)
    frame = gpd.GeoDataFrame(frame[list(PATCH_FIELDS)], geometry=frame.geometry, crs=crs)
    record = dict(patches.attrs.get("weipian", {}))
    record["settings"] = {**record.get("settings", {}), "judge": settings.to_dict()}
    frame.attrs["weipian"] = {**record, "judge": {
        "layers": {k: str(v) for k, v in paths.items()},
        "layer_info": info,
        "after_date": iso_date(after),
        "min_share": settings.min_share,
        "end_date_field": (info.get("temporary") or {}).get("end_date_field",
                                                            settings.layer_params.end_date_field),
        "layer_params": settings.layer_params.to_dict(),
        "name_fields": {k: {"field": v["name_field"], "how": v["name_field_how"]} for k, v in info.items()},
        "key_projects": key_projects,
        "batch": batch,
        "counts": {lab: int((labels == lab).sum()) for lab in LABELS_ZH},
    }}
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
