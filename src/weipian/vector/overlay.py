"""Vector overlay: how much of each patch lies in a reference layer.

Overlaps are found with a spatial index (:class:`shapely.STRtree`) and
computed with vectorised :func:`shapely.intersection` on the candidate
pairs; no Python loop over pairs. Areas are in the units of the CRS the
geometries are in — give them in a projected metric CRS (see
:func:`area_crs`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import CRS

__all__ = ["Overlap", "layer_overlap", "area_crs", "area_scale", "AREA_SCALE_TOLERANCE"]


@dataclass
class Overlap:
    """Overlap of n patches with one layer.

    Attributes
    ----------
    area : (n,) ndarray of float
        Area of each patch inside the union of the layer's features.
    best : (n,) ndarray of int
        Index of the feature with the largest overlap, -1 where none.
    best_area : (n,) ndarray of float
        That feature's overlap area.
    count : (n,) ndarray of int
        Number of features each patch touches with positive area.
    pair_patch, pair_feature : (m,) ndarray of int
        Every (patch, feature) pair that overlaps with positive area.
    pair_area : (m,) ndarray of float
        Its overlap area.
    """

    area: np.ndarray
    best: np.ndarray
    best_area: np.ndarray
    count: np.ndarray
    pair_patch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_feature: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_area: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def area_by_group(self, groups, group: str) -> np.ndarray:
        """Area of each patch in the features whose ``groups`` value is ``group``.

        Parameters
        ----------
        groups : (k,) array-like
            A value per feature (e.g. the land-class code of each parcel).
        group : str

        Returns
        -------
        (n,) ndarray of float
            The plain sum of the pair areas: right where the group's features
            do not overlap one another (a parcel layer is a partition).
        """
        groups = np.asarray(groups, dtype=object)
        sel = groups[self.pair_feature] == group if self.pair_feature.size else np.zeros(0, bool)
        return np.bincount(self.pair_patch[sel], weights=self.pair_area[sel], minlength=len(self.area))


def layer_overlap(patches, features) -> Overlap:
    """Overlap areas of ``patches`` with the features of one layer.

    Parameters
    ----------
    patches : (n,) array-like of shapely geometries
    features : (k,) array-like of shapely geometries
        Polygons; they may overlap each other (the union is counted once).

    Returns
    -------
    Overlap

    Examples
    --------
    >>> from shapely.geometry import box
    >>> o = layer_overlap([box(0, 0, 10, 10)], [box(5, 0, 20, 10), box(0, 0, 6, 10)])
    >>> float(o.area[0]), int(o.best[0]), float(o.best_area[0])
    (100.0, 1, 60.0)
    """
    patches = np.asarray(patches, dtype=object)
    features = np.asarray(features, dtype=object)
    n = len(patches)
    area = np.zeros(n)
    best = np.full(n, -1, np.int64)
    best_area = np.zeros(n)
    count = np.zeros(n, np.int64)
    if n == 0 or len(features) == 0:
        return Overlap(area, best, best_area, count)
    tree = shapely.STRtree(features)
    pi, fi = tree.query(patches, predicate="intersects")
    if pi.size == 0:
        return Overlap(area, best, best_area, count)
    pieces = shapely.intersection(patches[pi], features[fi])
    piece_area = shapely.area(pieces)
    positive = piece_area > 0
    pi, fi, pieces, piece_area = pi[positive], fi[positive], pieces[positive], piece_area[positive]
    count = np.bincount(pi, minlength=n)
    # Best feature: sort by (patch, -area, feature) and take the first per patch.
    order = np.lexsort((fi, -piece_area, pi))
    first = np.ones(order.size, bool)
    first[1:] = pi[order][1:] != pi[order][:-1]
    best[pi[order][first]] = fi[order][first]
    best_area[pi[order][first]] = piece_area[order][first]
    # Union area: the plain sum, unless pieces of one patch overlap each other
    # (overlapping features); those few patches get a true union.
    area = np.bincount(pi, weights=piece_area, minlength=n)
    by_patch = np.argsort(pi, kind="stable")
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    overlapping = np.zeros(n, bool)
    for a in range(int(count.max()) - 1):
        for b in range(a + 1, int(count.max())):
            rows = np.flatnonzero(count > b)
            if rows.size == 0:
                break
            shared = shapely.area(shapely.intersection(
                pieces[by_patch[starts[rows] + a]], pieces[by_patch[starts[rows] + b]]))
            overlapping[rows[shared > 0]] = True
    for p in np.flatnonzero(overlapping):
        members = pieces[by_patch[starts[p]: starts[p] + count[p]]]
        area[p] = shapely.area(shapely.union_all(members))
    return Overlap(area, best, best_area, count, pi, fi, piece_area)


#: Largest departure of a projected CRS's area scale from 1 at the scene centre for its own
#: metres to be taken as ground metres (Gauss-Krüger and UTM stay within 0.2 %; Web Mercator
#: is 2 at 45°).
AREA_SCALE_TOLERANCE = 0.01


def area_scale(crs, lon: float, lat: float) -> float:
    """Ratio of projected to ground area at ``(lon, lat)`` (degrees) in a projected ``crs``.

    1 for an equal-area projection; 1/cos²(lat) for Web Mercator. NaN where
    PROJ cannot tell.

    Examples
    --------
    >>> round(area_scale("EPSG:3857", 0.0, 60.0), 3)
    4.0
    """
    from pyproj import Proj

    try:
        return float(Proj(CRS.from_user_input(crs)).get_factors(lon, lat).areal_scale)
    except Exception:  # noqa: BLE001 - a CRS PROJ has no factors for (engineering, compound)
        return float("nan")


def area_crs(crs, lon: float, lat: float | None = None, *, source: str | None = None) -> CRS:
    """A projected metric CRS for areas.

    ``crs`` itself when it is projected and true to ground areas at the
    scene centre (within :data:`AREA_SCALE_TOLERANCE`; always, where ``lat``
    is not given); otherwise (geographic, Web Mercator, a conic projection far
    from its standard parallels) the CGCS2000 3-degree Gauss-Krüger zone
    (EPSG:4534–4554, central meridians 75°E–135°E) for longitudes in China,
    and the UTM zone elsewhere.

    Parameters
    ----------
    crs : CRS-like
        The imagery CRS.
    lon, lat : float
        Longitude and latitude of the scene centre, degrees. Where they are
        not finite (a projected scene outside its projection's domain, as a
        zone-prefixed Gauss-Krüger CRS given eastings without the prefix),
        ``crs`` is kept and a :class:`weipian.errors.CRSWarning` says so.
    source : str, optional
        The file the coordinates come from, named in that warning.

    Returns
    -------
    pyproj.CRS

    Examples
    --------
    >>> area_crs("EPSG:4490", 114.1).to_epsg()
    4547
    >>> area_crs("EPSG:3857", 114.1, 30.5).to_epsg()
    4547
    """
    crs = CRS.from_user_input(crs)
    if not (math.isfinite(lon) and (lat is None or math.isfinite(lat))):
        if crs.is_projected:
            _warn_off_domain(crs, source)
            return crs
        raise ValueError(f"area_crs: the scene centre ({lon}, {lat}) is not a place on the globe "
                         f"in {crs.name}")
    if crs.is_projected:
        if lat is None:
            return crs
        scale = area_scale(crs, lon, lat)
        if not abs(scale - 1.0) > AREA_SCALE_TOLERANCE:  # NaN keeps the CRS
            return crs
    central = int(round(lon / 3.0)) * 3
    if 75 <= central <= 135:
        return CRS.from_epsg(4534 + (central - 75) // 3)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg(32600 + zone)


#: EPSG codes of the Gauss-Krüger CRSs whose eastings carry the zone number in front (first, last) and
#: how far on the same zone's central-meridian CRS is: CGCS2000 6-degree zones 13-23 and 3-degree
#: zones 25-45, Xian 1980 and Beijing 1954 3-degree zones 25-45.
_ZONE_PREFIXED_GK = ((4491, 4501, 11), (4513, 4533, 21), (2349, 2369, 21), (2401, 2421, 21))


def _warn_off_domain(crs: CRS, source: str | None) -> None:
    """Warn that coordinates lie outside ``crs``'s projection, so its own metres are used for areas."""
    from ..errors import CRSWarning

    hint = ""
    epsg = crs.to_epsg()
    for first, last, to_cm in _ZONE_PREFIXED_GK:
        if epsg is not None and first <= epsg <= last:
            cm = CRS.from_epsg(epsg + to_cm)
            hint = (f"; EPSG:{epsg} is a zone-prefixed Gauss-Krüger CRS whose eastings begin with the zone "
                    f"number (39500000, not 500000): where the coordinates have no prefix, the CRS is "
                    f"EPSG:{epsg + to_cm} ({cm.name}), so set that one")
    where = f"{source}: " if source else ""
    warnings.warn(f"{where}the scene centre lies outside the domain of {crs.name} (PROJ cannot place "
                  f"it on the globe); areas are measured in the CRS's own metres, and reference layers in "
                  f"the same CRS with real coordinates will not overlap the imagery{hint}",
                  CRSWarning, stacklevel=3)
