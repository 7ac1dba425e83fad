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


@dataclass
class _Batch:
    """What the rule looks at, for every parcel of one call of :func:`judge_parcels` (arrays of P)."""

    classes: tuple
    after: np.ndarray  # (P, K) shares of the clear pixels, after epoch
    before: np.ndarray  # (P, K) shares, before epoch
    obscured_after: np.ndarray
    obscured_before: np.ndarray
    pixels: np.ndarray
    area_m2: np.ndarray
    built_m2: np.ndarray
    patch_ids: list
    confidence: np.ndarray
    before_text: list
    when_after: str
    when_before: str
    flooding: bool
    growing: bool

    def index(self, name: str) -> int | None:
        return self.classes.index(name) if name in self.classes else None

    @property
    def uses(self) -> dict:
        """Class index -> the 非粮化 use it stands for."""
        return {self.classes.index(c): u for c, u in USE_OF_COVER.items() if c in self.classes}


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
        The K class names (:func:`weipian.farmland.cover_map.cover_classes`).
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
    batch = _batch(counts_before, counts_after, classes, area_m2, built_m2, patch_ids, confidence,
                   before_date, after_date, rule)
    p = len(batch.area_m2)
    out = {"state": np.full(p, "cropped", object), "new_use": np.full(p, "", object),
           "use_share": np.zeros(p), "use_area_m2": np.zeros(p), "new_this_batch": np.zeros(p, bool),
           "obscured_share": np.round(batch.obscured_after, 3),
           "cover_before": np.array(batch.before_text, object),
           "cover_after": np.array(cover_summary(batch.after, batch.classes), object),
           "reason": np.full(p, "", object)}
    uses = batch.uses
    for i in range(p):
        state, use, share, reason = _judge_one(i, batch, rule)
        out["state"][i], out["new_use"][i], out["reason"][i] = state, use, reason
        out["use_share"][i] = round(share, 3)
        out["use_area_m2"][i] = round(share * batch.area_m2[i], 1)
        if state in ("non_grain", "non_agri") and use in uses.values():
            k = next(k for k, u in uses.items() if u == use)
            out["new_this_batch"][i] = not _already(i, k, batch, rule)
        elif state == "non_agri":
            out["new_this_batch"][i] = True
    return out


def _batch(counts_before, counts_after, classes, area_m2, built_m2, patch_ids, confidence, before_date,
           after_date, rule: ParcelRule) -> _Batch:
    classes = tuple(classes)
    p = len(area_m2)
    sb, ob, _ = _shares(np.asarray(counts_before))
    sa, oa, total = _shares(np.asarray(counts_after))
    return _Batch(
        classes=classes, after=sa, before=sb, obscured_after=oa, obscured_before=ob, pixels=total,
        area_m2=np.asarray(area_m2, float),
        built_m2=np.zeros(p) if built_m2 is None else np.asarray(built_m2, float),
        patch_ids=[""] * p if patch_ids is None else list(patch_ids),
        confidence=np.ones(p) if confidence is None else np.asarray(confidence, float),
        before_text=cover_summary(sb, classes), when_after=_date(after_date), when_before=_date(before_date),
        flooding=isinstance(after_date, dt.date) and after_date.month in rule.flood_months,
        growing=all(isinstance(d, dt.date) and d.month in rule.growing_months
                    for d in (before_date, after_date)))


def _already(i: int, k: int, b: _Batch, rule: ParcelRule) -> bool:
    """Whether class ``k`` already held the minimum share of parcel ``i`` in a clear before epoch."""
    return bool(b.obscured_before[i] <= rule.max_obscured and b.before[i, k] >= rule.min_share)


