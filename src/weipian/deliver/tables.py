"""Patch tables for people: XLSX and CSV, with Chinese headers.

Text that came from layer attributes is neutralised where a program could
run it: cells starting with ``=``, ``+``, ``-`` or ``@`` get a leading
apostrophe (formula injection).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..io import atomic_path

__all__ = ["FIELDS_ZH", "neutralise", "safe_filename", "write_workbook"]


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
    "evidence_category": "举证类别",
    "farmland_m2": "占耕地面积（平方米）",
    "farmland_0101_m2": "占水田面积（平方米）",
    "farmland_0102_m2": "占水浇地面积（平方米）",
    "farmland_0103_m2": "占旱地面积（平方米）",
    "basic_farmland_m2": "占永久基本农田面积（平方米）",
    "key_project": "重点工程",
    "redline_m2": "占生态保护红线面积（平方米）",
    "boundary_m2": "城镇开发边界内面积（平方米）",
    "facility_m2": "设施农用地备案面积（平方米）",
    "reserve_m2": "占储备地面积（平方米）",
    "approved_m2": "批准用地面积（平方米）",
    "temporary_m2": "临时用地面积（平方米）",
    "temporary_expired_m2": "到期临时用地面积（平方米）",
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


def _write_xlsx(table: pd.DataFrame, stats: pd.DataFrame | None, path: Path) -> None:
    from ..stats import STAT_COLUMNS_ZH

    sheets = [("图斑清单", table.rename(columns=FIELDS_ZH))]
    if stats is not None:
        sheets.append(("街道统计", stats.rename(columns=STAT_COLUMNS_ZH)))
    write_workbook(sheets, path)


def write_workbook(sheets, path) -> None:
    """Write ``(title, DataFrame)`` sheets as one XLSX, atomically.

    Text cells are made inert (:func:`neutralise`); every sheet has a frozen
    header and an autofilter; columns whose header says 亩, 公顷 or 比/率
    get 2-decimal, 4-decimal or percent formats.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    for k, (title, data) in enumerate(sheets):
        data = _text_safe(data)
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
                "0.0%" if "占耕比" in header or "率" in header else None)
            if fmt:
                for cell in ws.iter_cols(min_col=i, max_col=i, min_row=2):
                    for c in cell:
                        c.number_format = fmt
    with atomic_path(path) as tmp:
        wb.save(tmp)


def _text_safe(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out
