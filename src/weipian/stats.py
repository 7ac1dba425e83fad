"""Per-township statistics, with the 违法占耕比 that bureaus are held to.

违法占耕比 (illegal farmland ratio) = farmland occupied illegally ÷ farmland
occupied by all new construction. Illegal here is every patch that is not
``approved`` or ``temporary_use``: ``violation`` and ``government_project``
(public works built before approval are illegal until their procedures are
completed). ``not_construction`` patches (registered facility agriculture)
are not new construction and count nowhere in the ratio. The "扣减后"
ratio deducts key projects (重点工程: government-project patches whose
``key_project`` is true, see :mod:`weipian.key_projects`) from numerator and
denominator alike, as dashboards do; other government projects stay in.

Occupation of 永久基本农田 (permanent basic farmland), what superiors look at
first, has its own columns, as do the farmland classes 水田, 水浇地, 旱地.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .legality import LABELS, LABELS_ZH
from .vector.layers import FARMLAND_CLASSES

__all__ = ["township_stats", "ILLEGAL_LABELS", "STAT_COLUMNS_ZH", "plot_ratio"]

#: Labels counted as illegal occupation.
ILLEGAL_LABELS = ("violation", "government_project")

#: Labels that are not new construction (left out of the farmland figures).
NOT_CONSTRUCTION_LABELS = ("not_construction",)

#: Chinese headers of the statistics table.
STAT_COLUMNS_ZH = {
    "rank": "排名",
    "township": "街道/镇",
    "township_code": "行政区代码",
    "patches": "图斑数",
    "area_m2": "图斑面积（平方米）",
    **{f"patches_{lab}": f"{LABELS_ZH[lab]}图斑数" for lab in LABELS},
    **{f"area_{lab}_m2": f"{LABELS_ZH[lab]}面积（平方米）" for lab in LABELS},
    "farmland_m2": "新增建设占耕地面积（平方米）",
    **{f"farmland_{code}_m2": f"新增建设占{name}面积（平方米）" for code, name in FARMLAND_CLASSES.items()},
    "farmland_illegal_m2": "违法占耕地面积（平方米）",
    "basic_farmland_m2": "新增建设占永久基本农田面积（平方米）",
    "basic_farmland_illegal_m2": "违法占永久基本农田面积（平方米）",
    "farmland_government_m2": "政府投资项目占耕地面积（平方米）",
    "farmland_key_project_m2": "重点工程占耕地面积（平方米，扣减）",
    "ratio": "违法占耕比",
    "ratio_deducted": "违法占耕比（扣减后）",
    "over_line": "超过问责线",
    "over_strict_line": "超过从严线",
}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def _township_row(name: str, code: str, g: pd.DataFrame) -> dict:
    """Counts and areas (m²) of one township's patches, by label and by farmland class."""
    row = {"township": name, "township_code": code, "patches": len(g), "area_m2": float(g["area_m2"].sum())}
    for lab in LABELS:
        sel = g["label"] == lab
        row[f"patches_{lab}"] = int(sel.sum())
        row[f"area_{lab}_m2"] = float(g.loc[sel, "area_m2"].sum())
    illegal = g["label"].isin(ILLEGAL_LABELS)
    built = ~g["label"].isin(NOT_CONSTRUCTION_LABELS)
    government = g["label"] == "government_project"
    row["farmland_m2"] = float(g.loc[built, "farmland_m2"].sum())
    for farm_code in FARMLAND_CLASSES:
        row[f"farmland_{farm_code}_m2"] = float(g.loc[built, f"farmland_{farm_code}_m2"].sum())
    row["farmland_illegal_m2"] = float(g.loc[illegal, "farmland_m2"].sum())
    row["basic_farmland_m2"] = float(g.loc[built, "basic_farmland_m2"].sum())
    row["basic_farmland_illegal_m2"] = float(g.loc[illegal, "basic_farmland_m2"].sum())
    row["farmland_government_m2"] = float(g.loc[government, "farmland_m2"].sum())
    row["farmland_key_project_m2"] = float(g.loc[government & g["key_project"], "farmland_m2"].sum())
    return row


