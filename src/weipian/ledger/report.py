"""What superiors ask of a ledger, per township and batch.

:func:`ledger_tables` computes, from the ledger's patches (pure pandas):

* patches and area by state;
* 整改率 (rectification rate) = rectified cases (已整改, 销项) ÷ filed cases
  (立案, 整改中, 已整改, 销项), by count and by area;
* 违法占耕比 of every batch (:func:`weipian.stats.township_stats` on the
  batch's patches; repeats are left out, they were counted in the batch that
  first found them);
* the ten townships with the lowest 整改率 by area (ties: the larger
  unrectified area first);
* temporary approvals that expired and are still occupied in the latest
  imagery (patches of the latest batch with ``temporary_expired_m2`` > 0);
* patches overdue in their state: still 疑似, 已核查, 立案 or 整改中 after
  more days than :data:`OVERDUE_DAYS` allows (a setting).

:func:`write_ledger_report` writes them as ``ledger_report.xlsx`` and an
offline ``ledger_report.html`` in the style of the run report.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..deliver.report import BASE_CSS
from ..deliver.tables import write_workbook
from ..io import atomic_path
from .states import FILED_STATES, OPEN_STATES, RECTIFIED_STATES, STATES

__all__ = ["OVERDUE_DAYS", "ledger_tables", "write_ledger_report", "COLUMNS_ZH"]

#: Days a patch may stay in a state before it is overdue (a setting: ``overdue_days``).
OVERDUE_DAYS = {"疑似": 30, "已核查": 30, "立案": 60, "整改中": 90}

#: Chinese headers of the report tables.
COLUMNS_ZH = {
    "batch": "批次", "township": "街道/镇", "township_code": "行政区代码", "patches": "图斑数",
    "area_m2": "面积（平方米）", "filed": "立案数", "filed_m2": "立案面积（平方米）",
    "rectified": "已整改数", "rectified_m2": "已整改面积（平方米）", "rate_count": "整改率（按数量）",
    "rate_area": "整改率（按面积）", "unrectified_m2": "未整改面积（平方米）", "rank": "排名",
    "farmland_m2": "新增建设占耕地面积（平方米）", "farmland_illegal_m2": "违法占耕地面积（平方米）",
    "basic_farmland_illegal_m2": "违法占永久基本农田面积（平方米）", "ratio": "违法占耕比",
    "ratio_deducted": "违法占耕比（扣减后）", "patch_id": "图斑编号", "state": "状态",
    "state_since": "状态起始时间", "days": "已持续天数", "limit_days": "时限（天）",
    "temporary_expired_m2": "到期临时用地面积（平方米）", "reason": "判定依据", "label": "判定类型",
    "repeat_of": "对应上期图斑", "outcome": "核查结果",
    **{f"n_{s}": f"{s}数" for s in STATES}, **{f"area_{s}": f"{s}面积（平方米）" for s in STATES},
}

_TOTAL = "合计"


def _rate(num, den):
    num = np.asarray(num, float)
    den = np.asarray(den, float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _with_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """The patches once per township and once more as township 合计, for per-batch totals."""
    frame = frame.copy()
    frame["township"] = frame["township"].fillna("").replace("", "（无街道）")
    total = frame.copy()
    total["township"] = _TOTAL
    return pd.concat([frame, total], ignore_index=True)


def _by_state(p: pd.DataFrame) -> pd.DataFrame:
    """Patches and area per batch and township, and per state (states that occur)."""
    q = _with_totals(p)
    keys = ["batch", "township"]
    out = q.groupby(keys, sort=True).agg(patches=("patch_id", "size"), area_m2=("area_m2", "sum"))
    per_state = q.groupby(keys + ["state"]).agg(n=("patch_id", "size"), area=("area_m2", "sum"))
    per_state = per_state.unstack("state", fill_value=0).reindex(out.index, fill_value=0)
    for s in STATES:
        if ("n", s) in per_state.columns:
            out[f"n_{s}"] = per_state[("n", s)].astype(int)
            out[f"area_{s}"] = per_state[("area", s)].astype(float)
    return out.reset_index()


def _rectification(p: pd.DataFrame, by_batch: bool = True) -> pd.DataFrame:
    q = _with_totals(p)
    if not by_batch:
        q["batch"] = "全部"
    q["_filed"] = q["state"].isin(FILED_STATES)
    q["_rect"] = q["state"].isin(RECTIFIED_STATES)
    q["_filed_m2"] = q["area_m2"].where(q["_filed"], 0.0)
    q["_rect_m2"] = q["area_m2"].where(q["_rect"], 0.0)
    out = q.groupby(["batch", "township"], sort=True).agg(
        filed=("_filed", "sum"), filed_m2=("_filed_m2", "sum"), rectified=("_rect", "sum"),
        rectified_m2=("_rect_m2", "sum")).reset_index()
    out["rate_count"] = _rate(out["rectified"], out["filed"])
    out["rate_area"] = _rate(out["rectified_m2"], out["filed_m2"])
    out["unrectified_m2"] = out["filed_m2"] - out["rectified_m2"]
    return out


def _ratios(p: pd.DataFrame) -> pd.DataFrame:
    from ..stats import township_stats

    rows = []
    # 非粮化 parcel entries are no construction: they stay out of 违法占耕比
    for batch, g in p[(p["state"] != "重复") & (p["label"] != "non_grain")].groupby("batch", sort=True):
        stats = township_stats(g)
        stats.insert(0, "batch", batch)
        stats.loc[stats["rank"] == 0, "township"] = _TOTAL
        rows.append(stats[["batch", "township", "township_code", "farmland_m2", "farmland_illegal_m2",
                           "basic_farmland_illegal_m2", "ratio", "ratio_deducted"]])
    if not rows:
        return pd.DataFrame(columns=["batch", "township", "township_code", "farmland_m2",
                                     "farmland_illegal_m2", "basic_farmland_illegal_m2", "ratio",
                                     "ratio_deducted"])
    return pd.concat(rows, ignore_index=True)


def _worst(p: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    overall = _rectification(p, by_batch=False)
    body = overall[(overall["township"] != _TOTAL) & (overall["filed"] > 0)]
    body = body.sort_values(["rate_area", "unrectified_m2", "township"], ascending=[True, False, True])
    body = body.head(n).drop(columns="batch").reset_index(drop=True)
    body.insert(0, "rank", np.arange(1, len(body) + 1))
    return body


def _expired_temporary(p: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    cols = ["patch_id", "batch", "township", "state", "area_m2", "temporary_expired_m2", "repeat_of",
            "reason"]
    if batches.empty:
        return pd.DataFrame(columns=cols)
    latest = batches.iloc[-1]["batch"]
    sel = p[(p["batch"] == latest) & (p["temporary_expired_m2"].fillna(0) > 0)]
    return sel[cols].reset_index(drop=True)


def _overdue(p: pd.DataFrame, as_of: dt.date, limits: dict) -> pd.DataFrame:
    cols = ["patch_id", "batch", "township", "state", "state_since", "days", "limit_days", "area_m2"]
    since = pd.to_datetime(p["state_since"], utc=True, format="ISO8601").dt.date
    days = np.array([(as_of - d).days for d in since], dtype=int) if len(p) else np.zeros(0, int)
    limit = p["state"].map(lambda s: limits.get(s, np.inf)).astype(float).to_numpy()
    sel = p["state"].isin(OPEN_STATES).to_numpy() & (days > limit)
    out = p.loc[sel].assign(days=days[sel], limit_days=limit[sel].astype(int))
    return out[cols].sort_values(["days", "patch_id"], ascending=[False, True]).reset_index(drop=True)


def ledger_tables(patches: pd.DataFrame, batches: pd.DataFrame, *, as_of: dt.date | None = None,
                  overdue_days: dict | None = None) -> dict[str, pd.DataFrame]:
    """The ledger report's tables.

    Parameters
    ----------
    patches : DataFrame
        :meth:`weipian.ledger.Ledger.patches` (``batch``, ``township``,
        ``state``, ``state_since``, ``area_m2``, ``label``, ``farmland_m2`` …).
    batches : DataFrame
        :meth:`weipian.ledger.Ledger.batches`, oldest first.
    as_of : date, optional
        The day overdue patches are counted to (default: today, UTC).
    overdue_days : dict, optional
        State -> days allowed; merged over :data:`OVERDUE_DAYS`.

    Returns
    -------
    dict of DataFrame
        ``by_state``, ``rectification``, ``ratio``, ``worst``,
        ``expired_temporary``, ``overdue``.
    """
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    limits = {**OVERDUE_DAYS, **(overdue_days or {})}
    p = pd.DataFrame(patches).copy()
    if "geometry" in p:
        p = p.drop(columns="geometry")
    for column in ("area_m2", "farmland_m2", "basic_farmland_m2", "temporary_expired_m2"):
        p[column] = p[column].astype(float).fillna(0.0)
    p["township"] = p["township"].fillna("")
    p["township_code"] = p["township_code"].fillna("")
    return {
        "by_state": _by_state(p),
        "rectification": _rectification(p),
        "ratio": _ratios(p),
        "worst": _worst(p),
        "expired_temporary": _expired_temporary(p, batches),
        "overdue": _overdue(p, as_of, limits),
    }


#: Sheet titles, in order.
SHEETS = {"by_state": "状态统计", "rectification": "整改率", "ratio": "违法占耕比",
          "worst": "整改率最低十街道", "expired_temporary": "到期未收回临时用地", "overdue": "超期图斑"}


def write_ledger_report(ledger, output, *, as_of: dt.date | None = None,
                        overdue_days: dict | None = None) -> dict[str, Path]:
    """Write ``ledger_report.xlsx`` and ``ledger_report.html`` into ``output``.

    Parameters
    ----------
    ledger : weipian.ledger.Ledger
    output : str or Path
        Folder (created).
    as_of, overdue_days
        See :func:`ledger_tables`.

    Returns
    -------
    dict
        ``xlsx`` and ``html`` paths; ``tables`` holds the DataFrames.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    batches = ledger.batches()
    tables = ledger_tables(ledger.patches(), batches, as_of=as_of, overdue_days=overdue_days)
    xlsx = output / "ledger_report.xlsx"
    write_workbook([(SHEETS[k], t.rename(columns=COLUMNS_ZH)) for k, t in tables.items()], xlsx)
    page = output / "ledger_report.html"
    with atomic_path(page) as tmp:
        tmp.write_text(_page(tables, batches, ledger.location, as_of), encoding="utf-8")
    return {"xlsx": xlsx, "html": page, "tables": tables}


