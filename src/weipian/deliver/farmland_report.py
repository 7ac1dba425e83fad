"""The farmland-use section of the report: summary, township table, worst ten, parcel map with chips.

:func:`farmland_section` returns an HTML fragment (its own map and script,
ids prefixed ``fu-``) that :func:`weipian.deliver.report.write_report` puts
into ``report.html`` when a run judges farmland use;
:func:`write_farmland_report` wraps it as the standalone ``farmland.html``.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..farmland.covers import STATE_ZH, STATES, USE_ZH
from ..farmland.stats import FARMLAND_STAT_COLUMNS_ZH
from ..io import atomic_path
from .report import (
    BASE_CSS,
    PANEL_JS,
    _image_data_uri,
    _json_for_script,
    _overview,
    _svg_path,
    chip_source,
    embeds_chips,
)

__all__ = ["farmland_section", "write_farmland_report", "STATE_COLOURS"]

STATE_COLOURS = {"non_agri": "#e74c3c", "non_grain": "#f39c12", "uncertain": "#9b59b6", "cropped": "#2ecc71"}

_FIELDS = (
    "parcel_id",
    "DLBM",
    "DLMC",
    "state_zh",
    "new_use_zh",
    "use_share",
    "use_area_mu",
    "area_mu",
    "cover_before",
    "cover_after",
    "patch_ids",
    "township",
    "reason",
)

_STAT_SHOWN = (
    "rank",
    "township",
    "parcels",
    "farmland_mu",
    "non_grain_parcels",
    "non_grain_mu",
    "non_grain_new_parcels",
    "non_grain_pond_mu",
    "non_grain_orchard_mu",
    "non_grain_forest_mu",
    "non_grain_grass_mu",
    "non_agri_parcels",
    "non_agri_mu",
    "uncertain_parcels",
    "non_grain_ratio",
)


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:,.3f}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<table id="{table_id}"><tr>{head}</tr>{rows}</table>'


def _summary(parcels) -> pd.DataFrame:
    rows = []
    for s in STATES:
        sel = parcels["state"] == s
        rows.append(
            {
                "状态": STATE_ZH[s],
                "图斑数": int(sel.sum()),
                "面积（亩）": float(parcels.loc[sel, "area_m2"].sum()) / 666.67,
            }
        )
    return pd.DataFrame(rows)


def _features(parcels, transform, step, chips, embed: bool, report_dir: Path, previews: dict) -> list:
    inv = ~transform

    def to_px(x, y):
        col, row = inv @ (x, y)
        return np.asarray(col) / step, np.asarray(row) / step

    out = []
    for geom, row in zip(parcels.geometry, parcels.itertuples(index=False)):
        fields = {k: getattr(row, k) for k in _FIELDS if hasattr(row, k)}
        fields = {
            k: (round(float(v), 3) if isinstance(v, (float, np.floating)) else str(v))
            for k, v in fields.items()
        }
        pid = str(row.parcel_id)
        src = chip_source((chips or {}).get(pid), embed=embed, report_dir=report_dir,
                          preview=previews.get(pid))
        out.append({"state": str(row.state), "d": _svg_path(geom, to_px), "fields": fields, "chip": src})
    return out


def farmland_section(
    parcels,
    stats: pd.DataFrame,
    worst: pd.DataFrame,
    *,
    before,
    after,
    chips=None,
    report_dir,
    embed_chips: int | None = None,
    previews: dict | None = None,
    stretch: dict | None = None,
) -> str:
    """The farmland-use section as an HTML fragment.

    Parameters
    ----------
    parcels : GeoDataFrame
        Judged parcels (imagery CRS); all are drawn, changed ones on top.
    stats, worst : DataFrame
        From :func:`weipian.farmland.stats.farmland_township_stats` and
        :func:`~weipian.farmland.stats.worst_ten_table`.
    before, after : str or Path
    chips : dict, optional
        Parcel id to chip path.
    report_dir : str or Path
        Folder of the page (chips of large batches are linked relative to it).
    embed_chips : int, optional
        Chips are embedded for at most this many chips (default :data:`~weipian.deliver.report.EMBED_CHIPS`).
    previews : dict, optional
        Parcel id to the chip as JPEG bytes (filled by ``make_chips(previews=...)``),
        embedded in place of the PNG.
    """
    overview, transform, step = _overview(after, before, stretch=stretch)
    h, w = overview.shape[:2]
    order = np.argsort([STATES.index(s) for s in parcels["state"]])[::-1]  # cropped first, changed on top
    shown = parcels.iloc[order]
    features = _features(shown, transform, step, chips, embeds_chips(len(chips or {}), embed_chips),
                         Path(report_dir), previews or {})
    stat_cols = [c for c in _STAT_SHOWN if c in stats.columns]
    legend = "".join(
        f'<span class="sw" style="background:{STATE_COLOURS[s]}"></span>{STATE_ZH[s]} ' for s in STATES
    )
    uses = "、".join(USE_ZH[u] for u in ("pond", "orchard", "forest", "grass"))
    return _SECTION.format(
        summary=_table(_summary(parcels), "fu-summary"),
        stats=_table(stats[stat_cols].rename(columns=FARMLAND_STAT_COLUMNS_ZH), "fu-stats"),
        worst=_table(worst, "fu-worst"),
        legend=legend,
        width=w,
        height=h,
        uses=uses,
        overview=_image_data_uri(overview),
        data=_json_for_script({"features": features, "colours": STATE_COLOURS}),
        panel_js=PANEL_JS,
    )


def write_farmland_report(section: str, path, *, title: str = "weipian 耕地非粮化监测") -> Path:
    """Write ``section`` (from :func:`farmland_section`) as a self-contained page, atomically."""
    page = (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{BASE_CSS}</style></head><body><header><h1>{html.escape(title)}</h1></header>"
        f"<main>{section}</main></body></html>"
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


_SECTION = """<section id="farmland-use">
<style>
.sw {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 8px; }}
#fu-wrap {{ display: flex; gap: 12px; }}
#fu-map {{ width: 70%; height: 560px; border: 1px solid #999; background: #333; }}
#fu-panel {{ width: 30%; font-size: 13px; overflow: auto; max-height: 560px; }}
#fu-panel img {{ max-width: 100%; }}
path.parcel {{ fill-opacity: 0.3; stroke-width: 1.2; vector-effect: non-scaling-stroke; cursor: pointer; }}
path.parcel.sel {{ stroke: #ff0 !important; stroke-width: 3; }}
</style>
<h2>耕地"非粮化"/"非农化" Farmland use</h2>
<p>每个耕地图斑按前后两期影像的地类构成判定：耕种、非粮化（{uses}）、非农化（已有建设图斑）或不确定。
大棚等设施无训练样本，不单独识别（显示为"建设地表但无建设图斑"的不确定图斑）；单期影像无法区分季节性休耕与撂荒，不判定撂荒。</p>
{summary}
<h3>街道统计</h3>
{stats}
<h3>最差十名 Worst ten</h3>
{worst}
<h3>耕地图斑地图</h3>
<div>{legend}</div>
<div id="fu-wrap">
<svg id="fu-map" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">
<image href="{overview}" x="0" y="0" width="{width}" height="{height}"></image><g id="fu-parcels"></g></svg>
<div id="fu-panel"><p>点击耕地图斑查看前后影像与判定依据。Click a parcel for its chips and reason.</p></div>
</div>
<script type="application/json" id="fu-data">{data}</script>
<script>
{panel_js}
(function () {{
  var data = JSON.parse(document.getElementById("fu-data").textContent);
  var layer = document.getElementById("fu-parcels"), NS = "http://www.w3.org/2000/svg", paths = [];
  data.features.forEach(function (f) {{
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", f.d); p.setAttribute("class", "parcel");
    p.setAttribute("fill", data.colours[f.state]); p.setAttribute("stroke", data.colours[f.state]);
    p.addEventListener("click", function () {{
      paths.forEach(function (q) {{ q.classList.remove("sel"); }}); p.classList.add("sel");
      weipianPanel(document.getElementById("fu-panel"), f.fields.parcel_id, f.chip, f.fields);
    }});
    layer.appendChild(p); paths.push(p);
  }});
  document.body.dataset.parcels = String(paths.length);
}})();
</script></section>
"""
