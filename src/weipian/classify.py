"""Legality rules over the patch property table.

A rule is a small pure function ``rule(table, min_share) -> (hit, reason)``
over a dict of column arrays (see :func:`weipian.tools.judge` for the
columns); ``hit`` is a boolean array, ``reason`` an array of strings. Rules
are tried in the order of :data:`RULES`; the first that hits labels the
patch, and a patch no rule hits is a ``violation`` with a reason that says
what it lies on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["LABELS", "LABELS_ZH", "RULES", "classify", "share"]

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
