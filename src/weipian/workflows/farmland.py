"""``farmland_use``: every farmland parcel judged still cropped, 非粮化, 非农化 or 不确定."""

from __future__ import annotations

import math
import time
from dataclasses import fields, replace

import geopandas as gpd
import numpy as np
import shapely
from rasterio.transform import array_bounds

from ..errors import LayerError
from ..farmland.cover_map import cover_classes, epoch_cover
from ..farmland.covers import STATE_ZH, USE_ZH
from ..farmland.shares import cover_counts, mean_confidence, parcel_index
from ..farmland.states import ParcelRule, judge_parcels
from ..io import PairReader, PairSpec, parse_date
from ..learn.cover_inputs import cover_factor
from ..learn.cover_model import load_cover_model
from ..schema import batch_of, frame_area_crs, iso_date, pixel_area_m2, scene_area_crs
from ..vector.layers import TOWNSHIP_CODE_FIELDS, find_layers, first_field, read_layer
from ..vector.naming import choose_name_field, feature_labels
from ..vector.overlay import layer_overlap

__all__ = ["farmland_use", "judge_parcel_covers", "PARCEL_FIELDS", "MU_M2"]

#: Square metres per 亩.
MU_M2 = 666.67

#: Fields weipian adds to each parcel (the layer's own attributes come first).
PARCEL_FIELDS = (
    "parcel_id",
    "state",
    "state_zh",
    "new_use",
    "new_use_zh",
    "new_this_batch",
    "use_share",
    "use_area_m2",
    "use_area_mu",
    "area_m2",
    "area_mu",
    "obscured_share",
    "confidence",
    "cover_before",
    "cover_after",
    "patch_ids",
    "built_m2",
    "township",
    "township_code",
    "before_date",
    "after_date",
    "reason",
)


def farmland_use(before, after, *, layers=None, overrides: dict | None = None, patches=None, model=None,
                 bands: str | None = None, before_date=None, after_date=None,
                 farmland_where: str | None = None, layer_crs=None, clouds: bool = True, mask_before=None,
                 mask_after=None, rule: ParcelRule | None = None, **rule_options) -> gpd.GeoDataFrame:
    """Judge every farmland parcel from its land cover in both epochs.

    Parameters
    ----------
    before, after : str or Path
        The epochs (GeoTIFF, red, green and blue at least); the after epoch
        is read onto the before grid.
    layers, overrides : str or Path, dict, optional
        Folder of the reference layers, and layer name to path (wins): the
        ``farmland`` layer (三调 DLTB) is needed, ``townships`` used if present.
    patches : GeoDataFrame or str or Path, optional
        Construction patches of the same pair (from :func:`weipian.detect`,
        :func:`weipian.judge` or ``patches.gpkg``); parcels they cover are
        非农化, with the patch ids linked.
    model : CoverModel or str or Path, optional
        The land-cover model (default: the one shipped with weipian).
    bands : str, optional
        Band roles of both epochs (see ``weipian detect --bands``).
    before_date, after_date : str or date, optional
        Acquisition dates (default: the files' tags).
    farmland_where, layer_crs : str, CRS-like, optional
        OGR SQL ``WHERE`` choosing the farmland parcels (default ``DLBM``
        01* where present), and the CRS of layers without one.
    clouds : bool
        Leave clouds and shadows without a cover (不确定 past ``max_obscured``).
    mask_before, mask_after : str or Path, optional
        Users' masks (raster, non-zero = masked, or polygons), as for detection.
    rule : ParcelRule, optional
    **rule_options
        Any field of :class:`~weipian.farmland.states.ParcelRule` by name
        (``min_share=0.6``, ``min_area_m2=400``); wins over ``rule``.

    Returns
    -------
    GeoDataFrame
        One row per farmland parcel, geometry in the imagery CRS: the
        layer's own attributes (BSM, DLBM, DLMC, ...) then
        :data:`PARCEL_FIELDS` and ``share_<class>_before``/``_after``.
        ``attrs["weipian"]["farmland"]`` records the model, the rule, the
        grid and the counts by state.

    Raises
    ------
    weipian.errors.WeipianError
        Unreadable imagery or layers, no farmland layer, a missing band.
    """
    rule = _rule(rule, rule_options)
    started = time.perf_counter()
    model = load_cover_model(model)
    paths = find_layers(layers, overrides)
    if "farmland" not in paths:
        raise LayerError(f"{layers or 'the layers given'}: no farmland layer (耕地/DLTB); farmland use "
                         "judges the farmland parcels: add farmland.gpkg (or DLTB.shp) there or pass "
                         "--farmland PATH")
    covers = _epoch_covers(before, after, model, bands=bands, clouds=clouds, mask_before=mask_before,
                           mask_after=mask_after)
    t_cover = time.perf_counter()
    crs, bounds = covers["crs"], covers["bounds"]
    parcels, info = read_layer(paths["farmland"], crs, name="farmland", bbox=bounds, layer_crs=layer_crs,
                               where=farmland_where)
    parcels = parcels[parcels.geometry.intersects(shapely.box(*bounds))]
    if not len(parcels):
        import warnings

        from ..errors import WeipianWarning

        warnings.warn(f"{paths['farmland']}: no farmland parcel lies on {before}; check that the layer "
                      "covers the imagery (its CRS, --farmland-where)", WeipianWarning, stacklevel=2)
    dates = covers["dates"]
    before_d = parse_date(before_date, source="--before-date") if before_date else dates["before"]
    after_d = parse_date(after_date, source="--after-date") if after_date else dates["after"]
    frame = judge_parcel_covers(parcels, covers["before"], covers["after"], covers["confidence"],
                                covers["grid"], cover_classes(model), patches=patches, before_date=before_d,
                                after_date=after_d, rule=rule)
    acrs = covers["acrs"]
    _add_townships(frame, frame.geometry.to_crs(acrs).to_numpy(), paths, acrs, layer_crs)
    record = _record(model, rule, covers, frame, before_d, after_d)
    record.update(farmland_layer=str(paths["farmland"]), farmland_where=farmland_where,
                  parcels_filtered_out=info.filtered,
                  timings={"cover_s": round(t_cover - started, 3),
                           "total_s": round(time.perf_counter() - started, 3)})
    frame.attrs["weipian"] = {"farmland": record}
    return frame


