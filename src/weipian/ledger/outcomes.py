"""Field-verification outcomes as a field app exports them: XLSX, CSV or GeoPackage.

A row per visited patch, keyed by patch id, with what the crew found (each
column is found under any of the names given):

``patch_id`` (图斑编号, TBBH, JCBH)
    The patch: an id in the ledger.
``outcome`` (核查结果, 实地情况, verified)
    What was on the ground: 真实新增, 实地未变化 or 非建设 (or
    ``new_construction``, ``no_change``, ``not_construction``).
``category`` (举证类别, 举证类型)
    The 举证 category the crew recorded (free text).
``photos`` (照片, 照片编号)
    Photo references (free text).
``verified_by`` (核查人), ``verified_at`` (核查时间, 核查日期)
    Who visited, and when (a date).

:func:`read_outcomes` checks everything before anything is imported:
unknown outcome values and missing columns are refused with the accepted
ones named (unknown patch ids are refused by the ledger, which knows them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..vector.layers import first_field

__all__ = ["OUTCOME_VALUES", "read_outcomes"]

#: Accepted outcome values -> the ledger's outcome.
OUTCOME_VALUES = {
    "真实新增": "真实新增", "新增建设": "真实新增", "违法建设": "真实新增", "new_construction": "真实新增",
    "实地未变化": "实地未变化", "未变化": "实地未变化", "无变化": "实地未变化", "no_change": "实地未变化",
    "非建设": "非建设", "非新增建设": "非建设", "not_construction": "非建设",
}

_COLUMNS = {
    "patch_id": ("patch_id", "图斑编号", "TBBH", "JCBH", "监测图斑编号", "id"),
    "outcome": ("outcome", "核查结果", "实地情况", "verified", "result"),
    "category": ("category", "evidence_category", "举证类别", "举证类型", "JZLB"),
    "photos": ("photos", "照片", "照片编号", "photo", "ZP"),
    "verified_by": ("verified_by", "核查人", "who", "HCR"),
    "verified_at": ("verified_at", "核查时间", "核查日期", "date", "HCSJ"),
}


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, dtype=str)
        if suffix in (".csv", ".txt"):
            raw = path.read_bytes()
            encoding = "utf-8-sig"
            try:
                raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                encoding = "gbk"
            return pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        if suffix in (".gpkg", ".shp", ".geojson", ".json", ".fgb"):
            import pyogrio

            return pd.DataFrame(pyogrio.read_dataframe(path, read_geometry=False)).astype(object)
    except Exception as exc:
        raise InputFileError(f"{path}: cannot be read as a table ({str(exc).splitlines()[0][:120]}); "
                             "export XLSX, CSV or GeoPackage from the field app") from None
    raise InputFileError(f"{path}: {suffix or 'no extension'} is not a table weipian reads; give .xlsx, "
                         ".csv or .gpkg")


def _text(values) -> list:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in ("", "nan", "None"):
            out.append(None)
        else:
            out.append(str(v).strip())
    return out


def read_outcomes(path) -> pd.DataFrame:
    """Read and check a field-verification export.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    DataFrame
        ``patch_id``, ``outcome`` (真实新增 / 实地未变化 / 非建设),
        ``category``, ``photos``, ``verified_by``, ``verified_at`` (ISO date
        or None), one row per patch (a later row for the same patch wins).

    Raises
    ------
    InputFileError
        Missing file or columns, unknown outcome values, unparseable dates,
        rows without a patch id: all listed, nothing returned.
    """
    from ..errors import DateError
    from ..io import parse_date

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; give the field app's export")
    table = _read_table(path)
    found = {key: first_field(table.columns, names) for key, names in _COLUMNS.items()}
    missing = [k for k in ("patch_id", "outcome") if found[k] is None]
    if missing:
        present = ", ".join(str(c) for c in table.columns)
        raise InputFileError(f"{path}: no {' or '.join(missing)} column (looked for "
                             + "; ".join(", ".join(_COLUMNS[k]) for k in missing)
                             + f"); columns present: {present}")
    out = pd.DataFrame({key: _text(table[col]) if col else [None] * len(table) for key, col in found.items()})
    problems = []
    no_id = [i + 2 for i, v in enumerate(out["patch_id"]) if v is None]
    if no_id:
        problems.append(f"rows without a patch id: {', '.join(map(str, no_id[:10]))}")
    unknown = sorted({v for v in out["outcome"] if v is not None and v not in OUTCOME_VALUES
                      and v.lower() not in OUTCOME_VALUES})
    if unknown or any(v is None for v in out["outcome"]):
        shown = unknown + (["(empty)"] if any(v is None for v in out["outcome"]) else [])
        problems.append(f"unknown outcome values {shown}; accepted: {', '.join(OUTCOME_VALUES)}")
    dates = []
    for i, v in enumerate(out["verified_at"]):
        if v is None:
            dates.append(None)
            continue
        try:
            dates.append(parse_date(v, source=found["verified_at"]).isoformat())
        except DateError:
            problems.append(f"row {i + 2}: {v!r} is not a date")
            dates.append(None)
    if problems:
        raise InputFileError(f"{path}: " + "; ".join(problems) + "; fix the file, nothing was imported")
    out["outcome"] = [OUTCOME_VALUES.get(v, OUTCOME_VALUES.get(str(v).lower())) for v in out["outcome"]]
    out["verified_at"] = dates
    return out.drop_duplicates("patch_id", keep="last").reset_index(drop=True)
