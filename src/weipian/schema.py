"""The patch schema: fields, units, identifiers and location columns.

Everything that fixes what a patch row looks like lives here: the output
fields in order (:data:`PATCH_FIELDS`), the 亩 (:data:`MU_M2`), the batch
name and patch-id scheme (:func:`batch_of`, :func:`patch_ids`), and the
location columns (area in m² and 亩, projected centroid, CGCS2000 lon/lat).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

__all__ = ["MU_M2", "PATCH_FIELDS", "LAYER_AREA_FIELDS", "iso_date", "batch_of", "patch_ids", "scene_lonlat",
           "scene_area_crs", "frame_lonlat", "frame_area_crs", "add_location_fields", "pixel_area_m2"]

#: Square metres in one 亩.
MU_M2 = 10000.0 / 15.0

#: Patch fields in output order (geometry follows).
PATCH_FIELDS = (
    "patch_id", "label", "label_zh", "evidence_category", "reason", "score", "area_m2", "area_mu",
    "farmland_m2", "farmland_0101_m2", "farmland_0102_m2", "farmland_0103_m2", "basic_farmland_m2",
    "reserve_m2", "approved_m2", "temporary_m2", "temporary_expired_m2", "government_m2", "key_project",
    "redline_m2",
    "boundary_m2", "facility_m2", "township", "township_code",
    "x", "y", "lon", "lat", "before_date", "after_date",
)

#: Area columns filled by ``judge`` from the layer of the same name (m²).
LAYER_AREA_FIELDS = (
    "farmland_m2", "farmland_0101_m2", "farmland_0102_m2", "farmland_0103_m2", "basic_farmland_m2",
    "reserve_m2", "approved_m2", "temporary_m2", "temporary_expired_m2", "government_m2", "redline_m2",
    "boundary_m2", "facility_m2",
)

_LONLAT = CRS.from_epsg(4490)  # CGCS2000 geographic


def iso_date(date) -> str:
    """``YYYY-MM-DD``, or ``""`` for None."""
    return date.isoformat() if date else ""


def scene_lonlat(transform, shape, crs) -> tuple[float, float]:
    """Longitude and latitude (CGCS2000 degrees) of the centre of a raster.

    What :func:`weipian.vector.overlay.area_crs` needs to choose the CRS its
    areas are measured in.
    """
    rows, cols = shape
    cx, cy = transform @ (cols / 2, rows / 2)
    lon, lat = Transformer.from_crs(crs, _LONLAT, always_xy=True).transform(cx, cy)
    return float(lon), float(lat)


def frame_lonlat(frame: gpd.GeoSeries | gpd.GeoDataFrame) -> tuple[float, float]:
    """Longitude and latitude (CGCS2000 degrees) of the centre of a frame's bounds.

    ``(114.0, 30.0)`` for an empty frame: any zone measures nothing where
    there are no features.
    """
    if not len(frame):
        return 114.0, 30.0
    x0, y0, x1, y1 = frame.total_bounds
    to_lonlat = Transformer.from_crs(frame.crs, _LONLAT, always_xy=True)
    lon, lat = to_lonlat.transform((x0 + x1) / 2, (y0 + y1) / 2)
    return float(lon), float(lat)


def frame_area_crs(frame: gpd.GeoSeries | gpd.GeoDataFrame, source: str | None = None) -> CRS:
    """The CRS a frame's areas are measured in (:func:`weipian.vector.overlay.area_crs`).

    ``source`` names the frame's file in the warning for coordinates outside its CRS.
    """
    from .vector.overlay import area_crs

    return area_crs(frame.crs, *frame_lonlat(frame), source=source)


def scene_area_crs(transform, shape, crs, source: str | None = None) -> CRS:
    """The CRS a raster's areas and pixel size are measured in (:func:`weipian.vector.overlay.area_crs`).

    ``source`` names the raster in the warning for coordinates outside its CRS.
    """
    from .vector.overlay import area_crs

    return area_crs(crs, *scene_lonlat(transform, shape, crs), source=source)


def add_location_fields(frame: gpd.GeoDataFrame, acrs: CRS) -> None:
    """Area in m² and 亩, projected centroid and CGCS2000 lon/lat, in place."""
    projected = frame.geometry.to_crs(acrs)
    area = projected.area.to_numpy()
    centroids = projected.centroid
    frame["area_m2"] = np.round(area, 2)
    frame["area_mu"] = np.round(area / MU_M2, 2)
    frame["x"] = np.round(centroids.x.to_numpy(), 2)
    frame["y"] = np.round(centroids.y.to_numpy(), 2)
    lon, lat = Transformer.from_crs(acrs, _LONLAT, always_xy=True).transform(
        centroids.x.to_numpy(), centroids.y.to_numpy()
    )
    frame["lon"] = np.round(np.asarray(lon, float), 7)
    frame["lat"] = np.round(np.asarray(lat, float), 7)


def pixel_area_m2(transform, shape, crs, acrs) -> float:
    """Area in m² of the raster's central pixel, measured in the projected ``acrs``."""
    crs = CRS.from_user_input(crs)
    if crs.is_projected and crs == acrs:
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return abs(transform.a * transform.e) * unit * unit
    rows, cols = shape
    r, c = rows // 2, cols // 2
    px = shapely.geometry.box(*(transform @ (c, r)), *(transform @ (c + 1, r + 1)))
    return float(gpd.GeoSeries([px], crs=crs).to_crs(acrs).area.iloc[0])


def batch_of(date) -> str:
    """The batch name of an after date: its quarter, e.g. ``2024Q2`` (``0000Q0`` for None)."""
    return f"{date.year}Q{(date.month - 1) // 3 + 1}" if date else "0000Q0"


def patch_ids(township_codes, batch: str, serials) -> list[str]:
    """Patch ids ``<admin6>-<batch>-<serial>``.

    Parameters
    ----------
    township_codes : sequence of str
        Township codes; their first six digits are the county's admin code
        (``000000`` where unknown).
    batch : str
        E.g. ``2024Q2``.
    serials : sequence of str
        Zero-padded serial numbers in raster order.

    Examples
    --------
    >>> patch_ids(["420102001", ""], "2024Q2", ["000001", "000002"])
    ['420102-2024Q2-000001', '000000-2024Q2-000002']
    """
    admin = [str(c)[:6] if c and len(str(c)) >= 6 else "000000" for c in township_codes]
    return [f"{ad}-{batch}-{s}" for ad, s in zip(admin, serials)]
