"""The state of each farmland parcel from its cover shares in both epochs (pure).

The rule, in order (:class:`ParcelRule` holds its settings):

1. **非农化** (``non_agri``): construction patches cover at least
   ``min_built_m2`` of the parcel. The patches are linked; a parcel both
   built and dug is reported once, here.
2. **不确定** (``uncertain``): the parcel has fewer than ``min_pixels`` pixels
   on the cover grid, more than ``max_obscured`` of it is under cloud or
   without data in the after epoch, or the model's mean confidence there is
   below ``min_confidence``.
3. **非粮化** (``non_grain``): one non-cropland use (pond, orchard, forest,
   grass; see :mod:`weipian.farmland.covers`) holds at least ``min_share`` of
   the parcel's clear pixels and at least ``min_area_m2``. A paddy parcel that
   is water in the flooding season (``flood_months`` of the after date) is
   不确定 instead: a flooded paddy and a new pond look alike on one date.
4. **不确定** again: built-up cover holds ``min_share`` without a
   construction patch (an older building, a greenhouse or a facility); or
   bare ground holds ``min_share`` on both dates and both lie in the growing
   season (``growing_months``): possibly abandoned (撂荒), which one pair cannot
   tell from fallow.
5. **耕种** (``cropped``) otherwise: cropland, or bare ground between crops.

Each parcel gets a reason a person can check against the images, e.g.
``"82 % pond (坑塘/水面) on 2024-06-20, was paddy 91 % on 2023-06-18"``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .covers import CROPLAND, USE_OF_COVER, USE_ZH

__all__ = ["ParcelRule", "judge_parcels", "cover_summary"]


@dataclass(frozen=True)
class ParcelRule:
    """Settings of the parcel rule.

    Attributes
    ----------
    min_share : float
        Share of a parcel's clear pixels a new use must hold (0–1).
    min_area_m2 : float
        Area (m²) a new use must hold on the parcel.
    max_obscured : float
        Largest share of a parcel under cloud or without data in the after
        epoch that still allows a judgement.
    min_pixels : int
        Fewest cover-grid pixels a parcel needs.
    min_confidence : float
        Lowest mean probability of the winning class over the parcel.
    min_built_m2 : float
        Area (m²) of construction patches on a parcel that makes it 非农化.
    flood_months : tuple of int
        Months in which paddies stand under water (transplanting).
    growing_months : tuple of int
        Months in which cropland is expected to carry a crop (bare on two such
        dates: possibly abandoned).
    """

    min_share: float = 0.5
    min_area_m2: float = 200.0
    max_obscured: float = 0.3
    min_pixels: int = 4
    min_confidence: float = 0.4
    min_built_m2: float = 50.0
    flood_months: tuple = (4, 5, 6)
    growing_months: tuple = (4, 5, 6, 7, 8, 9, 10)

    def __post_init__(self):
        if not 0 < self.min_share <= 1:
            raise ValueError(f"min_share was {self.min_share} but is expected to be in (0, 1]")
        if self.min_area_m2 < 0 or self.min_built_m2 < 0:
            raise ValueError("min_area_m2 and min_built_m2 are expected to be >= 0")
        if not 0 <= self.max_obscured <= 1:
            raise ValueError(f"max_obscured was {self.max_obscured} but is expected to be in [0, 1]")


def cover_summary(shares: np.ndarray, classes, *, top: int = 2) -> list[str]:
    """``"paddy 91 %, water 6 %"`` for each row of ``(P, K)`` shares (classes under 5 % left out)."""
    out = []
    for row in shares:
        order = np.argsort(-row)[:top]
        parts = [f"{classes[k]} {_pct(row[k])}" for k in order if row[k] >= 0.05]
        out.append(", ".join(parts) if parts else "no clear pixel")
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _date(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else (str(value) if value else "?")


def _shares(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares of the clear pixels, obscured share, pixel totals."""
    total = counts.sum(1)
    clear = counts[:, :-1].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts[:, :-1] / np.maximum(clear, 1)[:, None]
        obscured = np.where(total > 0, counts[:, -1] / np.maximum(total, 1), 1.0)
    return shares, obscured, total


