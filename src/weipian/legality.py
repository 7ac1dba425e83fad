"""Legality rules over the patch property table.

A rule is a small pure function ``rule(table, min_share) -> (hit, reason)``
over a dict of column arrays (built by :func:`property_table`); ``hit`` is
a boolean array, ``reason`` an array of strings. Rules are tried in the
order of :data:`RULES`; the first that hits labels the patch, and a patch
no rule hits is a ``violation`` with a reason that says what it lies on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely

from .io import parse_date
from .schema import iso_date
from .vector.layers import (
    NAME_FIELDS,
    TOWNSHIP_CODE_FIELDS,
    TOWNSHIP_NAME_FIELDS,
    dates_column,
    first_field,
    read_layer,
)
from .vector.overlay import layer_overlap

__all__ = ["LABELS", "LABELS_ZH", "RULES", "classify", "share", "property_table", "feature_names"]

LABELS = ("approved", "temporary_use", "government_project", "violation")
LABELS_ZH = {
    "approved": "合法用地",
    "temporary_use": "临时用地",
    "government_project": "政府投资项目",
    "violation": "违法用地",
}


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole``, 0 where ``whole`` is 0."""
    part = np.asarray(part, float)
    whole = np.asarray(whole, float)
    out = np.zeros_like(part)
    np.divide(part, whole, out=out, where=whole > 0)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _names(table, key, i):
    name = table.get(f"{key}_name", [""] * (i + 1))[i]
    return f" {name}" if name else ""


def rule_approved(table, min_share):
    """Within approved use (批准用地) by at least ``min_share``."""
    s = share(table["approved_m2"], table["area_m2"])
    hit = s >= min_share
    reason = np.array(
        [f"{_pct(s[i])} in 批准用地{_names(table, 'approved', i)}" if hit[i] else "" for i in range(len(s))],
        dtype=object,
    )
    return hit, reason


def rule_temporary(table, min_share):
    """Within a temporary-use approval (临时用地) valid at the after date."""
    s = share(table["temporary_valid_m2"], table["area_m2"])
    hit = s >= min_share
    reason = np.array(
        [
            f"{_pct(s[i])} in 临时用地{_names(table, 'temporary_valid', i)}, "
            f"valid to {table['temporary_valid_end'][i]}"
            if hit[i] else ""
            for i in range(len(s))
        ],
        dtype=object,
    )
    return hit, reason


def rule_government(table, min_share):
    """Within a government investment project (政府投资项目), without approval."""
    s = share(table["government_m2"], table["area_m2"])
    hit = s >= min_share
    reason = np.array(
        [
            f"{_pct(s[i])} in 政府投资项目{_names(table, 'government', i)}, no approval on record"
            if hit[i] else ""
            for i in range(len(s))
        ],
        dtype=object,
    )
    return hit, reason


#: Rules in the order they are tried: label -> rule.
RULES: dict[str, Callable] = {
    "approved": rule_approved,
    "temporary_use": rule_temporary,
    "government_project": rule_government,
}


def _violation_reason(table, i) -> str:
    area = table["area_m2"][i]
    parts = []
    farm = share(table["farmland_m2"][i], area)
    reserve = share(table["reserve_m2"][i], area)
    expired = share(table["temporary_expired_m2"][i], area)
    if farm > 0:
        parts.append(f"{_pct(farm)} on 耕地{_names(table, 'farmland', i)}")
    if reserve > 0:
        parts.append(f"{_pct(reserve)} on 储备地{_names(table, 'reserve', i)}")
    if expired > 0:
        parts.append(
            f"{_pct(expired)} in expired 临时用地{_names(table, 'temporary_expired', i)} "
            f"(ended {table['temporary_expired_end'][i]}, 到期未收回)"
        )
    approved = share(table["approved_m2"][i], area)
    lead = "not approved" if approved == 0 else f"only {_pct(approved)} in 批准用地"
    if not parts:
        parts.append("on other land")
    return f"{lead}; " + "; ".join(parts)


