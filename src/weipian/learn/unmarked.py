"""Change the labels leave unmarked, added where the label's meaning allows (pure numpy).

OSCD marks urban change only (new buildings and roads); DSIFN marks
land-cover change to buildings, roads and factories but often leaves cleared
land unmarked. Strong change outside their labels is therefore real change
the labels do not name:

- ``"non_urban"`` (OSCD): it is change, and not construction (the label would
  have marked construction) — ``any_change = 1``, ``construction = 0``;
- ``"unknown"`` (DSIFN): it may be the start of construction (cleared land) —
  both targets unknown (:data:`~weipian.learn.samples.IGNORE`), so the labels'
  silence no longer teaches "no change" there.

Strong change is textbook change-vector analysis: the per-pixel distance
between the epochs' stretched bands, thresholded by Otsu's method over the
pixels the label leaves unmarked, then opened to drop speckle. Only training
pairs are relabelled; validation and test pairs keep their labels, so that
figures stay comparable.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .samples import IGNORE, LabelledPair

__all__ = ["POLICIES", "strong_change", "mark_unlabelled_change"]

#: What strong unlabelled change becomes, by policy: (any_change, construction).
POLICIES = {"non_urban": (1, 0), "unknown": (IGNORE, IGNORE)}


def strong_change(before: np.ndarray, after: np.ndarray, candidates: np.ndarray, *,
                  min_pixels: int = 9) -> np.ndarray:
    """Pixels of strong change among ``candidates`` (CVA magnitude above Otsu's threshold, opened).

    Parameters
    ----------
    before, after : (B, M, N) ndarray of float32
        Stretched bands of both epochs.
    candidates : (M, N) ndarray of bool
        Pixels that may be marked (unlabelled and known).
    min_pixels : int
        Smallest connected region kept.

    Returns
    -------
    (M, N) ndarray of bool
    """
    import cv2
    from skimage.filters import threshold_otsu

    magnitude = np.sqrt(((after - before) ** 2).sum(0))
    values = magnitude[candidates]
    if values.size < 2 or np.ptp(values) == 0:
        return np.zeros(candidates.shape, bool)
    strong = (magnitude > threshold_otsu(values)) & candidates
    opened = cv2.morphologyEx(strong.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def mark_unlabelled_change(pair: LabelledPair, policy: str) -> LabelledPair:
    """The pair with its strong unlabelled change relabelled by ``policy`` (see :data:`POLICIES`).

    Raises
    ------
    ValueError
        If ``policy`` is not one of :data:`POLICIES`.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy was {policy!r} but is expected to be one of {', '.join(POLICIES)}")
    bands = slice(0, 4) if pair.has_nir else slice(0, 3)
    candidates = pair.any_change == 0
    strong = strong_change(pair.before[bands], pair.after[bands], candidates)
    any_value, construction_value = POLICIES[policy]
    any_change, construction = pair.any_change.copy(), pair.construction.copy()
    any_change[strong] = any_value
    construction[strong] = construction_value
    return replace(pair, any_change=any_change, construction=construction)