def judge_parcels(
    counts_before: np.ndarray,
    counts_after: np.ndarray,
    classes,
    area_m2: np.ndarray,
    *,
    built_m2: np.ndarray | None = None,
    patch_ids=None,
    confidence: np.ndarray | None = None,
    before_date=None,
    after_date=None,
    rule: ParcelRule = ParcelRule(),
) -> dict:
    """State, use and reason of each parcel.

    Parameters
    ----------
    counts_before, counts_after : (P, K + 1) ndarray of int
        Pixels of each class per parcel, last column without a cover
        (:func:`weipian.farmland.shares.cover_counts`).
    classes : sequence of str
        The K class names (:data:`weipian.learn.cover_inputs.COVERS`).
    area_m2 : (P,) ndarray of float
        Parcel areas.
    built_m2 : (P,) ndarray of float, optional
        Area of construction patches on each parcel.
    patch_ids : sequence of str, optional
        Ids of those patches per parcel (``"a;b"``).
    confidence : (P,) ndarray of float, optional
        Mean probability of the winning class in the after epoch.
    before_date, after_date : datetime.date, optional
    rule : ParcelRule

    Returns
    -------
    dict of (P,) arrays
        ``state``, ``new_use`` ("" unless 非粮化/非农化), ``use_share``,
        ``use_area_m2``, ``new_this_batch``, ``obscured_share``,
        ``cover_before``, ``cover_after``, ``reason``.
    """
    classes = tuple(classes)
    p = len(area_m2)
    area_m2 = np.asarray(area_m2, float)
    built_m2 = np.zeros(p) if built_m2 is None else np.asarray(built_m2, float)
    patch_ids = [""] * p if patch_ids is None else list(patch_ids)
    confidence = np.ones(p) if confidence is None else np.asarray(confidence, float)
    sb, ob, _ = _shares(np.asarray(counts_before))
    sa, oa, total = _shares(np.asarray(counts_after))
    crop_idx = [classes.index(c) for c in CROPLAND if c in classes]
    use_idx = {classes.index(c): u for c, u in USE_OF_COVER.items() if c in classes}
    built_idx = classes.index("built") if "built" in classes else None
    before_txt, after_txt = cover_summary(sb, classes), cover_summary(sa, classes)
    out = {
        "state": np.full(p, "cropped", object),
        "new_use": np.full(p, "", object),
        "use_share": np.zeros(p),
        "use_area_m2": np.zeros(p),
        "new_this_batch": np.zeros(p, bool),
        "obscured_share": np.round(oa, 3),
        "cover_before": np.array(before_txt, object),
        "cover_after": np.array(after_txt, object),
        "reason": np.full(p, "", object),
    }
    when_a, when_b = _date(after_date), _date(before_date)
    season = {
        "flooding": isinstance(after_date, dt.date) and after_date.month in rule.flood_months,
        "growing": all(
            isinstance(d, dt.date) and d.month in rule.growing_months for d in (before_date, after_date)
        ),
    }
    for i in range(p):
        state, use, share, reason = _judge_one(
            i,
            sa,
            sb,
            oa,
            ob,
            total,
            area_m2,
            built_m2,
            patch_ids,
            confidence,
            crop_idx,
            use_idx,
            built_idx,
            classes,
            when_a,
            when_b,
            season,
            rule,
            before_txt[i],
        )
        out["state"][i], out["new_use"][i], out["reason"][i] = state, use, reason
        out["use_share"][i] = round(share, 3)
        out["use_area_m2"][i] = round(share * area_m2[i], 1)
        if state in ("non_grain", "non_agri") and use in USE_OF_COVER.values():
            k = next(k for k, u in use_idx.items() if u == use)
            out["new_this_batch"][i] = not (ob[i] <= rule.max_obscured and sb[i, k] >= rule.min_share)
        elif state == "non_agri":
            out["new_this_batch"][i] = True
    return out


