"""Scoring patches against a truth layer or a truth mask.

Object recall: a truth structure counts as found when patches cover at least
``min_cover`` of it. Object precision: a patch counts as true when at least
``min_cover`` of it is truth. Label accuracy: among found structures, the
share whose covering patch (the one with the largest overlap) carries the
expected label. Pixel scores compare boolean masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from ..vector.overlay import layer_overlap

__all__ = ["ObjectScores", "object_scores", "pixel_scores"]


@dataclass
class ObjectScores:
    """Object-level scores.

    Attributes
    ----------
    recall, precision : float
    label_accuracy : float
        NaN when no structure was found or no labels were given.
    found, truths, true_patches, patches : int
    missed : list of int
        Row positions of truth structures not found.
    """

    recall: float
    precision: float
    label_accuracy: float
    found: int
    truths: int
    true_patches: int
    patches: int
    missed: list


def object_scores(
    patches, truth, *, patch_labels=None, truth_labels=None, min_cover: float = 0.3
) -> ObjectScores:
    """Object recall, precision and label accuracy.

    Parameters
    ----------
    patches, truth : array-like of shapely geometries
        In the same projected CRS.
    patch_labels, truth_labels : array-like of str, optional
    min_cover : float

    Returns
    -------
    ObjectScores

    Examples
    --------
    >>> from shapely.geometry import box
    >>> s = object_scores([box(0, 0, 10, 10), box(50, 50, 60, 60)], [box(0, 0, 8, 8)])
    >>> s.recall, s.precision
    (1.0, 0.5)
    """
    patches = np.asarray(patches, dtype=object)
    truth = np.asarray(truth, dtype=object)
    t_area = shapely.area(truth)
    p_area = shapely.area(patches)
    cover_t = layer_overlap(truth, patches)  # truth covered by patches
    cover_p = layer_overlap(patches, truth)  # patch covered by truth
    found = cover_t.area >= min_cover * t_area
    true_patch = cover_p.area >= min_cover * p_area
    recall = float(found.mean()) if len(truth) else float("nan")
    precision = float(true_patch.mean()) if len(patches) else float("nan")
    label_accuracy = float("nan")
    if patch_labels is not None and truth_labels is not None and found.any():
        patch_labels = np.asarray(patch_labels, dtype=object)
        truth_labels = np.asarray(truth_labels, dtype=object)
        idx = np.flatnonzero(found)
        label_accuracy = float(np.mean(patch_labels[cover_t.best[idx]] == truth_labels[idx]))
    return ObjectScores(
        recall=recall, precision=precision, label_accuracy=label_accuracy,
        found=int(found.sum()), truths=len(truth), true_patches=int(true_patch.sum()),
        patches=len(patches), missed=[int(i) for i in np.flatnonzero(~found)],
    )


def pixel_scores(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Pixel precision, recall and F1 of boolean masks.

    Parameters
    ----------
    predicted, truth : (M, N) ndarray of bool
    valid : (M, N) ndarray of bool, optional
        Only these pixels are scored.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (0 when undefined), ``tp``, ``fp``, ``fn``.

    Examples
    --------
    >>> p = np.array([[1, 1, 0, 0]], bool); t = np.array([[1, 0, 1, 0]], bool)
    >>> pixel_scores(p, t)["f1"]
    0.5
    """
    predicted = np.asarray(predicted, bool)
    truth = np.asarray(truth, bool)
    if valid is not None:
        predicted = predicted & valid
        truth = truth & valid
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
