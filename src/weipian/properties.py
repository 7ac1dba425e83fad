"""The patch property table: what of each reference layer every patch lies in.

:func:`property_table` reads each layer inside the patches' bounds, overlays
it (:func:`weipian.vector.overlay.layer_overlap`) and returns a dict of
column arrays, one row per patch: the area in each layer, the name of the
feature with the largest overlap, and per layer what the rules and the
statistics need (land classes, approval and end dates, key projects). The
legality rules (:mod:`weipian.legality`) read nothing else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from .io import parse_date
from .key_projects import key_project_flags, read_key_project_list
from .schema import iso_date
from .settings import LayerParams
from .vector.layers import (
    CLASS_FIELD,
    FARMLAND_CLASSES,
    TOWNSHIP_CODE_FIELDS,
    dates_column,
    first_field,
    read_layer,
)
from .vector.naming import (
    APPROVAL_DATE_FIELDS,
    END_DATE_FIELDS,
    choose_name_field,
    farmland_class_names,
    feature_labels,
)
from .vector.overlay import layer_overlap

__all__ = ["property_table", "OVERLAY_LAYERS"]

#: Layers overlaid with every patch (temporary approvals are split by date apart).
OVERLAY_LAYERS = ("farmland", "basic_farmland", "reserve", "approved", "government", "townships",
                  "redline", "boundary", "facility")


def property_table(geoms, paths: dict, acrs, *, after, bbox, layer_crs=None,
                   layer_params: LayerParams | None = None) -> tuple[dict, dict]:
    """Overlap of every patch with every reference layer: what the rules read.

    Parameters
    ----------
    geoms : (P,) ndarray of shapely geometries
        Patches in ``acrs``.
    paths : dict
        Layer name to path (see :func:`weipian.vector.layers.find_layers`).
    acrs : pyproj.CRS
        Projected CRS for areas (metres).
    after : datetime.date or None
        The after date: temporary approvals ending before it are expired.
    bbox : tuple or None
        Patches' bounds (layers are read inside it).
    layer_crs : str, optional
        CRS to assume for layers without one.
    layer_params : LayerParams, optional
        Farmland filter, name fields, key projects.

    Returns
    -------
    table : dict of (P,) arrays
        ``area_m2``; for each layer of :data:`OVERLAY_LAYERS` ``<layer>_m2``
        (m²) and ``<layer>_name`` (the feature with the largest overlap);
        ``farmland_0101_m2``/``0102``/``0103`` (m² per farmland class, from
        ``DLBM``); ``approved_date`` (批准时间); ``government_key`` (the
        government feature is a key project); ``township_code``;
        ``<layer>_present`` (bool: the layer was given); ``temporary_m2`` and
        ``temporary_{valid,expired}_`` ``m2`` / ``name`` / ``end``.
    info : dict
        Per layer, what was read, repaired and which field names its
        features; ``key_projects``: the key-project rule applied.
    """
    params = layer_params or LayerParams()
    n = len(geoms)
    table = {"area_m2": shapely.area(np.asarray(geoms, dtype=object)).astype(float)}
    info: dict = {}
    listed = read_key_project_list(params.key_projects) if params.key_projects else None
    for name in OVERLAY_LAYERS:
        layer = _read(name, paths, acrs, bbox, layer_crs, params, info)
        columns, best = _overlay_columns(name, geoms, layer, info.get(name, {}).get("name_field") or None)
        table.update(columns)
        table[f"{name}_present"] = np.full(n, layer is not None)
        if name == "government" and layer is not None:
            flags, record = key_project_flags(layer, flag_field=params.key_field, listed=listed,
                                              path=str(paths[name]))
            table["government_key"] = np.where(best >= 0, flags[np.maximum(best, 0)], False)
            info["key_projects"] = record
    if "government_key" not in table:
        table["government_key"] = np.zeros(n, bool)
        _, info["key_projects"] = key_project_flags(pd.DataFrame(), listed=listed)
    _temporary_columns(table, n)
    layer = _read("temporary", paths, acrs, bbox, layer_crs, params, info)
    if layer is not None:
        field = params.end_date_field or first_field(layer.columns, END_DATE_FIELDS)
        ends = dates_column(layer, field or "end_date", path=paths["temporary"], parse=parse_date)
        info["temporary"]["end_date_field"] = field
        _fill_temporary(table, geoms, layer, ends, after, info["temporary"]["name_field"] or None)
    return table, info


def _read(name, paths, acrs, bbox, layer_crs, params: LayerParams, info: dict):
    """One layer inside ``bbox`` in ``acrs`` (None where not given), its naming recorded in ``info``."""
    if name not in paths or bbox is None:
        return None
    where = params.farmland_where if name == "farmland" else None
    layer, li = read_layer(paths[name], acrs, name=name, bbox=bbox, layer_crs=layer_crs, where=where)
    class_field = first_field(layer.columns, (CLASS_FIELD,)) if name == "farmland" else None
    if class_field and name not in params.name_fields:
        li.name_field, li.name_field_how = class_field, "land class"
    else:
        field, how = choose_name_field(layer, name, params.name_fields.get(name), path=str(paths[name]))
        li.name_field, li.name_field_how = field or "", how
    info[name] = li.__dict__
    return layer


def _overlay_columns(name: str, geoms, layer, name_field) -> tuple[dict, np.ndarray]:
    """``<name>_m2``, ``<name>_name`` and the layer's own columns for one layer.

    Returns the columns and, per patch, the index of the feature with the
    largest overlap (-1 where none).
    """
    n = len(geoms)
    out = {f"{name}_m2": np.zeros(n), f"{name}_name": np.full(n, "", dtype=object)}
    if name == "farmland":
        out.update({f"farmland_{code}_m2": np.zeros(n) for code in FARMLAND_CLASSES})
    if name == "approved":
        out["approved_date"] = np.full(n, "", dtype=object)
    if name == "townships":
        out["township_code"] = np.full(n, "", dtype=object)
    if layer is None:
        return out, np.full(n, -1, np.int64)
    ov = layer_overlap(geoms, layer.geometry.to_numpy())
    out[f"{name}_m2"] = ov.area
    has = ov.best >= 0
    class_field = first_field(layer.columns, (CLASS_FIELD,)) if name == "farmland" else None
    if class_field is not None and name_field == class_field:
        names = farmland_class_names(layer[class_field].tolist())
    else:
        names = feature_labels(layer, name_field)
    out[f"{name}_name"][has] = names[ov.best[has]]
    if class_field is not None:
        codes = np.array([str(c).strip()[:4] for c in layer[class_field].tolist()], dtype=object)
        for code in FARMLAND_CLASSES:
            out[f"farmland_{code}_m2"] = ov.area_by_group(codes, code)
    if name == "approved":
        dates = _approval_dates(layer)
        out["approved_date"][has] = dates[ov.best[has]]
    if name == "townships":
        code_field = first_field(layer.columns, TOWNSHIP_CODE_FIELDS)
        codes = (layer[code_field].astype(str).to_numpy(dtype=object) if code_field
                 else np.full(len(layer), "", object))
        out["township_code"][has] = codes[ov.best[has]]
    return out, ov.best


def _approval_dates(layer) -> np.ndarray:
    """Each approval's date (批准时间) as ``YYYY-MM-DD``; as written where not a date; "" where none."""
    field = first_field(layer.columns, APPROVAL_DATE_FIELDS)
    out = np.full(len(layer), "", dtype=object)
    if field is None:
        return out
    from .errors import DateError

    for i, value in enumerate(layer[field].tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue
        try:
            out[i] = iso_date(parse_date(value, source=field))
        except DateError:
            out[i] = str(value).strip()
    return out


def _temporary_columns(table: dict, n: int) -> None:
    for status in ("valid", "expired"):
        table[f"temporary_{status}_m2"] = np.zeros(n)
        table[f"temporary_{status}_name"] = np.full(n, "", dtype=object)
        table[f"temporary_{status}_end"] = np.full(n, "", dtype=object)
    table["temporary_m2"] = np.zeros(n)
    table["temporary_present"] = np.zeros(n, bool)


def _fill_temporary(table: dict, geoms, layer, ends, after, name_field) -> None:
    """Split temporary approvals into valid and expired at ``after`` and fill their columns."""
    valid = np.array([e is None or e >= after for e in ends], bool)
    names = feature_labels(layer, name_field)
    features = layer.geometry.to_numpy()
    table["temporary_m2"] = layer_overlap(geoms, features).area
    table["temporary_present"][:] = True
    for status, sel in (("valid", valid), ("expired", ~valid)):
        idx = np.flatnonzero(sel)
        ov = layer_overlap(geoms, features[idx])
        has = ov.best >= 0
        table[f"temporary_{status}_m2"] = ov.area
        table[f"temporary_{status}_name"][has] = names[idx[ov.best[has]]]
        table[f"temporary_{status}_end"][has] = [iso_date(ends[j]) or "open-ended" for j in idx[ov.best[has]]]
