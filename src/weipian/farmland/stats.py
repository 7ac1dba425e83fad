"""Township statistics of farmland use and the worst-ten rankings (pure pandas).

非粮化 area is the area of the new use on each 非粮化 parcel (a parcel 82 %
pond counts 82 % of its area), in m² and 亩. 非农化 area is the area of
construction patches on farmland parcels. The worst-ten lists rank townships
by 非粮化 area and by illegally occupied farmland (违法占耕地面积 from the
judged construction patches, the numerator of 违法占耕比), as enforcement
plans publish them every round.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .covers import USE_OF_COVER, USE_ZH

__all__ = ["farmland_township_stats", "worst_ten", "worst_ten_table", "FARMLAND_STAT_COLUMNS_ZH"]

_MU = 666.67
_USES = tuple(USE_OF_COVER.values())

#: Chinese headers of the statistics table.
FARMLAND_STAT_COLUMNS_ZH = {
    "rank": "排名",
    "township": "街道/镇",
    "township_code": "行政区代码",
    "parcels": "耕地图斑数",
    "farmland_mu": "耕地面积（亩）",
    "non_grain_parcels": "非粮化图斑数",
    "non_grain_mu": "非粮化面积（亩）",
    "non_grain_new_parcels": "本期新增非粮化图斑数",
    "non_grain_ratio": "非粮化比例",
    **{f"non_grain_{u}_parcels": f"非粮化-{USE_ZH[u]}图斑数" for u in _USES},
    **{f"non_grain_{u}_mu": f"非粮化-{USE_ZH[u]}面积（亩）" for u in _USES},
    "non_agri_parcels": "非农化图斑数",
    "non_agri_mu": "非农化面积（亩）",
    "uncertain_parcels": "不确定图斑数",
}


def _row(name: str, code: str, g: pd.DataFrame) -> dict:
    grain = g["state"] == "non_grain"
    agri = g["state"] == "non_agri"
    row = {
        "township": name,
        "township_code": code,
        "parcels": len(g),
        "farmland_mu": float(g["area_m2"].sum()) / _MU,
        "non_grain_parcels": int(grain.sum()),
        "non_grain_mu": float(g.loc[grain, "use_area_m2"].sum()) / _MU,
        "non_grain_new_parcels": int((grain & g["new_this_batch"].astype(bool)).sum()),
    }
    for use in _USES:
        sel = grain & (g["new_use"] == use)
        row[f"non_grain_{use}_parcels"] = int(sel.sum())
        row[f"non_grain_{use}_mu"] = float(g.loc[sel, "use_area_m2"].sum()) / _MU
    row["non_agri_parcels"] = int(agri.sum())
    row["non_agri_mu"] = float(g.loc[agri, "built_m2"].sum()) / _MU
    row["uncertain_parcels"] = int((g["state"] == "uncertain").sum())
    return row


def farmland_township_stats(parcels: pd.DataFrame) -> pd.DataFrame:
    """Farmland-use figures per township, most 非粮化 first, with a final ``合计`` row.

    Parameters
    ----------
    parcels : DataFrame
        From :func:`weipian.workflows.farmland.farmland_use` (``state``,
        ``new_use``, ``new_this_batch``, ``area_m2``, ``use_area_m2``,
        ``built_m2``, ``township``, ``township_code``).

    Returns
    -------
    DataFrame
        Columns :data:`FARMLAND_STAT_COLUMNS_ZH`; areas in 亩 (3 decimals);
        ``non_grain_ratio`` = 非粮化 area ÷ farmland area.

    Examples
    --------
    >>> p = pd.DataFrame({"state": ["non_grain", "cropped"], "new_use": ["pond", ""],
    ...                   "new_this_batch": [True, False], "area_m2": [1000.0, 3000.0],
    ...                   "use_area_m2": [800.0, 0.0], "built_m2": [0.0, 0.0],
    ...                   "township": ["甲", "甲"], "township_code": ["1", "1"]})
    >>> float(farmland_township_stats(p)["non_grain_ratio"].iloc[0])
    0.2
    """
    p = parcels.copy()
    p["township"] = p["township"].fillna("").replace("", "（无街道）")
    p["township_code"] = p["township_code"].fillna("").astype(str)
    groups = list(p.groupby(["township", "township_code"], sort=True)) + [(("合计", ""), p)]
    table = pd.DataFrame([_row(name, code, g) for (name, code), g in groups])
    mu = [c for c in table.columns if c.endswith("_mu")]
    farmland = table["farmland_mu"].to_numpy()
    ratio = np.full(len(table), np.nan)
    np.divide(table["non_grain_mu"].to_numpy(), farmland, out=ratio, where=farmland > 0)
    table["non_grain_ratio"] = ratio
    table[mu] = table[mu].round(3)
    body = table.iloc[:-1].sort_values(["non_grain_mu", "township"], ascending=[False, True])
    body.insert(0, "rank", np.arange(1, len(body) + 1))
    total = table.iloc[-1:].copy()
    total.insert(0, "rank", [0])
    return pd.concat([body, total], ignore_index=True)


def worst_ten(stats: pd.DataFrame, column: str, *, n: int = 10) -> pd.DataFrame:
    """The ``n`` townships with the largest ``column`` (ties by name), leaving out the total row and zeros.

    Returns
    -------
    DataFrame
        ``rank``, ``township``, ``township_code``, ``value``.
    """
    body = stats[stats["township"] != "合计"]
    body = body[pd.to_numeric(body[column], errors="coerce").fillna(0) > 0]
    body = body.sort_values([column, "township"], ascending=[False, True]).head(n)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(body) + 1),
            "township": body["township"].to_numpy(),
            "township_code": body["township_code"].to_numpy(),
            "value": body[column].to_numpy(dtype=float),
        }
    )


def worst_ten_table(
    farmland_stats: pd.DataFrame, patch_stats: pd.DataFrame | None = None, *, n: int = 10
) -> pd.DataFrame:
    """Both worst-ten lists side by side: 非农化 (illegal farmland occupation, 亩) and 非粮化 (亩).

    Parameters
    ----------
    farmland_stats : DataFrame
        From :func:`farmland_township_stats`.
    patch_stats : DataFrame, optional
        From :func:`weipian.stats.township_stats` (its ``farmland_illegal_m2``
        and ``ratio``); without it the 非农化 list ranks the built area on
        farmland parcels.
    n : int

    Returns
    -------
    DataFrame
        ``排名``, ``非农化街道/镇``, ``违法占耕地面积（亩）``, ``违法占耕比``,
        ``非粮化街道/镇``, ``非粮化面积（亩）``, ``非粮化图斑数``.
    """
    grain = worst_ten(farmland_stats, "non_grain_mu", n=n)
    counts = farmland_stats.set_index("township")["non_grain_parcels"]
    if patch_stats is not None and len(patch_stats):
        ps = patch_stats.assign(illegal_mu=patch_stats["farmland_illegal_m2"] / _MU)
        agri = worst_ten(ps, "illegal_mu", n=n)
        ratio = ps.set_index("township")["ratio"]
        agri_ratio = [float(ratio.get(t, np.nan)) for t in agri["township"]]
    else:
        agri = worst_ten(farmland_stats, "non_agri_mu", n=n)
        agri_ratio = [np.nan] * len(agri)
    rows = max(len(grain), len(agri))

    def col(frame, key, fill):
        values = list(frame[key]) if key in frame else []
        return values + [fill] * (rows - len(values))

    return pd.DataFrame(
        {
            "排名": np.arange(1, rows + 1),
            "非农化街道/镇": col(agri, "township", ""),
            "违法占耕地面积（亩）": np.round(col(agri, "value", np.nan), 3),
            "违法占耕比": np.round(agri_ratio + [np.nan] * (rows - len(agri_ratio)), 4),
            "非粮化街道/镇": col(grain, "township", ""),
            "非粮化面积（亩）": np.round(col(grain, "value", np.nan), 3),
            "非粮化图斑数": [int(counts.get(t, 0)) if t else 0 for t in col(grain, "township", "")],
        }
    )
