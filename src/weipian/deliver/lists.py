"""Every patch list at once: XLSX, CSV, Shapefile, KML, GeoJSON.

Every file is written under a temporary name and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..io import atomic_path
from .route import route_order
from .tables import _table, _text_safe, _write_xlsx
from .vector import _write_kml, _write_shapefile

__all__ = ["export_patches"]


def export_patches(
    frame: gpd.GeoDataFrame,
    directory,
    *,
    stats: pd.DataFrame | None = None,
    encoding: str = "UTF-8",
    route: bool = False,
    formats: tuple = ("xlsx", "csv", "shp", "kml", "geojson"),
) -> dict[str, Path]:
    """Write the patch list in the formats analysts and field apps use.

    Parameters
    ----------
    frame : GeoDataFrame
        Judged patches.
    directory : str or Path
    stats : DataFrame, optional
        Township statistics (second XLSX sheet); computed when not given.
    encoding : str
        Shapefile attribute encoding: ``UTF-8`` or ``GBK`` for older ArcGIS.
    route : bool
        Add ``visit_order`` (see :func:`route_order`).
    formats : tuple of str

    Returns
    -------
    dict
        Format to path.
    """
    from ..stats import township_stats

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    if route:
        frame.insert(1, "visit_order", route_order(frame))
    if stats is None and "xlsx" in formats and len(frame) and "label" in frame:
        stats = township_stats(frame)
    table = _table(frame)
    out = {}
    if "xlsx" in formats:
        out["xlsx"] = directory / "patches.xlsx"
        _write_xlsx(table, stats, out["xlsx"])
    if "csv" in formats:
        out["csv"] = directory / "patches.csv"
        with atomic_path(out["csv"]) as tmp:
            _text_safe(table).to_csv(tmp, index=False, encoding="utf-8-sig")
    if "shp" in formats:
        out["shp"] = directory / "patches.shp"
        _write_shapefile(gpd.GeoDataFrame(table, geometry=frame.geometry.values, crs=frame.crs),
                         out["shp"], encoding)
    wgs = frame.to_crs("EPSG:4326") if len(frame) else frame.set_crs("EPSG:4326", allow_override=True)
    if "geojson" in formats:
        out["geojson"] = directory / "patches.geojson"
        with atomic_path(out["geojson"]) as tmp:
            gpd.GeoDataFrame(_table(wgs), geometry=wgs.geometry.values, crs="EPSG:4326").to_file(
                tmp, driver="GeoJSON", engine="pyogrio")
    if "kml" in formats:
        out["kml"] = directory / "patches.kml"
        _write_kml(wgs, out["kml"])
    return out
