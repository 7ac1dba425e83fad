"""A visiting order for field crews: nearest-neighbour tour per township."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

__all__ = ["route_order"]


def route_order(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A short visiting order per township: nearest-neighbour tour from the north-west.

    Parameters
    ----------
    frame : GeoDataFrame
        Patches with ``township``, ``x`` and ``y``.

    Returns
    -------
    (n,) ndarray of int
        1-based visiting order within each patch's township.
    """
    order = np.zeros(len(frame), np.int64)
    xy = frame[["x", "y"]].to_numpy(float)
    for _, idx in frame.groupby(frame["township"].fillna(""), sort=True).indices.items():
        idx = np.asarray(idx)
        pts = xy[idx]
        start = int(np.lexsort((pts[:, 0], -pts[:, 1]))[0])  # northernmost, then westernmost
        left = np.ones(len(idx), bool)
        current = start
        for step in range(1, len(idx) + 1):
            order[idx[current]] = step
            left[current] = False
            if not left.any():
                break
            d = np.hypot(*(pts[left] - pts[current]).T)
            current = np.flatnonzero(left)[int(np.argmin(d))]
    return order