def _record(model, rule: ParcelRule, covers: dict, frame, before_d, after_d) -> dict:
    """What ``attrs["weipian"]["farmland"]`` (and a run's ``run.json``) records of a judgement."""
    return {"model": model.path if hasattr(model, "path") else repr(model),
            "classes": list(cover_classes(model)),
            "rule": {f.name: getattr(rule, f.name) for f in fields(rule)},
            "averaging_factor": covers["factor"], "grid_gsd_m": round(covers["gsd_m"], 3),
            "before_date": iso_date(before_d), "after_date": iso_date(after_d), "parcels": len(frame),
            "cover_grid": {"shape": list(covers["after"].shape), "transform": list(covers["grid"])[:6]},
            "counts": {s: int((frame["state"] == s).sum()) for s in STATE_ZH}, "batch": batch_of(after_d)}


def _epoch_covers(before, after, model, *, bands, clouds, mask_before, mask_after) -> dict:
    """Both epochs read averaged toward the model's working size and labelled, with the grid they lie on."""
    with PairReader(PairSpec(str(before), str(after), bands, mask_before=mask_before,
                             mask_after=mask_after)) as reader:
        missing = [r for r in ("red", "green", "blue") if r not in reader.roles]
        if missing:
            from ..errors import BandError

            raise BandError(f"{after}: farmland use needs red, green and blue; {', '.join(missing)} "
                            "missing; name the bands with --bands")
        acrs = scene_area_crs(reader.transform, reader.shape, reader.crs, source=str(reader.spec.before))
        gsd = math.sqrt(pixel_area_m2(reader.transform, reader.shape, reader.crs, acrs))
        factor = cover_factor(gsd, model.working_gsd_m)
        b, a, valid, grid = reader.read_averaged(factor)
        mask_b, mask_a = reader.user_masks_averaged(valid.shape, grid)
        roles, out = reader.roles, {"crs": reader.crs, "acrs": acrs, "dates": reader.dates,
                                    "bounds": array_bounds(*reader.shape, reader.transform)}
    cover_b, _, _ = epoch_cover(model, b, roles, valid, gsd * factor, clouds=clouds, masked=mask_b)
    cover_a, conf_a, _ = epoch_cover(model, a, roles, valid, gsd * factor, clouds=clouds, masked=mask_a)
    out.update(before=cover_b, after=cover_a, confidence=conf_a, grid=grid, factor=factor, gsd_m=gsd * factor)
    return out


def judge_parcel_covers(
    parcels: gpd.GeoDataFrame,
    cover_before: np.ndarray,
    cover_after: np.ndarray,
    confidence_after: np.ndarray,
    transform,
    classes,
    *,
    patches=None,
    before_date=None,
    after_date=None,
    rule: ParcelRule = ParcelRule(),
) -> gpd.GeoDataFrame:
    """Judge parcels from two cover maps on one grid (the part of :func:`farmland_use` after the model).

    Parameters
    ----------
    parcels : GeoDataFrame
        Farmland parcels in the grid's CRS (projected or not; areas are
        measured in a local projected CRS).
    cover_before, cover_after : (M, N) ndarray of uint8
        Class index into ``classes``; :data:`~weipian.learn.cover_inputs.NO_COVER`
        where obscured or without data.
    confidence_after : (M, N) ndarray of float
        Probability of the after class.
    transform : affine.Affine
        Of the cover grid.
    classes : sequence of str
    patches : GeoDataFrame or str or Path, optional
        Construction patches (parcels they cover are 非农化).
    before_date, after_date : datetime.date, optional
    rule : ParcelRule

    Returns
    -------
    GeoDataFrame
        As :func:`farmland_use` returns it, townships empty.
    """
    from ..learn.cover_inputs import NO_COVER

    geoms = parcels.geometry.to_numpy()
    index = parcel_index(geoms, transform, cover_after.shape)
    k = len(classes)
    counts_b = cover_counts(index, cover_before, len(parcels), k)
    counts_a = cover_counts(index, cover_after, len(parcels), k)
    confidence = mean_confidence(index, confidence_after, cover_after != NO_COVER, len(parcels))
    acrs = frame_area_crs(parcels)
    area_geoms = parcels.geometry.to_crs(acrs).to_numpy()
    built_m2, linked = _construction_on(area_geoms, patches, acrs)
    result = judge_parcels(
        counts_b,
        counts_a,
        classes,
        shapely.area(area_geoms),
        built_m2=built_m2,
        patch_ids=linked,
        confidence=np.nan_to_num(confidence, nan=0.0),
        before_date=before_date,
        after_date=after_date,
        rule=rule,
    )
    return _parcel_frame(
        parcels,
        result,
        counts_b,
        counts_a,
        classes,
        area_geoms,
        confidence,
        built_m2,
        linked,
        before_date,
        after_date,
    )


