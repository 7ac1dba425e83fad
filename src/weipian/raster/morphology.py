"""Morphology of flag masks: opening/closing and growing back into neighbours."""

from __future__ import annotations

import numpy as np

__all__ = ["clean_mask", "grow_mask"]


def clean_mask(mask: np.ndarray, *, open_radius: int = 1, close_radius: int = 1) -> np.ndarray:
    """Remove speckle and thin slivers, then close small gaps.

    Binary opening then closing with square structuring elements (OpenCV;
    the closing never removes a pixel).

    Parameters
    ----------
    mask : (M, N) ndarray of bool
    open_radius, close_radius : int
        Half-widths (pixels) of the square structuring elements.

    Returns
    -------
    (M, N) ndarray of bool
    """
    import cv2

    out = mask.astype(np.uint8)
    if open_radius > 0:
        se = np.ones((2 * open_radius + 1,) * 2, np.uint8)
        out = cv2.morphologyEx(out, cv2.MORPH_OPEN, se, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if close_radius > 0:
        se = np.ones((2 * close_radius + 1,) * 2, np.uint8)
        out = cv2.morphologyEx(out, cv2.MORPH_CLOSE, se, borderType=cv2.BORDER_CONSTANT,
                               borderValue=0) | out
    return out.astype(bool)


def grow_mask(mask: np.ndarray, allowed: np.ndarray, radius: int) -> np.ndarray:
    """Grow ``mask`` by up to ``radius`` pixels (8-connected steps) into ``allowed``.

    Parameters
    ----------
    mask, allowed : (M, N) ndarray of bool
    radius : int

    Returns
    -------
    (M, N) ndarray of bool

    Examples
    --------
    >>> m = np.zeros((1, 7), bool); m[0, 3] = True
    >>> allowed = np.array([[1, 1, 1, 1, 1, 0, 1]], bool)
    >>> grow_mask(m, allowed, 2).astype(int).tolist()
    [[0, 1, 1, 1, 1, 0, 0]]
    """
    import cv2

    if radius <= 0:
        return mask
    out = mask.astype(np.uint8)
    allowed = (allowed | mask).astype(np.uint8)
    se = np.ones((3, 3), np.uint8)
    for _ in range(radius):
        out = cv2.dilate(out, se, borderType=cv2.BORDER_CONSTANT, borderValue=0) & allowed
    return out.astype(bool)