def township_stats(
    patches: pd.DataFrame,
    *,
    line: float = 0.15,
    strict_line: float | None = 0.08,
) -> pd.DataFrame:
    """Statistics per township, worst first, with a total row.

    Parameters
    ----------
    patches : DataFrame
        Judged patches with ``label``, ``area_m2``, ``farmland_m2``,
        ``township``, ``township_code``; optional ``key_project``,
        ``basic_farmland_m2`` and ``farmland_0101_m2`` ... (0 where absent).
    line : float
        Accountability line for the raw ratio (0.15).
    strict_line : float, optional
        A stricter line some cities apply (0.08).

    Returns
    -------
    DataFrame
        One row per township ranked by the raw ratio (highest first, townships
        without farmland taken last) and a final ``合计`` row; ratios are NaN
        where no farmland was taken.

    Examples
    --------
    >>> p = pd.DataFrame({"label": ["violation", "approved"], "area_m2": [100.0, 300.0],
    ...                   "farmland_m2": [50.0, 150.0], "township": ["甲", "甲"],
    ...                   "township_code": ["1", "1"]})
    >>> float(township_stats(p)["ratio"].iloc[0])
    0.25
    """
    p = patches.copy()
    for column in ("basic_farmland_m2", *(f"farmland_{c}_m2" for c in FARMLAND_CLASSES)):
        if column not in p:
            p[column] = 0.0
    p["key_project"] = p["key_project"].fillna(False).astype(bool) if "key_project" in p else False
    p["township"] = p["township"].fillna("").replace("", "（无街道）")
    p["township_code"] = p["township_code"].fillna("").astype(str)
    groups = list(p.groupby(["township", "township_code"], sort=True)) + [(("合计", ""), p)]
    rows = [_township_row(name, code, g) for (name, code), g in groups]
    table = pd.DataFrame(rows)
    areas = [c for c in table.columns if c.endswith("_m2")]
    table[areas] = table[areas].round(2)
    table["ratio"] = _ratio(table["farmland_illegal_m2"].to_numpy(), table["farmland_m2"].to_numpy())
    table["ratio_deducted"] = _ratio(
        (table["farmland_illegal_m2"] - table["farmland_key_project_m2"]).to_numpy(),
        (table["farmland_m2"] - table["farmland_key_project_m2"]).to_numpy(),
    )
    table["over_line"] = table["ratio"] >= line
    table["over_strict_line"] = table["ratio"] >= strict_line if strict_line is not None else False
    body = table.iloc[:-1].sort_values(["ratio", "farmland_illegal_m2", "township"],
                                       ascending=[False, False, True], na_position="last")
    body.insert(0, "rank", np.arange(1, len(body) + 1))
    total = table.iloc[-1:].copy()
    total.insert(0, "rank", [0])
    out = pd.concat([body, total], ignore_index=True)
    out.attrs["lines"] = {"line": line, "strict_line": strict_line}
    return out


def plot_ratio(stats: pd.DataFrame, path, *, line: float = 0.15, strict_line: float | None = 0.08):
    """Bar chart of 违法占耕比 by township with the threshold lines, as PNG.

    Parameters
    ----------
    stats : DataFrame
        From :func:`township_stats`.
    path : str or Path
    line, strict_line : float
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    _use_cjk_font(font_manager, plt)
    body = stats[stats["rank"] > 0]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(body) + 2), 3.6), dpi=120)
    values = (body["ratio"].fillna(0) * 100).to_numpy()
    colours = ["#c0392b" if v >= line * 100 else "#e67e22" if strict_line and v >= strict_line * 100
               else "#2e86c1" for v in values]
    ax.bar(range(len(body)), values, color=colours)
    ax.set_xticks(range(len(body)))
    ax.set_xticklabels(body["township"].tolist(), rotation=30, ha="right")
    ax.axhline(line * 100, color="#c0392b", linestyle="--", linewidth=1, label=f"{line:.0%} 问责线")
    if strict_line:
        ax.axhline(strict_line * 100, color="#e67e22", linestyle=":", linewidth=1,
                   label=f"{strict_line:.0%} 从严线")
    ax.set_ylabel("违法占耕比 (%)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: CJK fonts matplotlib may find, in order of preference.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "SimHei", "Source Han Sans SC",
             "Microsoft YaHei")


def cjk_font() -> str | None:
    """The first CJK font of :data:`CJK_FONTS` that matplotlib finds, or None.

    matplotlib keeps the list of system fonts it found the first time it
    ran; a font installed after that (``make browser`` installs
    fonts-noto-cjk) is not on it. Where none of :data:`CJK_FONTS` is on the
    list, the system's font files that are not are added to it, once per
    process, before the answer is None.
    """
    from matplotlib import font_manager

    def first():
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    name = first()
    if name is None:
        _add_unlisted_system_fonts()
        name = first()
    return name


@functools.cache
def _add_unlisted_system_fonts() -> None:
    """Add the system's font files that matplotlib's cached font list lacks (once per process)."""
    from matplotlib import font_manager

    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read
                continue


def _use_cjk_font(font_manager, plt) -> None:
    """Use an installed CJK font (labels are Chinese).

    Raises
    ------
    weipian.errors.WeipianError
        If matplotlib finds none: the chart would draw every character as a box.
    """
    from .errors import WeipianError

    name = cjk_font()
    if name is None:
        raise WeipianError("no CJK font for the township chart (Chinese would be drawn as boxes); install "
                           "one, e.g. Debian's fonts-noto-cjk, or use townships.svg")
    plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
