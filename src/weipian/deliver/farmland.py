"""Farmland-use deliverables: ``parcels.gpkg``, ``parcels.xlsx``, township tables, worst ten, chips, page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..farmland.stats import FARMLAND_STAT_COLUMNS_ZH, farmland_township_stats, worst_ten_table
from ..io import atomic_path
from .chips import CHIP_PIXELS, make_chips
from .report import embeds_chips
from .tables import write_workbook

__all__ = ["write_farmland_outputs", "PARCEL_FIELDS_ZH"]

#: Chinese headers of the parcel list.
PARCEL_FIELDS_ZH = {
    "parcel_id": "图斑标识",
    "state_zh": "判定",
    "new_use_zh": "现状用途",
    "new_this_batch": "本期新增",
    "use_share": "用途占比",
    "use_area_m2": "用途面积（平方米）",
    "use_area_mu": "用途面积（亩）",
    "area_m2": "图斑面积（平方米）",
    "area_mu": "图斑面积（亩）",
    "obscured_share": "遮挡比例",
    "confidence": "模型置信度",
    "cover_before": "前时相地类",
    "cover_after": "后时相地类",
    "patch_ids": "关联建设图斑",
    "built_m2": "建设面积（平方米）",
    "township": "街道/镇",
    "township_code": "行政区代码",
    "before_date": "前时相日期",
    "after_date": "后时相日期",
    "reason": "判定依据",
}


def write_farmland_outputs(
    parcels,
    output,
    *,
    before,
    after,
    bands=None,
    patch_stats: pd.DataFrame | None = None,
    chips: bool = True,
    page: bool = True,
    workers: int | None = None,
    stretch: dict | None = None,
) -> dict:
    """Write the farmland-use deliverables into ``output``; each file whole or not at all.

    Files:

    - ``parcels.gpkg``: layer ``parcels`` (every parcel not 耕种: 非粮化,
      非农化, 不确定) and layer ``farmland_use`` (every farmland parcel);
    - ``parcels.xlsx``: the changed parcels, the township table and the worst ten;
    - ``farmland_townships.csv`` and ``worst_ten.csv`` (UTF-8 with BOM, for Excel);
    - ``chips_parcels/<parcel_id>.png`` for the 非粮化 and 不确定 parcels (a 非农化
      parcel links its construction patches, whose chips are in ``chips/``);
    - ``farmland.html``: the report section as a page.

    Parameters
    ----------
    parcels : GeoDataFrame
        From :func:`weipian.workflows.farmland.farmland_use`.
    output : str or Path
    before, after : str or Path
        The epochs (chips and the map).
    bands : str, optional
    patch_stats : DataFrame, optional
        The construction patches' township table
        (:func:`weipian.stats.township_stats`) for the 非农化 worst ten.
    chips, page : bool
    workers : int, optional
        Threads rendering chips.
    stretch : dict, optional
        From :func:`weipian.deliver.chips.epoch_stretch`; computed when not given.

    Returns
    -------
    dict
        Name to path, plus ``"section"`` (the HTML fragment) when ``page``.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    changed = parcels[parcels["state"] != "cropped"]
    if stretch is None and (chips or page):
        from ..io import PairReader, PairSpec
        from .chips import epoch_stretch

        with PairReader(PairSpec(str(before), str(after), bands)) as reader:
            stretch = epoch_stretch(reader)
    # 非农化 parcels link their construction patches, whose chips the run draws already
    chipped = changed[changed["state"] != "non_agri"]
    stats = farmland_township_stats(parcels)
    worst = worst_ten_table(stats, patch_stats)
    out = _write_tables(parcels, changed, stats, worst, output)
    chip_paths, previews = {}, {}
    if chips and len(chipped):
        chip_paths = make_chips(chipped.assign(patch_id=chipped["parcel_id"]), before, after,
                                output / "chips_parcels", bands=bands, workers=workers, stretch=stretch,
                                max_side=CHIP_PIXELS,
                                previews=previews if page and embeds_chips(len(chipped)) else None)
        out["chips_parcels"] = output / "chips_parcels"
    if page:
        from .farmland_report import farmland_section, write_farmland_report

        section = farmland_section(parcels, stats, worst, before=before, after=after, chips=chip_paths,
                                   report_dir=output, stretch=stretch, previews=previews)
        out["farmland_html"] = write_farmland_report(section, output / "farmland.html")
        out["section"] = section
    return out


def _write_tables(parcels, changed, stats, worst, output: Path) -> dict:
    """``parcels.gpkg``, ``parcels.xlsx``, ``farmland_townships.csv`` and ``worst_ten.csv``, atomically."""
    out = {"parcels_gpkg": output / "parcels.gpkg", "parcels_xlsx": output / "parcels.xlsx",
           "farmland_townships": output / "farmland_townships.csv", "worst_ten": output / "worst_ten.csv"}
    with atomic_path(out["parcels_gpkg"]) as tmp:
        _gpkg_safe(changed).to_file(tmp, layer="parcels", driver="GPKG", engine="pyogrio")
        _gpkg_safe(parcels).to_file(tmp, layer="farmland_use", driver="GPKG", engine="pyogrio", append=True)
    table = pd.DataFrame(changed.drop(columns=changed.geometry.name)).rename(columns=PARCEL_FIELDS_ZH)
    townships = stats.rename(columns=FARMLAND_STAT_COLUMNS_ZH)
    write_workbook([("非粮化非农化图斑", table), ("街道统计", townships), ("最差十名", worst)],
                   out["parcels_xlsx"])
    for key, frame in (("farmland_townships", townships), ("worst_ten", worst)):
        with atomic_path(out[key]) as tmp:
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    return out


def _gpkg_safe(frame):
    """Object columns as text (GeoPackage fields need one type)."""
    frame = frame.copy()
    for c in frame.columns:
        if c != frame.geometry.name and frame[c].dtype == object:
            frame[c] = frame[c].astype(str)
    return frame