def _rule(rule: ParcelRule | None, options: dict) -> ParcelRule:
    rule = rule or ParcelRule()
    names = {f.name for f in fields(ParcelRule)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(unknown)}; the settings here are {', '.join(sorted(names))}"
        )
    return replace(rule, **options) if options else rule


def _construction_on(area_geoms, patches, acrs) -> tuple[np.ndarray, list[str]]:
    """Area (m²) of construction patches on each parcel and their ids (``"a;b"``)."""
    n = len(area_geoms)
    if patches is None:
        return np.zeros(n), [""] * n
    if not isinstance(patches, gpd.GeoDataFrame):
        from ..patch_files import read_patches

        patches = read_patches(patches)
    if "label" in patches:  # registered facility agriculture is not construction
        patches = patches[patches["label"] != "not_construction"]
    ov = layer_overlap(area_geoms, patches.geometry.to_crs(acrs).to_numpy())
    ids = np.asarray([str(p) for p in patches.get("patch_id", patches.index)], dtype=object)
    linked = [[] for _ in range(n)]
    for p, f in zip(ov.pair_patch, ov.pair_feature):
        linked[p].append(ids[f])
    return ov.area, [";".join(sorted(x)) for x in linked]


def _parcel_frame(
    parcels, result, counts_b, counts_a, classes, area_geoms, confidence, built_m2, linked, before_d, after_d
) -> gpd.GeoDataFrame:
    frame = parcels.drop(columns=parcels.geometry.name).copy()
    id_field = first_field(frame.columns, ("BSM", "标识码", "TBBH", "图斑编号"))
    frame["parcel_id"] = frame[id_field].astype(str) if id_field else [f"P{int(i):06d}" for i in frame.index]
    for key in (
        "state",
        "new_use",
        "new_this_batch",
        "use_share",
        "use_area_m2",
        "obscured_share",
        "cover_before",
        "cover_after",
        "reason",
    ):
        frame[key] = result[key]
    frame["state_zh"] = [STATE_ZH[s] for s in result["state"]]
    frame["new_use_zh"] = [USE_ZH.get(u, "") for u in result["new_use"]]
    frame["area_m2"] = np.round(shapely.area(area_geoms), 2)
    frame["area_mu"] = np.round(frame["area_m2"] / MU_M2, 3)
    frame["use_area_mu"] = np.round(frame["use_area_m2"] / MU_M2, 3)
    frame["confidence"] = np.round(confidence, 3)
    frame["patch_ids"], frame["built_m2"] = linked, np.round(built_m2, 2)
    frame["township"], frame["township_code"] = "", ""
    frame["before_date"], frame["after_date"] = iso_date(before_d), iso_date(after_d)
    for name, counts in (("before", counts_b), ("after", counts_a)):
        clear = np.maximum(counts[:, :-1].sum(1), 1)
        for k, cls in enumerate(classes):
            frame[f"share_{cls}_{name}"] = np.round(counts[:, k] / clear, 3)
    own = [c for c in parcels.columns if c != parcels.geometry.name and c not in PARCEL_FIELDS]
    shares = [c for c in frame.columns if c.startswith("share_")]
    return gpd.GeoDataFrame(
        frame[own + list(PARCEL_FIELDS) + shares], geometry=parcels.geometry.to_numpy(), crs=parcels.crs
    )


def _add_townships(frame, area_geoms, paths, acrs, layer_crs) -> None:
    """Each parcel's township: the one it overlaps most (in place)."""
    if "townships" not in paths or not len(frame):
        return
    towns, _ = read_layer(paths["townships"], acrs, name="townships", layer_crs=layer_crs)
    if not len(towns):
        return
    field, _how = choose_name_field(towns, "townships", None, path=str(paths["townships"]))
    names = feature_labels(towns, field)
    code_field = first_field(towns.columns, TOWNSHIP_CODE_FIELDS)
    codes = (
        towns[code_field].astype(str).to_numpy(dtype=object)
        if code_field
        else np.full(len(towns), "", object)
    )
    ov = layer_overlap(area_geoms, towns.geometry.to_numpy())
    has = ov.best >= 0
    frame.loc[has, "township"] = names[ov.best[has]]
    frame.loc[has, "township_code"] = codes[ov.best[has]]