def _cell(column: str, value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—" if column.startswith(("rate", "ratio")) else ""
    if column.startswith(("rate", "ratio")):
        return f"{value:.1%}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.1f}"
    return html.escape(str(value))


def _html_table(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(COLUMNS_ZH.get(c, c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cls = ' class="total"' if _TOTAL in (getattr(row, "township", None),) else ""
        cells = "".join(
            ('<td class="n">' if isinstance(v, (int, float, np.number)) else "<td>") + f"{_cell(c, v)}</td>"
            for c, v in zip(frame.columns, row))
        body.append(f"<tr{cls}>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(frame.columns)}">无 none</td></tr>')
    return f'<table id="{table_id}"><tr>{head}</tr>{"".join(body)}</table>'


def _page(tables: dict, batches: pd.DataFrame, location: str, as_of) -> str:
    sections = "".join(f"<h2>{SHEETS[k]}</h2>{_html_table(t, k)}" for k, t in tables.items())
    listed = ", ".join(html.escape(str(b)) for b in batches["batch"]) or "无"
    stamp = (as_of or dt.datetime.now(dt.timezone.utc).date()).isoformat()
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>图斑台账报告</title><style>{BASE_CSS}</style></head>"
            f"<body><header><h1>图斑台账报告 Patch ledger report</h1></header><main>"
            f"<p>批次 batches: {listed} · 统计日期 as of {stamp}</p>{sections}</main>"
            f"<footer>weipian · {html.escape(str(location))}</footer></body></html>")