def classify(
    table: dict, *, min_share: float = 0.5, rules: dict[str, Callable] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Label every patch and give the reason.

    Parameters
    ----------
    table : dict of (n,) arrays
        Needs ``area_m2``, ``approved_m2``, ``temporary_valid_m2``,
        ``temporary_expired_m2``, ``government_m2``, ``farmland_m2``,
        ``reserve_m2``; optional ``<layer>_name`` columns name the feature
        with the largest overlap, ``temporary_valid_end`` and
        ``temporary_expired_end`` its end date.
    min_share : float
        Share of the patch area a layer must cover for its rule to hit.
    rules : dict, optional
        Label -> rule, tried in order; defaults to :data:`RULES`.

    Returns
    -------
    labels, reasons : (n,) ndarray of str

    Examples
    --------
    >>> t = dict(area_m2=np.array([100.0, 100.0]), approved_m2=np.array([60.0, 0.0]),
    ...          temporary_valid_m2=np.zeros(2), temporary_expired_m2=np.zeros(2),
    ...          government_m2=np.zeros(2), farmland_m2=np.array([0.0, 100.0]),
    ...          reserve_m2=np.zeros(2))
    >>> labels, reasons = classify(t)
    >>> list(labels), reasons[1]
    (['approved', 'violation'], 'not approved; 100 % on 耕地')
    """
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share should be in (0, 1]. Got {min_share}.")
    rules = RULES if rules is None else rules
    n = len(table["area_m2"])
    labels = np.full(n, "violation", dtype=object)
    reasons = np.full(n, "", dtype=object)
    done = np.zeros(n, bool)
    for label, rule in rules.items():
        hit, why = rule(table, min_share)
        take = hit & ~done
        labels[take] = label
        reasons[take] = why[take]
        done |= take
    for i in np.flatnonzero(~done):
        reasons[i] = _violation_reason(table, i)
    return labels, reasons


def feature_names(frame, fields=NAME_FIELDS) -> np.ndarray:
    """Each feature's identifying text (first of ``fields`` present), else ``#1``, ``#2`` ...."""
    name_field = first_field(frame.columns, fields)
    if name_field is None:
        return np.array([f"#{i + 1}" for i in range(len(frame))], dtype=object)
    return frame[name_field].fillna("").astype(str).to_numpy(dtype=object)




def _temporary_columns(table: dict, n: int) -> None:
    for status in ("valid", "expired"):
        table[f"temporary_{status}_m2"] = np.zeros(n)
        table[f"temporary_{status}_name"] = np.full(n, "", dtype=object)
        table[f"temporary_{status}_end"] = np.full(n, "", dtype=object)
    table["temporary_m2"] = np.zeros(n)


def property_table(geoms, paths: dict, acrs, *, after, bbox, end_date_field: str = "end_date",
                   layer_crs=None) -> tuple[dict, dict]:
    """Overlap of every patch with every reference layer: what the rules read.

    Parameters
    ----------
    geoms : (P,) ndarray of shapely geometries
        Patches in ``acrs``.
    paths : dict
        Layer name to path (see :func:`weipian.vector.layers.find_layers`).
    acrs : pyproj.CRS
        Projected CRS for areas.
    after : datetime.date or None
        The after date: temporary approvals ending before it are expired.
    bbox : tuple or None
        Patches' bounds (layers are read inside it).
    end_date_field : str
    layer_crs : str, optional

    Returns
    -------
    table : dict of (P,) arrays
        ``area_m2``; ``<layer>_m2`` and ``<layer>_name`` (largest overlap) for
        farmland, reserve, approved, government and townships;
        ``township_code``; ``temporary_m2`` and ``temporary_{valid,expired}_``
        ``m2`` / ``name`` / ``end``.
    info : dict
        Per layer, what was read and repaired.
    """
    table = {"area_m2": shapely.area(geoms)}
    info = {}
    for name in ("farmland", "reserve", "approved", "government", "townships"):
        if name in paths and bbox is not None:
            layer, li = read_layer(paths[name], acrs, name=name, bbox=bbox, layer_crs=layer_crs)
            info[name] = li.__dict__
        else:
            layer = None
        table.update(_layer_columns(name, geoms, layer))
    _temporary_columns(table, len(geoms))
    if "temporary" in paths and bbox is not None:
        layer, li = read_layer(paths["temporary"], acrs, name="temporary", bbox=bbox, layer_crs=layer_crs)
        info["temporary"] = li.__dict__
        ends = dates_column(layer, end_date_field, path=paths["temporary"], parse=parse_date)
        _fill_temporary(table, geoms, layer, ends, after)
    return table, info


def _layer_columns(name: str, geoms, layer) -> dict:
    """``<name>_m2`` and ``<name>_name`` (and ``township_code``) for one layer."""
    n = len(geoms)
    out = {f"{name}_m2": np.zeros(n), f"{name}_name": np.full(n, "", dtype=object)}
    if name == "townships":
        out["township_code"] = np.full(n, "", dtype=object)
    if layer is None:
        return out
    ov = layer_overlap(geoms, layer.geometry.to_numpy())
    out[f"{name}_m2"] = ov.area
    fields = {"townships": TOWNSHIP_NAME_FIELDS, "farmland": ("DLBM",)}.get(name, NAME_FIELDS)
    names = feature_names(layer, fields)
    has = ov.best >= 0
    out[f"{name}_name"][has] = names[ov.best[has]]
    if name == "townships":
        code_field = first_field(layer.columns, TOWNSHIP_CODE_FIELDS)
        codes = (layer[code_field].astype(str).to_numpy(dtype=object) if code_field
                 else np.full(len(layer), "", object))
        out["township_code"][has] = codes[ov.best[has]]
    return out


def _fill_temporary(table: dict, geoms, layer, ends, after) -> None:
    """Split temporary approvals into valid and expired at ``after`` and fill their columns."""
    valid = np.array([e is None or e >= after for e in ends], bool)
    names = feature_names(layer)
    table["temporary_m2"] = layer_overlap(geoms, layer.geometry.to_numpy()).area
    for status, sel in (("valid", valid), ("expired", ~valid)):
        idx = np.flatnonzero(sel)
        ov = layer_overlap(geoms, layer.geometry.to_numpy()[idx])
        has = ov.best >= 0
        table[f"temporary_{status}_m2"] = ov.area
        table[f"temporary_{status}_name"][has] = names[idx[ov.best[has]]]
        table[f"temporary_{status}_end"][has] = [iso_date(ends[j]) or "open-ended" for j in idx[ov.best[has]]]
