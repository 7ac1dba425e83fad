"""Which patch of an earlier batch a new patch is: overlap share and distance.

The same structure is outlined a little differently each quarter. A new patch
matches an earlier one when their overlap covers at least ``min_share`` of
the smaller of the two, or, failing any overlap that large, when their
centroids lie within ``max_distance`` metres (a shed re-outlined beside its
old outline). Of several candidates the largest share wins, then the
nearest, then the most recent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["Matches", "match_patches"]


@dataclass
class Matches:
    """Matches of n new patches among k earlier ones.

    Attributes
    ----------
    index : (n,) ndarray of int
        The matched earlier patch, -1 where none.
    share : (n,) ndarray of float
        Overlap ÷ the smaller patch's area (0 where unmatched).
    distance : (n,) ndarray of float
        Centroid distance in CRS units (metres), NaN where unmatched.
    """

    index: np.ndarray
    share: np.ndarray
    distance: np.ndarray


def match_patches(new, old, *, min_share: float = 0.3, max_distance: float = 10.0,
                  recency=None) -> Matches:
    """Match ``new`` patches with ``old`` ones.

    Parameters
    ----------
    new : (n,) array-like of shapely geometries
    old : (k,) array-like of shapely geometries
        In the same projected CRS as ``new``.
    min_share : float
        Overlap share (of the smaller patch) that makes a match, in (0, 1].
    max_distance : float
        Centroid distance (metres) that makes a match without that overlap.
    recency : (k,) array-like, optional
        Larger is more recent (e.g. the batch's after date as an ordinal);
        breaks ties. Default: later in ``old`` is more recent.

    Returns
    -------
    Matches

    Examples
    --------
    >>> from shapely.geometry import box
    >>> m = match_patches([box(0, 0, 10, 10), box(50, 0, 60, 10)], [box(2, 0, 12, 10), box(90, 0, 99, 9)])
    >>> m.index.tolist(), m.share.round(2).tolist()
    ([0, -1], [0.8, 0.0])
    """
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share should be in (0, 1]. Got {min_share}.")
    if max_distance < 0:
        raise ValueError(f"max_distance should be >= 0. Got {max_distance}.")
    new = np.asarray(new, dtype=object)
    old = np.asarray(old, dtype=object)
    n = len(new)
    index = np.full(n, -1, np.int64)
    share = np.zeros(n)
    distance = np.full(n, np.nan)
    if n == 0 or len(old) == 0:
        return Matches(index, share, distance)
    recency = np.arange(len(old), dtype=float) if recency is None else np.asarray(recency, float)
    tree = shapely.STRtree(old)
    ni, oi = tree.query(new, predicate="dwithin", distance=max_distance)
    if ni.size == 0:
        return Matches(index, share, distance)
    inter = shapely.area(shapely.intersection(new[ni], old[oi]))
    smaller = np.minimum(shapely.area(new[ni]), shapely.area(old[oi]))
    s = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    d = shapely.distance(shapely.centroid(new[ni]), shapely.centroid(old[oi]))
    ok = (s >= min_share) | (d <= max_distance)
    ni, oi, s, d = ni[ok], oi[ok], s[ok], d[ok]
    strong = (s >= min_share).astype(float)
    # best per new patch: strong overlap, larger share, nearer, more recent
    order = np.lexsort((-recency[oi], d, -s, -strong, ni))
    first = np.ones(order.size, bool)
    first[1:] = ni[order][1:] != ni[order][:-1]
    pick = order[first]
    index[ni[pick]] = oi[pick]
    share[ni[pick]] = s[pick]
    distance[ni[pick]] = d[pick]
    return Matches(index, share, distance)
