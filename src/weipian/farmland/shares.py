"""Parcels on the cover grid and their cover shares (pure arrays, plus one rasterisation).

A parcel's share of a class is the share of its pixels (pixel centres inside
the parcel) that the model put in that class; pixels without a cover (no
data, cloud, shadow, user mask) are counted apart, so that the shares of a
half-clouded parcel describe its clear half and its obscured share is known.
"""

from __future__ import annotations

import numpy as np

__all__ = ["parcel_index", "cover_counts", "mean_confidence"]


def parcel_index(geometries, transform, shape) -> np.ndarray:
    """The 1-based parcel number of each pixel (0: none); a pixel belongs to the parcel holding its centre.

    Parameters
    ----------
    geometries : sequence of shapely geometries
        In the grid's CRS. Where parcels overlap, the later one wins.
    transform : affine.Affine
    shape : (int, int)

    Returns
    -------
    (M, N) ndarray of int32
    """
    from rasterio.features import rasterize

    shapes = [(g, k + 1) for k, g in enumerate(geometries) if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(shape, np.int32)
    return rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")


def cover_counts(index: np.ndarray, cover: np.ndarray, parcels: int, classes: int) -> np.ndarray:
    """Pixels of each class in each parcel.

    Parameters
    ----------
    index : (M, N) ndarray of int
        From :func:`parcel_index`.
    cover : (M, N) ndarray of uint8
        Class index per pixel; any value ``>= classes`` (e.g. 255) means no
        cover.
    parcels : int
        Number of parcels.
    classes : int

    Returns
    -------
    (parcels, classes + 1) ndarray of int64
        The last column counts the pixels without a cover.

    Examples
    --------
    >>> index = np.array([[1, 1, 2], [1, 0, 2]])
    >>> cover = np.array([[0, 1, 1], [255, 0, 1]], np.uint8)
    >>> cover_counts(index, cover, 2, 2).tolist()
    [[1, 1, 1], [0, 2, 0]]
    """
    c = np.minimum(cover.astype(np.int64), classes).ravel()
    i = index.astype(np.int64).ravel()
    keep = i > 0
    flat = (i[keep] - 1) * (classes + 1) + c[keep]
    return np.bincount(flat, minlength=parcels * (classes + 1)).reshape(parcels, classes + 1)


def mean_confidence(index: np.ndarray, confidence: np.ndarray, valid: np.ndarray, parcels: int) -> np.ndarray:
    """Mean of ``confidence`` (the winning class's probability) over each parcel's covered pixels.

    Returns
    -------
    (parcels,) ndarray of float64
        NaN for parcels without a covered pixel.
    """
    i = index.ravel().astype(np.int64)
    keep = (i > 0) & valid.ravel()
    total = np.bincount(i[keep] - 1, weights=confidence.ravel()[keep].astype(np.float64), minlength=parcels)
    count = np.bincount(i[keep] - 1, minlength=parcels)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
