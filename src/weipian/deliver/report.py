"""``report.html``: one self-contained page that works offline.

The page holds everything it shows: the summary, the township table with
违法占耕比, the bar chart, and an interactive map — patches as SVG polygons
coloured by label over a downsampled overview of the after image, with
wheel zoom, drag pan, filters by label and township, and a panel with the
clicked patch's chips, fields and reason. No script or style is loaded from
the network (field offices are often offline); the map code is the few lines
below. Every text that came from the data is escaped (HTML) or inserted as
text by the script, never as markup.
"""

from __future__ import annotations

import base64
import functools
import html
import json
from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..legality import LABELS, LABELS_ZH

__all__ = ["write_report", "LABEL_COLOURS", "BASE_CSS"]

LABEL_COLOURS = {"violation": "#c0392b", "government_project": "#e67e22",
                 "temporary_use": "#2e86c1", "approved": "#27ae60", "not_construction": "#8d8d8d"}

_FIELDS = ("patch_id", "label_zh", "evidence_category", "reason", "area_m2", "area_mu", "farmland_m2",
           "basic_farmland_m2", "reserve_m2",
           "township", "township_code", "lon", "lat", "before_date", "after_date", "score")


#: Batches of at most this many patches (or parcels) have their chips embedded in the report;
#: larger ones link ``chips/`` beside it.
EMBED_CHIPS = 300


def embeds_chips(count: int, limit: int | None = None) -> bool:
    """Whether a report of ``count`` chips embeds them (at most ``limit``, default :data:`EMBED_CHIPS`)."""
    return count <= (EMBED_CHIPS if limit is None else limit)


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _png_data_uri(path) -> str:
    """A PNG file as a data URI."""
    return _data_uri(Path(path).read_bytes(), "image/png")


def _image_data_uri(rgb: np.ndarray, *, quality: int = 90) -> str:
    """An ``(M, N, 3)`` uint8 picture (the overview under the map) as a JPEG data URI."""
    import cv2

    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - libjpeg refuses only on out-of-memory
        raise OSError("the report's overview could not be encoded")
    return _data_uri(data.tobytes(), "image/jpeg")


def chip_source(chip, *, embed: bool, report_dir: Path, preview: bytes | None = None) -> str:
    """The ``src`` of a chip in a report's click panel.

    Embedded (the JPEG ``preview`` when there is one, else the PNG file), a
    link relative to the report's folder, or ``""`` when there is no chip.
    """
    if not chip:
        return ""
    if not embed:
        return Path(chip).relative_to(report_dir).as_posix()
    return _data_uri(preview, "image/jpeg") if preview is not None else _png_data_uri(chip)


def _overview(after_path, before_path, max_side: int = 1200, stretch: dict | None = None):
    """Downsampled true-colour overview of the after epoch on the before grid.

    The last two overviews are kept (a run's report and its farmland section draw the same one).
    """
    key = None if stretch is None else tuple(np.round(np.asarray(stretch["after"], float), 9).ravel())
    if key is None:
        return _read_overview(str(after_path), str(before_path), max_side, None)
    return _cached_overview(str(after_path), str(before_path), max_side, key)


@functools.lru_cache(maxsize=2)
def _cached_overview(after_path: str, before_path: str, max_side: int, after_limits: tuple):
    return _read_overview(after_path, before_path, max_side, np.reshape(after_limits, (3, 2)))


