"""GeoPackage geometry blobs (OGC 12-128r18, §2.1.3), to and from shapely.

A GeoPackage geometry is a small header (magic ``GP``, version, flags, SRS id,
envelope) followed by standard WKB. The ledger writes little-endian blobs
with an xy envelope, which GDAL, QGIS and every GeoPackage reader accept.
"""

from __future__ import annotations

import struct

import numpy as np
import shapely

__all__ = ["to_gpkg_blobs", "from_gpkg_blobs", "GPKG_CORE_DDL", "gpkg_srs_row"]

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def to_gpkg_blobs(geoms, srs_id: int) -> list[bytes]:
    """GeoPackage blobs of shapely geometries.

    Parameters
    ----------
    geoms : (n,) array-like of shapely geometries
    srs_id : int
        The ``gpkg_spatial_ref_sys`` id (the EPSG code here).

    Returns
    -------
    list of bytes

    Examples
    --------
    >>> from shapely.geometry import box
    >>> blob = to_gpkg_blobs([box(0, 0, 2, 1)], 4547)[0]
    >>> blob[:2], from_gpkg_blobs([blob])[0].area
    (b'GP', 2.0)
    """
    geoms = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    bounds = shapely.bounds(geoms)
    out = []
    for w, (x0, y0, x1, y1) in zip(wkb, bounds):
        out.append(struct.pack("<2sBBi4d", b"GP", 0, 0b011, srs_id, x0, x1, y0, y1) + w)
    return out


def from_gpkg_blobs(blobs) -> np.ndarray:
    """Shapely geometries of GeoPackage blobs (or plain WKB, as PostGIS returns it).

    Returns
    -------
    (n,) ndarray of shapely geometries
    """
    wkb = []
    for blob in blobs:
        blob = bytes(blob)
        if blob[:2] == b"GP":
            flags = blob[3]
            blob = blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0b111]:]
        wkb.append(blob)
    return shapely.from_wkb(np.array(wkb, dtype=object))


#: The GeoPackage core tables (OGC 12-128r18 Annex C), created once per ledger file.
GPKG_CORE_DDL = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
        ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian SRS'),
        ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic SRS')""",
)


def gpkg_srs_row(crs) -> tuple:
    """The ``gpkg_spatial_ref_sys`` row of a CRS with an EPSG code: (name, id, org, code, wkt, desc)."""
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    code = crs.to_epsg()
    if code is None:
        raise ValueError(f"the ledger needs a CRS with an EPSG code; got {crs.name}")
    return (crs.name, code, "EPSG", code, crs.to_wkt("WKT1_GDAL"), "")
