"""Patch lists for people and other GIS: XLSX, CSV, Shapefile, KML, GeoJSON.

Every file is written under a temporary name and renamed into place. Text
that came from layer attributes is neutralised where a program could run it:
cells starting with ``=``, ``+``, ``-`` or ``@`` get a leading apostrophe in
CSV and XLSX (formula injection), and KML text is XML-escaped.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd

from .io import atomic_path

__all__ = [
    "FIELDS_ZH",
    "SHAPEFILE_FIELDS",
    "export_patches",
    "neutralise",
    "route_order",
    "safe_filename",
]

#: Chinese column headers of the patch list.
FIELDS_ZH = {
    "patch_id": "图斑编号",
    "visit_order": "核查顺序",
    "label": "判定类型",
    "label_zh": "判定类型（中文）",
    "reason": "判定依据",
    "score": "变化强度",
    "area_m2": "面积（平方米）",
    "area_mu": "面积（亩）",
    "area_ha": "面积（公顷）",
    "farmland_m2": "占耕地面积（平方米）",
    "reserve_m2": "占储备地面积（平方米）",
    "approved_m2": "批准用地面积（平方米）",
    "temporary_m2": "临时用地面积（平方米）",
    "government_m2": "政府投资项目面积（平方米）",
    "township": "街道/镇",
    "township_code": "行政区代码",
    "x": "中心点X",
    "y": "中心点Y",
    "lon": "经度",
    "lat": "纬度",
    "before_date": "前时相日期",
    "after_date": "后时相日期",
}

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
    "farmland_m2": "FARM_M2",
    "reserve_m2": "RESERVE_M2",
    "approved_m2": "APPROV_M2",
    "temporary_m2": "TEMP_M2",
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

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Make a text cell inert for spreadsheets (formula injection).

    Examples
    --------
    >>> neutralise("=HYPERLINK(1)"), neutralise("临字[2023]12号"), neutralise(3.5)
    ("'=HYPERLINK(1)", '临字[2023]12号', 3.5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_filename(text: str) -> str:
    """A file name made from ``text``: no path separators, no ``..``, no control characters.

    Examples
    --------
    >>> safe_filename("../etc/passwd"), safe_filename("440305-2024Q2-000001")
    ('etc_passwd', '440305-2024Q2-000001')
    """
    name = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", "_", str(text))
    name = re.sub(r"\.{2,}", "", name).strip(" ._")
    return name or "_"


def _table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if "area_m2" in table and "area_ha" not in table:
        at = table.columns.get_loc("area_mu") + 1 if "area_mu" in table else len(table.columns)
        table.insert(at, "area_ha", np.round(table["area_m2"] / 10000.0, 4))
    return table


def _text_safe(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


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


def _write_xlsx(table: pd.DataFrame, stats: pd.DataFrame | None, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from .stats import STAT_COLUMNS_ZH

    wb = Workbook()
    sheets = [("图斑清单", _text_safe(table).rename(columns=FIELDS_ZH))]
    if stats is not None:
        sheets.append(("街道统计", _text_safe(stats).rename(columns=STAT_COLUMNS_ZH)))
    for k, (title, data) in enumerate(sheets):
        ws = wb.active if k == 0 else wb.create_sheet()
        ws.title = title
        ws.append(list(data.columns))
        for row in data.itertuples(index=False):
            ws.append([None if (isinstance(v, float) and np.isnan(v)) else
                       (v.item() if hasattr(v, "item") else v) for v in row])
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for i, col in enumerate(data.columns, start=1):
            width = max([len(str(col)) * 2] + [len(str(v)) for v in data[col].head(200)])
            ws.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
            header = str(col)
            fmt = "0.00" if "亩" in header else "0.0000" if "公顷" in header else (
                "0.0%" if "占耕比" in header else None)
            if fmt:
                for cell in ws.iter_cols(min_col=i, max_col=i, min_row=2):
                    for c in cell:
                        c.number_format = fmt
    with atomic_path(path) as tmp:
        wb.save(tmp)


def _write_kml(frame4326: gpd.GeoDataFrame, path: Path) -> None:
    import shapely

    colours = {"violation": "ff2b39c0", "government_project": "ff227ee6", "temporary_use": "ffb6a31a",
               "approved": "ff60ae27"}
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


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, encoding: str) -> None:
    import shutil
    import tempfile

    table = frame.rename(columns=SHAPEFILE_FIELDS)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".shp-") as tmp:
        tmp_shp = Path(tmp) / path.name
        table.to_file(tmp_shp, driver="ESRI Shapefile", engine="pyogrio", encoding=encoding)
        cpg = tmp_shp.with_suffix(".cpg")
        cpg.write_text("GBK" if encoding.lower() in ("gbk", "cp936", "gb2312") else "UTF-8")
        for part in sorted(Path(tmp).iterdir()):
            target = path.with_suffix(part.suffix)
            shutil.move(str(part), str(target.with_name("." + target.name + ".tmp")))
            Path(str(target.with_name("." + target.name + ".tmp"))).replace(target)


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
    from .stats import township_stats

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
