"""Legality rules over the patch property table.

A rule is a small pure function ``rule(table, min_share) -> (hit, reason)``
over a dict of column arrays (built by
:func:`weipian.properties.property_table`); ``hit`` is a boolean array,
``reason`` an array of strings. Rules are tried in the order of
:data:`RULES`; the first that hits labels the patch, and a patch no rule
hits is a ``violation`` with a reason that says what it lies on. Whatever
the label, occupation of 永久基本农田 and the ecological red line, and
construction outside the urban development boundary, are added to the
reason (:func:`flag_clauses`).

Beside each label, :data:`EVIDENCE_CATEGORIES` gives the 举证 category a
field crew records for it (``evidence_category``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .properties import property_table
from .vector.layers import NAME_FIELDS, first_field
from .vector.naming import feature_labels

__all__ = ["LABELS", "LABELS_ZH", "EVIDENCE_CATEGORIES", "RULES", "classify", "share", "property_table",
           "feature_names", "flag_clauses"]

LABELS = ("approved", "temporary_use", "government_project", "violation", "not_construction")
LABELS_ZH = {
    "approved": "合法用地",
    "temporary_use": "临时用地",
    "government_project": "政府投资项目",
    "violation": "违法用地",
    "not_construction": "非建设（设施农用地）",
}

#: The 举证 category a field crew records for each label (national 卫片执法 vocabulary).
EVIDENCE_CATEGORIES = {
    "approved": "合法-农转用",
    "temporary_use": "非新增-临时用地",
    "not_construction": "非新增-设施农用地",
    "government_project": "违法",
    "violation": "违法",
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


def _m2(x: float) -> str:
    return f"{x:,.0f} m²"


def _names(table, key, i):
    name = table.get(f"{key}_name", [""] * (i + 1))[i]
    return f" {name}" if name else ""


def _column(table, key, n, fill):
    """``table[key]``, or ``fill`` repeated where the table lacks it."""
    value = table.get(key)
    return np.full(n, fill, dtype=object if isinstance(fill, str) else type(fill)) if value is None else value


def rule_approved(table, min_share):
    """Within approved use (批准用地) by at least ``min_share``; cites 文号 and 批准时间."""
    s = share(table["approved_m2"], table["area_m2"])
    hit = s >= min_share
    dates = _column(table, "approved_date", len(s), "")
    reason = np.array(
        [f"{_pct(s[i])} in 批准用地{_names(table, 'approved', i)}"
         + (f", approved {dates[i]}" if dates[i] else "") if hit[i] else ""
         for i in range(len(s))],
        dtype=object,
    )
    return hit, reason


def rule_facility(table, min_share):
    """Within a registered facility-agriculture record (设施农用地备案): not construction."""
    s = share(_column(table, "facility_m2", len(table["area_m2"]), 0.0), table["area_m2"])
    hit = s >= min_share
    reason = np.array(
        [f"{_pct(s[i])} in 设施农用地备案{_names(table, 'facility', i)}: registered facility "
         "agriculture, not construction" if hit[i] else "" for i in range(len(s))],
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
    key = _column(table, "government_key", len(s), False)
    reason = np.array(
        [
            f"{_pct(s[i])} in 政府投资项目{_names(table, 'government', i)}"
            f"{' (重点工程)' if key[i] else ''}, no approval on record"
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
    "not_construction": rule_facility,
    "government_project": rule_government,
}


def _violation_reason(table, i) -> str:
    area = table["area_m2"][i]
    parts = []
    farm = share(table["farmland_m2"][i], area)
    reserve = share(table["reserve_m2"][i], area)
    expired = share(table["temporary_expired_m2"][i], area)
    if farm > 0:
        basic = table.get("basic_farmland_m2", np.zeros(i + 1))[i]
        of_which = f", of which {_m2(basic)} 永久基本农田" if basic > 0 else ""
        parts.append(f"{_pct(farm)} on 耕地{_names(table, 'farmland', i)}{of_which}")
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
    >>> t["basic_farmland_m2"] = np.array([0.0, 40.0])
    >>> classify(t)[1][1]
    'not approved; 100 % on 耕地, of which 40 m² 永久基本农田'
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
    extra = flag_clauses(table, labels)
    reasons = np.array([r + e for r, e in zip(reasons, extra)], dtype=object)
    return labels, reasons


def flag_clauses(table: dict, labels) -> np.ndarray:
    """What every reason adds, whatever the label: 永久基本农田, red line, development boundary.

    Parameters
    ----------
    table : dict of (n,) arrays
        Optional ``basic_farmland_m2``, ``redline_m2`` (and ``redline_name``),
        ``boundary_m2`` with ``boundary_present``; ``farmland_m2``.
    labels : (n,) array of str

    Returns
    -------
    (n,) ndarray of str
        ``""`` or clauses starting with ``"; "``. 永久基本农田 is left out
        where the violation reason already names it with 耕地.
    """
    n = len(table["area_m2"])
    area = np.asarray(table["area_m2"], float)
    basic = _column(table, "basic_farmland_m2", n, 0.0)
    redline = _column(table, "redline_m2", n, 0.0)
    inside = _column(table, "boundary_m2", n, 0.0)
    bounded = _column(table, "boundary_present", n, False)
    farm = _column(table, "farmland_m2", n, 0.0)
    out = np.full(n, "", dtype=object)
    for i in range(n):
        parts = []
        named_with_farmland = labels[i] == "violation" and farm[i] > 0
        if basic[i] > 0 and not named_with_farmland:
            parts.append(f"{_m2(basic[i])} in 永久基本农田")
        if redline[i] > 0:
            parts.append(f"{_m2(redline[i])} in 生态保护红线{_names(table, 'redline', i)}")
        outside = share(area[i] - inside[i], area[i]) if bounded[i] else 0.0
        if outside > 0.005:
            parts.append(f"{_pct(outside)} outside 城镇开发边界")
        out[i] = "".join(f"; {p}" for p in parts)
    return out


def feature_names(frame, fields=NAME_FIELDS) -> np.ndarray:
    """Each feature's identifying text (first of ``fields`` present), else its id.

    See :func:`weipian.vector.naming.feature_labels`; ``judge`` itself chooses
    the field per layer with :func:`weipian.vector.naming.choose_name_field`.
    """
    return feature_labels(frame, first_field(frame.columns, fields))