def _read_overview(after_path: str, before_path: str, max_side: int, after_limits):
    from ..io import PairReader, PairSpec
    from .chips import _to_rgb8, epoch_stretch

    with PairReader(PairSpec(before_path, after_path)) as reader:
        stretch = {"after": after_limits} if after_limits is not None else epoch_stretch(reader)
        height, width = reader.shape
        step = max(1, int(np.ceil(max(height, width) / max_side)))
        data = reader.read_overview(("red", "green", "blue"),
                                    (max(1, height // step), max(1, width // step)))
        return _to_rgb8(data, stretch["after"]), reader.transform, step


def _svg_path(geom, to_px) -> str:
    import shapely

    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            xy = shapely.get_coordinates(ring)
            cols, rows = to_px(xy[:, 0], xy[:, 1])
            pts = " L".join(f"{c:.1f},{r:.1f}" for c, r in zip(cols, rows))
            parts.append(f"M{pts} Z")
    return " ".join(parts)


def _json_for_script(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_report(patches, stats, path, *, before, after, chips: dict | None = None,
                 chart_svg=None, title: str = "weipian 卫片执法监测报告",
                 run_info: dict | None = None, embed_chips: int | None = None, previews: dict | None = None,
                 obscured: dict | None = None, stretch: dict | None = None,
                 guard: dict | None = None, sections: list[str] | None = None) -> Path:
    """Write the self-contained HTML report.

    Parameters
    ----------
    patches : GeoDataFrame
        Judged patches (imagery CRS).
    stats : DataFrame
        From :func:`weipian.stats.township_stats`.
    path : str or Path
    before, after : str or Path
        The epochs (for the overview map).
    chips : dict, optional
        Patch id to chip PNG path; embedded in the page.
    previews : dict, optional
        Patch id to the chip as JPEG bytes (filled by ``make_chips(previews=...)``),
        embedded in place of the PNG: the page is several times smaller and
        opens faster, and ``chips/`` keeps the lossless evidence.
    chart_svg : str or Path, optional
        Bar chart of the ratios as SVG (:func:`weipian.deliver.chart.ratio_chart_svg`);
        embedded inline, so the browser draws its Chinese text with its own fonts.
    title : str
    run_info : dict, optional
        Shown in the footer (dates, shift, versions).
    embed_chips : int, optional
        Chips are embedded in the page for batches of at most this many
        patches (default :data:`EMBED_CHIPS`); larger batches link ``chips/``
        beside the report.
    obscured : dict, optional
        ``area_m2`` and ``by_township_m2`` of clouds, shadows and masks.
    stretch : dict, optional
        From :func:`weipian.deliver.chips.epoch_stretch`; computed when not given.
    guard : dict, optional
        The plausibility guard's finding (:func:`weipian.guard.plausibility`);
        a warning banner heads the page where it fired.
    sections : list of str, optional
        HTML fragments put after the map (the farmland-use section).

    Returns
    -------
    Path
    """
    overview, transform, step = _overview(after, before, stretch=stretch)
    features = _map_features(patches, transform, step, chips=chips,
                             embed=embeds_chips(len(patches), embed_chips), report_dir=Path(path).parent,
                             previews=previews or {})
    h, w = overview.shape[:2]
    esc = html.escape
    townships = sorted({str(t) for t in patches["township"]})
    options = "".join(f'<option value="{esc(t)}">{esc(t)}</option>' for t in townships)
    label_boxes = "".join(
        f'<label><input type="checkbox" class="flt" value="{lab}" checked> '
        f'<span class="sw" style="background:{LABEL_COLOURS[lab]}"></span>{esc(LABELS_ZH[lab])}</label> '
        for lab in LABELS)
    chart = Path(chart_svg).read_text(encoding="utf-8") if chart_svg else ""
    info = esc(json.dumps(run_info or {}, ensure_ascii=False, default=str)[:2000])
    page = _TEMPLATE.format(
        base_css=BASE_CSS, title=esc(title), summary=_summary_rows(patches),
        obscured=_obscured_note(obscured), stats=_stats_rows(stats), chart=chart, options=options,
        guard=_guard_note(guard),
        labels=label_boxes, width=w, height=h, overview=_image_data_uri(overview),
        data=_json_for_script({"features": features, "colours": LABEL_COLOURS}), info=info,
        sections="\n".join(sections or ()), panel_js=PANEL_JS,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


#: The click panel of the report's maps (patches, farmland parcels): a title, the chip, the fields.
PANEL_JS = """function weipianPanel(panel, title, chip, fields) {
    panel.textContent = "";
    var h = document.createElement("h3"); h.textContent = title; panel.appendChild(h);
    if (chip) { var img = document.createElement("img"); img.src = chip; panel.appendChild(img); }
    var t = document.createElement("table");
    Object.keys(fields).forEach(function (k) {
      var tr = document.createElement("tr"), a = document.createElement("th"),
          b = document.createElement("td");
      a.textContent = k; b.textContent = fields[k]; tr.appendChild(a); tr.appendChild(b); t.appendChild(tr);
    });
    panel.appendChild(t);
  }"""

#: Page style shared by the run report and the ledger report.
BASE_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 0; color: #222; }
header { background: #1f3a5f; color: #fff; padding: 10px 16px; }
h1 { font-size: 20px; margin: 0; } h2 { font-size: 16px; margin: 16px 0 6px; }
main { padding: 8px 16px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 6px; } th { background: #eef2f7; }
td.n { text-align: right; } tr.total td { font-weight: bold; } tr.over td { background: #fdecea; }
footer { font-size: 11px; color: #777; padding: 8px 16px; word-break: break-all; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{base_css}
.sw {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
#mapwrap {{ display: flex; gap: 12px; }}
#map {{ width: 70%; height: 600px; border: 1px solid #999; background: #333; cursor: grab; }}
#panel {{ width: 30%; font-size: 13px; overflow: auto; max-height: 600px; }}
#panel img {{ max-width: 100%; }}
path.patch {{ fill-opacity: 0.35; stroke-width: 1.5; vector-effect: non-scaling-stroke; cursor: pointer; }}
path.patch.sel {{ stroke: #ff0 !important; stroke-width: 3; }}
.filters {{ margin: 6px 0; font-size: 13px; }}
#guard {{ background: #fde2e1; border: 2px solid #c0392b; padding: 8px 12px; margin: 10px 0; }}
</style></head>
<body><header><h1>{title}</h1></header><main>
{guard}
<h2>汇总 Summary</h2>
<table id="summary"><tr><th>判定类型</th><th>图斑数</th><th>面积（平方米）</th><th>面积（亩）</th></tr>
{summary}</table>
{obscured}
<h2>街道统计 违法占耕比</h2>
<table id="stats">{stats}</table>
<div>{chart}</div>
<h2>地图 Map</h2>
<div class="filters">{labels} 街道 <select id="town"><option value="">全部</option>{options}</select>
 <span id="shown"></span></div>
<div id="mapwrap">
<svg id="map" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">
<image href="{overview}" x="0" y="0" width="{width}" height="{height}"></image>
<g id="patches"></g></svg>
<div id="panel"><p>点击图斑查看举证截图与判定依据。Click a patch for its chips, fields and reason.</p></div>
</div>
{sections}
</main>
<footer>weipian · {info}</footer>
<script type="application/json" id="data">{data}</script>
<script>
(function () {{
  var data = JSON.parse(document.getElementById("data").textContent);
  var svg = document.getElementById("map"), layer = document.getElementById("patches");
  var NS = "http://www.w3.org/2000/svg", paths = [];
  data.features.forEach(function (f) {{
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", f.d); p.setAttribute("class", "patch");
    p.setAttribute("fill", data.colours[f.label]); p.setAttribute("stroke", data.colours[f.label]);
    p.dataset.label = f.label; p.dataset.township = f.township;
    p.addEventListener("click", function () {{ show(f, p); }});
    layer.appendChild(p); paths.push(p);
  }});
  {panel_js}
  function show(f, p) {{
    paths.forEach(function (q) {{ q.classList.remove("sel"); }}); p.classList.add("sel");
    weipianPanel(document.getElementById("panel"), f.fields.patch_id, f.chip, f.fields);
  }}
  function filter() {{
    var on = {{}};
    document.querySelectorAll("input.flt").forEach(function (c) {{ on[c.value] = c.checked; }});
    var town = document.getElementById("town").value, n = 0;
    paths.forEach(function (p) {{
      var vis = on[p.dataset.label] && (!town || p.dataset.township === town);
      p.style.display = vis ? "" : "none"; if (vis) n++;
    }});
    document.getElementById("shown").textContent = n + " / " + paths.length;
  }}
  document.querySelectorAll("input.flt").forEach(function (c) {{ c.addEventListener("change", filter); }});
  document.getElementById("town").addEventListener("change", filter);
  filter();
  var vb = svg.viewBox.baseVal, drag = null;
  svg.addEventListener("wheel", function (e) {{
    e.preventDefault(); var k = e.deltaY < 0 ? 0.8 : 1.25, r = svg.getBoundingClientRect();
    var mx = vb.x + (e.clientX - r.left) / r.width * vb.width,
        my = vb.y + (e.clientY - r.top) / r.height * vb.height;
    vb.x = mx - (mx - vb.x) * k; vb.y = my - (my - vb.y) * k; vb.width *= k; vb.height *= k;
  }}, {{ passive: false }});
  svg.addEventListener("mousedown", function (e) {{ drag = [e.clientX, e.clientY]; }});
  window.addEventListener("mouseup", function () {{ drag = null; }});
  window.addEventListener("mousemove", function (e) {{
    if (!drag) return; var r = svg.getBoundingClientRect();
    vb.x -= (e.clientX - drag[0]) / r.width * vb.width; vb.y -= (e.clientY - drag[1]) / r.height * vb.height;
    drag = [e.clientX, e.clientY];
  }});
  document.body.dataset.features = String(paths.length);
}})();
</script></body></html>
"""


def _map_features(patches, transform, step: int, *, chips, embed: bool, report_dir: Path,
                  previews: dict) -> list:
    """One dict per patch for the map script: label, township, SVG path, fields, chip."""
    inv = ~transform

    def to_px(x, y):
        col, row = inv @ (x, y)
        return np.asarray(col) / step, np.asarray(row) / step

    features = []
    for i, (geom, row) in enumerate(zip(patches.geometry, patches.itertuples(index=False))):
        fields = {k: getattr(row, k) for k in _FIELDS if hasattr(row, k)}
        fields = {k: (round(float(v), 2) if isinstance(v, (float, np.floating)) else str(v))
                  for k, v in fields.items()}
        pid = str(row.patch_id)
        chip_src = chip_source((chips or {}).get(pid), embed=embed, report_dir=report_dir,
                               preview=previews.get(pid))
        features.append({"i": i, "label": str(row.label), "township": str(row.township),
                         "d": _svg_path(geom, to_px), "fields": fields, "chip": chip_src})
    return features


def _summary_rows(patches) -> str:
    """Table rows of patches and area (m², 亩) by label, with a total."""
    esc = html.escape
    out = ""
    for lab in LABELS:
        sel = patches["label"] == lab
        n, a = int(sel.sum()), float(patches.loc[sel, "area_m2"].sum())
        out += (f'<tr><td><span class="sw" style="background:{LABEL_COLOURS[lab]}"></span>'
                f'{esc(LABELS_ZH[lab])}</td><td class="n" data-label="{lab}">{n}</td>'
                f'<td class="n">{a:,.1f}</td><td class="n">{a / (10000 / 15):,.2f}</td></tr>')
    total_n, total_area = len(patches), float(patches["area_m2"].sum())
    return out + (f'<tr class="total"><td>合计</td><td class="n" id="total-patches">{total_n}</td>'
                  f'<td class="n" id="total-area">{total_area:,.1f}</td>'
                  f'<td class="n">{total_area / (10000 / 15):,.2f}</td></tr>')


_STAT_COLUMNS = ["rank", "township", "township_code", "patches", "farmland_m2", "farmland_illegal_m2",
                 "basic_farmland_m2", "basic_farmland_illegal_m2", "ratio", "ratio_deducted", "over_line",
                 "over_strict_line"]


def _stat_cell(col: str, v) -> str:
    if col == "rank":
        return str(v) if v else ""
    if col.startswith("ratio"):
        return "—" if v != v else f"{v:.1%}"
    if isinstance(v, (bool, np.bool_)):
        return "是" if v else ""
    if isinstance(v, float):
        return f"{v:,.1f}"
    return html.escape(str(v))


def _stats_rows(stats) -> str:
    """The township table: a header row and one row per township (over the line marked)."""
    from ..stats import STAT_COLUMNS_ZH

    out = "<tr>" + "".join(f"<th>{html.escape(STAT_COLUMNS_ZH[c])}</th>" for c in _STAT_COLUMNS) + "</tr>"
    for row in stats.itertuples(index=False):
        cls = ' class="over"' if getattr(row, "over_line") else ""
        cells = "".join(f"<td>{_stat_cell(c, getattr(row, c))}</td>" for c in _STAT_COLUMNS)
        out += f"<tr{cls}>{cells}</tr>"
    return out


def _guard_note(guard: dict | None) -> str:
    """The warning banner of an implausible scene (empty where the guard did not fire)."""
    if not guard or guard.get("plausible", True):
        return ""
    causes = "".join(f"<li>{html.escape(str(c))}</li>" for c in guard.get("causes", []))
    return (f'<div id="guard"><b>图斑面积异常 Implausible flagged share: {guard["flagged_share"]:.1%}</b> '
            f'of the clear scene is flagged (one batch of new construction plausibly covers at most '
            f'{guard["limit"]:.0%}); 请先核对时相、配准与影像质量 — check season, registration and haze '
            f'before field visits. 可能原因 Likely causes:<ul>{causes}</ul></div>')


def _obscured_note(obscured: dict | None) -> str:
    """The paragraph on area hidden by clouds, shadows and masks (empty where none)."""
    if not (obscured and obscured.get("area_m2")):
        return ""
    esc = html.escape
    towns = "；".join(f"{esc(str(k))} {v:,.0f} m²" for k, v in obscured.get("by_township_m2", {}).items())
    return (f'<p id="obscured">云、阴影及掩膜遮挡面积 Obscured by clouds, shadows and masks: '
            f'{obscured["area_m2"]:,.0f} m² — 其下可能有未发现的图斑 (patches may be hidden there). '
            f'{towns}</p>')
