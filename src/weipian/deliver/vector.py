"""Patch lists for other GIS: Shapefile, KML, GeoJSON.

Shapefile field names have at most 10 characters (with a ``.cpg``); KML
text is XML-escaped; KML and GeoJSON are in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import pandas as pd

from ..io import atomic_path

__all__ = ["SHAPEFILE_FIELDS", "gbk_safe"]


#: Shapefile field names (at most 10 characters) for each patch field.
SHAPEFILE_FIELDS = {
    "patch_id": "PATCH_ID",
    "visit_order": "VISIT_ORD",
    "label": "LABEL",
    "label_zh": "LABEL_ZH",
    "reason": "REASON",
    "score": "SCORE",
    "area_m2": "AREA_M2",
    "area_mu": "AREA_MU",
    "area_ha": "AREA_HA",
    "evidence_category": "JZ_TYPE",
    "farmland_m2": "FARM_M2",
    "farmland_0101_m2": "FARM0101",
    "farmland_0102_m2": "FARM0102",
    "farmland_0103_m2": "FARM0103",
    "basic_farmland_m2": "JBNT_M2",
    "key_project": "KEY_PROJ",
    "redline_m2": "REDLINE_M2",
    "boundary_m2": "BOUND_M2",
    "facility_m2": "FACIL_M2",
    "reserve_m2": "RESERVE_M2",
    "approved_m2": "APPROV_M2",
    "temporary_m2": "TEMP_M2",
    "temporary_expired_m2": "TEMPEXP_M2",
    "government_m2": "GOV_M2",
    "township": "TOWNSHIP",
    "township_code": "TOWN_CODE",
    "x": "X",
    "y": "Y",
    "lon": "LON",
    "lat": "LAT",
    "before_date": "BEFORE_DT",
    "after_date": "AFTER_DT",
}


def _write_kml(frame4326: gpd.GeoDataFrame, path: Path) -> None:
    import shapely

    colours = {"violation": "ff2b39c0", "government_project": "ff227ee6", "temporary_use": "ffb6a31a",
               "approved": "ff60ae27", "not_construction": "ff8d8d8d"}
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>weipian patches</name>']
    for label, colour in colours.items():
        parts.append(f'<Style id="{label}"><LineStyle><color>{colour}</color><width>2</width>'
                     f'</LineStyle><PolyStyle><color>40{colour[2:]}</color></PolyStyle></Style>')
    for row in frame4326.itertuples(index=False):
        geom = row.geometry
        polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        body = []
        for poly in polys:
            rings = [poly.exterior] + list(poly.interiors)
            coords = [" ".join(f"{x:.8f},{y:.8f}" for x, y in shapely.get_coordinates(r)) for r in rings]
            inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{c}</coordinates>"
                            f"</LinearRing></innerBoundaryIs>" for c in coords[1:])
            body.append(f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords[0]}"
                        f"</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>")
        data = "".join(
            f'<Data name="{escape(k)}"><value>{escape(str(getattr(row, k)))}</value></Data>'
            for k in ("label_zh", "reason", "area_m2", "area_mu", "township") if hasattr(row, k))
        label = getattr(row, "label", "violation")
        parts.append(
            f"<Placemark><name>{escape(str(row.patch_id))}</name>"
            f"<description>{escape(str(getattr(row, 'reason', '')))}</description>"
            f"<styleUrl>#{escape(str(label))}</styleUrl><ExtendedData>{data}</ExtendedData>"
            f"<MultiGeometry>{''.join(body)}</MultiGeometry></Placemark>")
    parts.append("</Document></kml>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")


#: Characters GBK lacks that reasons use, and what a GBK Shapefile gets instead.
_GBK_SUBSTITUTES = {"²": "2", "³": "3", "—": "-", "→": "->"}


def gbk_safe(text):
    """``text`` with characters GBK cannot hold replaced (m² → m2; others → ``?``).

    Examples
    --------
    >>> gbk_safe("120 m² 永久基本农田"), gbk_safe(3.5)
    ('120 m2 永久基本农田', 3.5)
    """
    if not isinstance(text, str):
        return text
    for a, b in _GBK_SUBSTITUTES.items():
        text = text.replace(a, b)
    return text.encode("gbk", errors="replace").decode("gbk")


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, encoding: str) -> None:
    import shutil
    import tempfile

    table = frame.rename(columns=SHAPEFILE_FIELDS)
    if encoding.lower() in ("gbk", "cp936", "gb2312"):
        for column in table.columns:
            if column != table.geometry.name and (table[column].dtype == object
                                                  or pd.api.types.is_string_dtype(table[column].dtype)):
                table[column] = table[column].map(gbk_safe)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".shp-") as tmp:
        tmp_shp = Path(tmp) / path.name
        table.to_file(tmp_shp, driver="ESRI Shapefile", engine="pyogrio", encoding=encoding)
        cpg = tmp_shp.with_suffix(".cpg")
        cpg.write_text("GBK" if encoding.lower() in ("gbk", "cp936", "gb2312") else "UTF-8")
        for part in sorted(Path(tmp).iterdir()):
            target = path.with_suffix(part.suffix)
            shutil.move(str(part), str(target.with_name("." + target.name + ".tmp")))
            Path(str(target.with_name("." + target.name + ".tmp"))).replace(target)
