"""``deliver``: what analysts and field crews take away, written from the judged patches."""

from __future__ import annotations

import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd

from ..io import atomic_path
from ..settings import DeliverSettings, resolve

__all__ = ["deliver"]

log = logging.getLogger(__name__)


def deliver(judged: gpd.GeoDataFrame, output, *, before=None, after=None, bands: str | None = None,
            settings: DeliverSettings | None = None, sections: list[str] | None = None,
            stretch: dict | None = None, **options) -> dict:
    """Write what analysts and field crews take away.

    ``patches.xlsx``, ``patches.csv``, ``patches.shp``, ``patches.kml``,
    ``patches.geojson`` (see :mod:`weipian.deliver.lists`), ``townships.csv``,
    ``townships.svg`` (and ``townships.png`` where a CJK font is installed;
    see :mod:`weipian.stats`) and, when the epochs are
    given, ``chips/<patch_id>.png`` and ``report.html``.

    Parameters
    ----------
    judged : GeoDataFrame
        From :func:`weipian.judge`.
    output : str or Path
        Output folder.
    before, after : str or Path, optional
        The epochs, for chips and the report map.
    bands : str, optional
        Band roles of the epochs (as for detection).
    settings : DeliverSettings, optional
        Chips, Shapefile encoding, route, the lines of 违法占耕比.
    sections : list of str, optional
        HTML fragments added to the report (the farmland-use section of
        :func:`weipian.deliver.farmland.write_farmland_outputs`).
    stretch : dict, optional
        From :func:`weipian.deliver.chips.epoch_stretch`, when the caller has
        it already; computed when not given.
    **options
        Any field of :class:`~weipian.settings.DeliverSettings` by name
        (``chips=False``); wins over ``settings``.

    Returns
    -------
    dict
        Name to path of everything written.
    """
    from ..deliver.lists import export_patches
    from ..stats import township_stats

    (settings,) = resolve(options, deliver=settings)
    info = judged.attrs.get("weipian", {})
    judged = judged.copy(deep=False)
    judged.attrs = {}  # pandas deep-copies attrs on every operation; the record is passed on by hand
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    stats = township_stats(judged, line=settings.line, strict_line=settings.strict_line)
    if settings.route:
        from ..deliver.route import route_order

        judged = judged.copy()
        judged.insert(1, "visit_order", route_order(judged))
    evidence = before is not None and after is not None
    # the chips are drawn on their own threads (mostly in libpng and PIL, outside the GIL) while
    # this thread writes the lists, which are Python (openpyxl, the KML writer) and would idle a core
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="weipian-chips") as side:
        chips = side.submit(_chips, judged, output, before, after, bands, settings, stretch, info) \
            if evidence else None
        written = export_patches(judged, output, stats=stats, encoding=settings.encoding)
        written.update(_township_files(stats, output, settings))
        if chips is not None:
            chip_paths, previews, stretch = chips.result()
            written.update(_report(judged, stats, output, before, after, chip_paths, stretch,
                                   chart_svg=written["townships_svg"], sections=sections, info=info,
                                   previews=previews))
    return written


def _township_files(stats, output: Path, settings: DeliverSettings) -> dict:
    """``townships.csv``, the 违法占耕比 chart as ``townships.svg`` and, with a CJK font, ``townships.png``.

    The SVG holds its labels as text, which any browser draws with its own
    fonts; the PNG is drawn only where matplotlib finds a CJK font (else it
    would show boxes), and its absence is logged.
    """
    from ..deliver.chart import ratio_chart_svg
    from ..stats import cjk_font, plot_ratio

    written = {"townships_csv": output / "townships.csv", "townships_svg": output / "townships.svg"}
    with atomic_path(written["townships_csv"]) as tmp:
        stats.to_csv(tmp, index=False, encoding="utf-8-sig")
    with atomic_path(written["townships_svg"]) as tmp:
        tmp.write_text(ratio_chart_svg(stats, line=settings.line, strict_line=settings.strict_line),
                       encoding="utf-8")
    if cjk_font() is None:
        log.info("no CJK font for matplotlib: townships.png not drawn (townships.svg holds the chart)")
        return written
    with atomic_path(output / "townships.png") as tmp:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing")
            plot_ratio(stats, tmp, line=settings.line, strict_line=settings.strict_line)
    written["townships_png"] = output / "townships.png"
    return written


def _chips(judged, output: Path, before, after, bands, settings: DeliverSettings, stretch, info):
    """Before/after chips of every patch (when asked for), their JPEG previews, and the stretch.

    The previews (for a report that embeds its chips) are encoded from the
    pixels already drawn, so the report neither reads the PNGs back nor
    carries their bytes.

    One stretch of each epoch serves the chips and the report alike: the
    levels detection measured (:func:`~weipian.deliver.chips.stretch_from_record`),
    else a fresh :func:`~weipian.deliver.chips.epoch_stretch`.
    """
    from ..deliver.chips import epoch_stretch, make_chips, stretch_from_record
    from ..deliver.report import embeds_chips
    from ..io import PairReader, PairSpec

    stretch = stretch or stretch_from_record(info or {})
    if stretch is None:
        with PairReader(PairSpec(str(before), str(after), bands)) as reader:
            stretch = epoch_stretch(reader)
    if not settings.chips:
        return {}, {}, stretch
    previews = {} if embeds_chips(len(judged)) else None  # only a report that embeds its chips needs them
    paths = make_chips(judged, before, after, output / "chips", bands=bands, stretch=stretch,
                       previews=previews)
    return paths, previews or {}, stretch


def _report(judged, stats, output: Path, before, after, chip_paths: dict, stretch, *, chart_svg,
            sections=None, info=None, previews=None) -> dict:
    """``report.html`` with the map, the chips, the chart and any extra sections."""
    from ..deliver.report import write_report

    info = info or {}
    report = write_report(judged, stats, output / "report.html", before=before, after=after,
                          chips=chip_paths, chart_svg=chart_svg, run_info=info.get("dates"),
                          obscured=info.get("obscured"), stretch=stretch, guard=info.get("guard"),
                          sections=sections, previews=previews)
    return {"chips": output / "chips", "report": report}