def _judge_one(
    i,
    sa,
    sb,
    oa,
    ob,
    total,
    area_m2,
    built_m2,
    patch_ids,
    confidence,
    crop_idx,
    use_idx,
    built_idx,
    classes,
    when_a,
    when_b,
    season,
    rule,
    before_txt,
):
    """(state, new use, use share, reason) of parcel ``i`` (see the module's rule)."""
    if built_m2[i] >= rule.min_built_m2:
        share = min(1.0, built_m2[i] / max(area_m2[i], 1e-9))
        return (
            "non_agri",
            "built",
            share,
            f"construction patch {patch_ids[i]} covers {built_m2[i]:,.0f} m² ({_pct(share)}) of the "
            f"parcel on {when_a} (非农化)",
        )
    if total[i] < rule.min_pixels:
        return (
            "uncertain",
            "",
            0.0,
            f"too small to judge: {int(total[i])} pixels on the cover grid (fewer than {rule.min_pixels})",
        )
    if oa[i] > rule.max_obscured:
        return (
            "uncertain",
            "",
            0.0,
            f"{_pct(oa[i])} under cloud, shadow or without data on {when_a} "
            f"(more than {_pct(rule.max_obscured)})",
        )
    was = (
        f", was {before_txt} on {when_b}"
        if ob[i] <= rule.max_obscured
        else f", before epoch obscured on {when_b}"
    )
    if confidence[i] < rule.min_confidence:
        return (
            "uncertain",
            "",
            0.0,
            f"the land-cover model is unsure (mean confidence "
            f"{confidence[i]:.2f} below {rule.min_confidence:.2f}) on {when_a}",
        )
    best_k = max(use_idx, key=lambda k: sa[i, k]) if use_idx else None
    if best_k is not None:
        share = float(sa[i, best_k])
        use = use_idx[best_k]
        if share >= rule.min_share and share * area_m2[i] >= rule.min_area_m2:
            paddy = "paddy" in classes and sb[i, classes.index("paddy")] >= rule.min_share
            if use == "pond" and season["flooding"] and paddy:
                return (
                    "uncertain",
                    "",
                    share,
                    f"{_pct(share)} water on {when_a}{was}: a paddy in the "
                    "flooding season looks like a new pond on one date; check in the field",
                )
            old = sb[i, best_k] >= rule.min_share and ob[i] <= rule.max_obscured
            tail = " (already so before: not new this batch)" if old else ""
            return "non_grain", use, share, f"{_pct(share)} {use} ({USE_ZH[use]}) on {when_a}{was}{tail}"
    if built_idx is not None and sa[i, built_idx] >= rule.min_share:
        share = float(sa[i, built_idx])
        return (
            "uncertain",
            "",
            share,
            f"{_pct(share)} built-up cover on {when_a} but no construction "
            "patch: an older building, a greenhouse or a facility (设施农用地); check in the field",
        )
    bare = classes.index("bare") if "bare" in classes else None
    if (
        bare is not None
        and season["growing"]
        and ob[i] <= rule.max_obscured
        and min(sa[i, bare], sb[i, bare]) >= rule.min_share
    ):
        return (
            "uncertain",
            "",
            float(sa[i, bare]),
            f"bare ground on both dates ({_pct(sb[i, bare])} on {when_b}, {_pct(sa[i, bare])} on {when_a}), "
            "both in the growing season: possibly abandoned (撂荒); one pair cannot tell it from fallow, "
            "check in the field",
        )
    crop = float(sum(sa[i, k] for k in crop_idx))
    small = ""
    if best_k is not None and sa[i, best_k] >= rule.min_share:  # a new use, but on too little ground
        small = (
            f"; {_pct(sa[i, best_k])} {use_idx[best_k]} ({sa[i, best_k] * area_m2[i]:,.0f} m²) is under "
            f"the minimum area of {rule.min_area_m2:,.0f} m²"
        )
    return "cropped", "", crop, f"{_pct(crop)} cropland on {when_a}{was}{small}"
