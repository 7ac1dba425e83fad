"""The township chart of 违法占耕比 as SVG: real text, drawn by the reader's own fonts.

A PNG drawn by matplotlib on a machine without a CJK font shows every
township name, the axis label and the legend as empty boxes. The chart is
therefore SVG with ``<text>`` elements: the browser (or any SVG viewer)
renders the Chinese with the fonts it has, and the text stays selectable
and searchable. It is embedded in ``report.html`` and written beside it as
``townships.svg``.
"""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["ratio_chart_svg"]

_RED, _ORANGE, _BLUE = "#c0392b", "#e67e22", "#2e86c1"


def ratio_chart_svg(stats: pd.DataFrame, *, line: float = 0.15, strict_line: float | None = 0.08) -> str:
    """Bar chart of 违法占耕比 by township with the accountability lines, as an SVG document.

    Parameters
    ----------
    stats : DataFrame
        From :func:`weipian.stats.township_stats` (ranked rows and a total row
        with ``rank`` 0, which is left out).
    line, strict_line : float
        The accountability line and an optional stricter one (shares, 0–1).

    Returns
    -------
    str
        A standalone ``<svg>`` element (UTF-8 text, every label escaped).

    Examples
    --------
    >>> s = pd.DataFrame({"rank": [1, 0], "township": ["甲镇", "合计"], "ratio": [0.2, 0.2]})
    >>> "甲镇" in ratio_chart_svg(s) and "问责线" in ratio_chart_svg(s)
    True
    """
    body = stats[stats["rank"] > 0]
    names = [str(n) for n in body["township"]]
    values = [0.0 if v != v else float(v) for v in body["ratio"]]
    top = max([line, strict_line or 0.0, *values, 0.01]) * 1.15
    bar_w, gap, left, right, top_pad, bottom = 46, 18, 64, 170, 16, 96
    width = left + right + max(1, len(values)) * (bar_w + gap)
    height = 300
    plot_h = height - top_pad - bottom

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="\'Noto Sans CJK SC\', \'Microsoft YaHei\', '
           f'\'PingFang SC\', sans-serif" font-size="12" role="img" aria-label="违法占耕比">',
           f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right + gap}" y2="{y(0):.1f}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{y(0):.1f}" stroke="#333"/>']
    for k in range(5):  # y axis ticks
        v = top * k / 4
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v * 100:.0f}</text>')
    mid = top_pad + plot_h / 2
    out.append(f'<text x="16" y="{mid:.1f}" transform="rotate(-90 16 {mid:.1f})" '
               'text-anchor="middle">违法占耕比 (%)</text>')
    for i, (name, v) in enumerate(zip(names, values)):
        x = left + gap / 2 + i * (bar_w + gap)
        colour = _RED if v >= line else _ORANGE if strict_line and v >= strict_line else _BLUE
        out.append(f'<rect class="bar" x="{x:.1f}" y="{y(v):.1f}" width="{bar_w}" '
                   f'height="{y(0) - y(v):.1f}" fill="{colour}">'
                   f'<title>{html.escape(name)} {v:.1%}</title></rect>')
        out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" font-size="11">'
                   f'{v * 100:.1f}</text>')
        lx, ly = x + bar_w / 2, y(0) + 14
        out.append(f'<text class="township" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
                   f'transform="rotate(-30 {lx:.1f} {ly:.1f})">{html.escape(name)}</text>')
    legend_x = width - right + gap + 12
    for k, (value, colour, dash, label) in enumerate(
            [(line, _RED, "6 4", f"{line:.0%} 问责线")]
            + ([(strict_line, _ORANGE, "2 3", f"{strict_line:.0%} 从严线")] if strict_line else [])):
        out.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right + gap}" y2="{y(value):.1f}" '
                   f'stroke="{colour}" stroke-dasharray="{dash}"/>')
        ly = top_pad + 14 + 18 * k
        out.append(f'<line x1="{legend_x}" y1="{ly - 4}" x2="{legend_x + 22}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-dasharray="{dash}"/><text class="legend" x="{legend_x + 28}" '
                   f'y="{ly}">{html.escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