def _judge_one(i: int, b: _Batch, rule: ParcelRule) -> tuple[str, str, float, str]:
    """(state, new use, use share, reason) of parcel ``i`` (see the module's rule)."""
    if b.built_m2[i] >= rule.min_built_m2:
        share = min(1.0, b.built_m2[i] / max(b.area_m2[i], 1e-9))
        return ("non_agri", "built", share,
                f"construction patch {b.patch_ids[i]} covers {b.built_m2[i]:,.0f} m² ({_pct(share)}) of the "
                f"parcel on {b.when_after} (非农化)")
    unjudged = _unjudged(i, b, rule)
    if unjudged:
        return "uncertain", "", 0.0, unjudged
    was = (f", was {b.before_text[i]} on {b.when_before}" if b.obscured_before[i] <= rule.max_obscured
           else f", before epoch obscured on {b.when_before}")
    return _new_use(i, b, rule, was) or _doubtful(i, b, rule, was) or _cropped(i, b, rule, was)


def _unjudged(i: int, b: _Batch, rule: ParcelRule) -> str:
    """Why parcel ``i`` cannot be judged (too small, obscured, model unsure), or ""."""
    if b.pixels[i] < rule.min_pixels:
        return (f"too small to judge: {int(b.pixels[i])} pixels on the cover grid "
                f"(fewer than {rule.min_pixels})")
    if b.obscured_after[i] > rule.max_obscured:
        return (f"{_pct(b.obscured_after[i])} under cloud, shadow or without data on {b.when_after} "
                f"(more than {_pct(rule.max_obscured)})")
    if b.confidence[i] < rule.min_confidence:
        return (f"the land-cover model is unsure (mean confidence {b.confidence[i]:.2f} below "
                f"{rule.min_confidence:.2f}) on {b.when_after}")
    return ""


def _best_use(i: int, b: _Batch) -> tuple[int | None, float]:
    uses = b.uses
    if not uses:
        return None, 0.0
    k = max(uses, key=lambda k: b.after[i, k])
    return k, float(b.after[i, k])


def _new_use(i: int, b: _Batch, rule: ParcelRule, was: str):
    """非粮化 when one use holds the minimum share and area (不确定 for a flooded paddy); else None."""
    k, share = _best_use(i, b)
    if k is None or share < rule.min_share or share * b.area_m2[i] < rule.min_area_m2:
        return None
    use = b.uses[k]
    paddy = b.index("paddy")
    if use == "pond" and b.flooding and paddy is not None and b.before[i, paddy] >= rule.min_share:
        return ("uncertain", "", share, f"{_pct(share)} water on {b.when_after}{was}: a paddy in the "
                "flooding season looks like a new pond on one date; check in the field")
    tail = " (already so before: not new this batch)" if _already(i, k, b, rule) else ""
    return "non_grain", use, share, f"{_pct(share)} {use} ({USE_ZH[use]}) on {b.when_after}{was}{tail}"


def _doubtful(i: int, b: _Batch, rule: ParcelRule, was: str):
    """不确定 for built-up cover without a patch, or bare ground in two growing seasons; else None."""
    built, bare = b.index("built"), b.index("bare")
    if built is not None and b.after[i, built] >= rule.min_share:
        return ("uncertain", "", float(b.after[i, built]),
                f"{_pct(b.after[i, built])} built-up cover on {b.when_after} but no construction patch: an "
                "older building, a greenhouse or a facility (设施农用地); check in the field")
    if (bare is not None and b.growing and b.obscured_before[i] <= rule.max_obscured
            and min(b.after[i, bare], b.before[i, bare]) >= rule.min_share):
        return ("uncertain", "", float(b.after[i, bare]),
                f"bare ground on both dates ({_pct(b.before[i, bare])} on {b.when_before}, "
                f"{_pct(b.after[i, bare])} on {b.when_after}), both in the growing season: possibly "
                "abandoned (撂荒); one pair cannot tell it from fallow, check in the field")
    return None


def _cropped(i: int, b: _Batch, rule: ParcelRule, was: str):
    crop = float(sum(b.after[i, k] for k in (b.index(c) for c in CROPLAND) if k is not None))
    k, share = _best_use(i, b)
    small = ""
    if k is not None and share >= rule.min_share:  # a new use, but on too little ground
        small = (f"; {_pct(share)} {b.uses[k]} ({share * b.area_m2[i]:,.0f} m²) is under the minimum area "
                 f"of {rule.min_area_m2:,.0f} m²")
    return "cropped", "", crop, f"{_pct(crop)} cropland on {b.when_after}{was}{small}"
