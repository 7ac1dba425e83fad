"""Options shared by the weipian commands.

=================  ==========================  ==================
option             meaning                     used by
=================  ==========================  ==================
``--bands``        band roles in file order    detect, run
``--min-area``     minimum mapping unit, m²    detect, run
``--target``       construction or any         detect, run
``--layers``       reference layer folder      judge, run
``--<layer>``      one layer file              judge, run
``--after-date``   date for temporary rules    detect, judge, run
``--min-share``    share needed for a label    judge, run
``--name-field``   field naming features       judge, run
``--key-projects`` key-project list            judge, run
``--overwrite``    replace existing outputs    all
=================  ==========================  ==================
"""

from __future__ import annotations

import click

from ..learn.network_outputs import OUTPUTS
from ..learn.resolution import QUALITIES
from ..vector.layers import LAYER_NAMES

bands_opt = click.option(
    "--bands", default=None, metavar="LIST",
    help="Band roles in file order, e.g. blue,green,red,nir ('-' skips a band). "
    "Default: band descriptions, else 4 bands = blue,green,red,nir, 3 = red,green,blue.",
)
min_area_opt = click.option(
    "--min-area", type=click.FloatRange(min=0), default=50.0, show_default=True,
    help="Minimum mapping unit in m².",
)
target_opt = click.option(
    "--target", type=click.Choice(list(OUTPUTS)), default="construction", show_default=True,
    help="construction: pixels that became built; any: every change the model sees.",
)
layers_opt = click.option(
    "--layers", "layers_dir", type=click.Path(), default=None,
    help="Folder with farmland.* (or DLTB.*), basic_farmland.*, reserve.*, approved.*, temporary.*, "
    "government.*, townships.*, and optionally redline.*, boundary.*, facility.*",
)
after_date_opt = click.option(
    "--after-date", default=None, metavar="YYYY-MM-DD",
    help="After-epoch date (default: the image's ACQUISITION_DATE or TIFFTAG_DATETIME tag).",
)
before_date_opt = click.option(
    "--before-date", default=None, metavar="YYYY-MM-DD",
    help="Before-epoch date (default: from the image tags).",
)
min_share_opt = click.option(
    "--min-share", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
    help="Share of a patch that must lie in approved/temporary/facility/government land for that label.",
)
end_date_field_opt = click.option(
    "--end-date-field", default=None,
    help="End-date field of the temporary-use layer [default: the first of end_date, 截至时间, "
    "截止时间, JZSJ ... present].",
)
farmland_where_opt = click.option(
    "--farmland-where", default=None, metavar="SQL",
    help="OGR SQL WHERE filter selecting farmland in the farmland layer, e.g. \"DLBM LIKE '01%'\" "
    "[default: DLBM 01* where the layer has DLBM, else every feature].",
)
name_field_opt = click.option(
    "--name-field", "name_field", multiple=True, metavar="LAYER=FIELD",
    help="Field naming a layer's features in reasons, e.g. approved=doc (repeatable) [default: "
    "批准文号/PZWH/文号, 项目名称/XMMC, name ... else the first text field that varies].",
)
key_field_opt = click.option(
    "--key-field", default=None, metavar="FIELD",
    help="Key-project flag field of the government layer [default: 重点工程, key_project, ZDGC ...].",
)
key_projects_opt = click.option(
    "--key-projects", type=click.Path(), default=None, metavar="FILE",
    help="Key projects (重点工程) by name or 文号, one per line (or CSV cells); only these and "
    "flagged ones are deducted in 扣减后.",
)


def layer_params_opts(func):
    """Add the layer options: ``--end-date-field`` ... ``--key-projects``."""
    for opt in (key_projects_opt, key_field_opt, name_field_opt, farmland_where_opt, end_date_field_opt):
        func = opt(func)
    return func


batch_opt = click.option(
    "--batch", default=None, help="Batch name in patch ids (default: after date's quarter, 2024Q2).",
)
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")


def layer_override_opts(func):
    """Add ``--farmland PATH`` ... ``--facility PATH`` (``--basic-farmland`` for ``basic_farmland``)."""
    for name in reversed(LAYER_NAMES):
        func = click.option(
            f"--{name.replace('_', '-')}", f"layer_{name}", type=click.Path(), default=None,
            help=f"The {name} layer (overrides --layers).",
        )(func)
    return func


def overrides_from(kwargs) -> dict:
    """Collect ``layer_<name>`` keyword arguments into an overrides dict."""
    return {name: kwargs.pop(f"layer_{name}") for name in LAYER_NAMES if f"layer_{name}" in kwargs}

window_size_opt = click.option(
    "--window-size", type=click.IntRange(min=64), default=1024, show_default=True,
    help="Side of the processing windows in pixels (results do not depend on it).",
)
workers_opt = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Local threads or processes [default: all cores].",
)
scheduler_opt = click.option(
    "--scheduler", default=None, envvar="WEIPIAN_SCHEDULER",
    help="threads (default), processes, synchronous, or a dask.distributed address "
    "such as tcp://host:8786 (also from WEIPIAN_SCHEDULER).",
)
resume_opt = click.option(
    "--resume", is_flag=True, help="Continue an interrupted run from its finished windows.",
)


def parallel_opts(func):
    """Add ``--window-size``, ``--workers``, ``--scheduler`` and ``--resume``."""
    for opt in (resume_opt, scheduler_opt, workers_opt, window_size_opt):
        func = opt(func)
    return func


def show_progress(ctx) -> bool:
    """Progress bars on an interactive terminal unless ``-q``."""
    import sys

    return bool(not (ctx.obj or {}).get("quiet") and sys.stderr.isatty())

route_opt = click.option("--route", is_flag=True,
                         help="Add visit_order: a short nearest-neighbour tour per township.")
encoding_opt = click.option("--encoding", type=click.Choice(["UTF-8", "GBK"], case_sensitive=False),
                            default="UTF-8", show_default=True,
                            help="Shapefile attribute encoding (GBK for older ArcGIS).")
line_opt = click.option("--line", type=click.FloatRange(0, 1), default=0.15, show_default=True,
                        help="Accountability line of 违法占耕比.")
strict_line_opt = click.option("--strict-line", type=click.FloatRange(0, 1), default=0.08,
                               show_default=True, help="A stricter line (some cities use 8 %).")
chips_opt = click.option("--chips/--no-chips", default=True, show_default=True,
                         help="Make evidence chips (before/after PNGs) for every patch.")


def delivery_opts(func):
    """Add ``--route``, ``--encoding``, ``--line``, ``--strict-line``, ``--chips``."""
    for opt in (chips_opt, strict_line_opt, line_opt, encoding_opt, route_opt):
        func = opt(func)
    return func

crs_opt = click.option("--crs", default=None, metavar="CRS",
                       help="CRS to assume for epochs whose files have none (e.g. EPSG:4547).")
layer_crs_opt = click.option("--layer-crs", default=None, metavar="CRS",
                             help="CRS to assume for layers without one (Shapefiles without .prj).")
min_overlap_opt = click.option("--min-overlap", type=click.FloatRange(0, 1), default=0.5,
                               show_default=True,
                               help="Smallest share of the before image the after image must cover.")
clouds_opt = click.option("--clouds/--no-clouds", default=True, show_default=True,
                          help="Detect clouds and shadows in both epochs and leave them out.")
mask_before_opt = click.option("--mask-before", type=click.Path(), default=None,
                               help="Pixels to leave out in the before epoch: raster (non-zero) or polygons.")
mask_after_opt = click.option("--mask-after", type=click.Path(), default=None,
                              help="Pixels to leave out in the after epoch: raster (non-zero) or polygons.")


def input_opts(func):
    """Add ``--crs``, ``--min-overlap``, ``--clouds``, ``--mask-before``, ``--mask-after``."""
    for opt in (mask_after_opt, mask_before_opt, clouds_opt, min_overlap_opt, crs_opt):
        func = opt(func)
    return func

model_opt = click.option("--model", default="default", show_default=True, metavar="PATH",
                         help="ONNX change model written by weipian train ('default': the one shipped).")
threshold_opt = click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                             default=None, help="Change probability above which a pixel is flagged "
                             "[default: the model card's].")
vegetation_opt = click.option("--vegetation-ndvi", type=click.FloatRange(-1, 1), default=0.5,
                              show_default=True,
                              help="With NIR: after-epoch NDVI above this is vegetation, never construction.")
quality_opt = click.option("--quality", type=click.Choice(QUALITIES), default="fast",
                           show_default=True,
                           help="fast: imagery finer than the model's working size (~1 m) averaged down, one "
                           "pass; balanced: the same, four flips averaged (about 4x the network); accurate: "
                           "native resolution, four flips averaged (up to 16x).")
no_vegetation_opt = click.option("--no-vegetation-veto", is_flag=True,
                                 help="Do not use NIR vegetation evidence.")


def change_opts(func):
    """Add ``--model``, ``--threshold``, ``--vegetation-ndvi``, ``--no-vegetation-veto``, ``--quality``."""
    for opt in (quality_opt, no_vegetation_opt, vegetation_opt, threshold_opt, model_opt):
        func = opt(func)
    return func


def settings_from(ctx, kwargs: dict, *steps: str) -> tuple:
    """Pop the settings options from ``kwargs`` into the settings objects of ``steps``.

    The options are named as the fields of :mod:`weipian.settings` (``--min-area``
    is ``min_area``), so the command line, the settings file (through click's
    ``default_map``) and Python build the same objects. Two options are spelled
    for the shell: ``--name-field LAYER=FIELD`` (repeatable) fills
    ``name_fields``, and ``--no-vegetation-veto`` sets ``vegetation_ndvi`` to None.

    Parameters
    ----------
    ctx : click.Context
        For ``progress`` (bars on an interactive terminal unless ``-q``).
    kwargs : dict
        The command's keyword arguments; the settings options are removed.
    *steps : str
        ``detect``, ``judge``, ``deliver``, ``execution``.

    Returns
    -------
    tuple
        The settings objects, in the order of ``steps``.
    """
    from ..errors import WeipianError
    from ..settings import resolve, settings_fields, shell_spellings

    owners = settings_fields()
    shell_spellings(kwargs)
    options = {name: kwargs.pop(name) for name in list(kwargs) if name in owners}
    if "execution" in steps:
        options["progress"] = show_progress(ctx)
    try:
        return resolve(options, **{step: None for step in steps})
    except ValueError as exc:
        raise WeipianError(str(exc)) from None


cover_model_opt = click.option("--cover-model", default="default", show_default=True, metavar="PATH",
                               help="ONNX land-cover model written by weipian train --task cover "
                               "('default': the one shipped).")
parcel_min_share_opt = click.option(
    "--parcel-min-share", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
    help="Share of a farmland parcel's clear pixels a new use (pond, orchard, forest, grass) must hold.")
parcel_min_area_opt = click.option("--parcel-min-area", type=click.FloatRange(min=0), default=200.0,
                                   show_default=True, help="Area (m²) a new use must hold on a parcel.")
parcel_max_obscured_opt = click.option(
    "--parcel-max-obscured", type=click.FloatRange(0, 1), default=0.3, show_default=True,
    help="Largest share of a parcel under cloud or without data that still allows a judgement (else 不确定).")
parcel_min_confidence_opt = click.option(
    "--parcel-min-confidence", type=click.FloatRange(0, 1), default=0.4, show_default=True,
    help="Lowest mean land-cover probability over a parcel (else 不确定).")
parcel_min_built_opt = click.option(
    "--parcel-min-built-area", type=click.FloatRange(min=0), default=50.0, show_default=True,
    help="Area (m²) of construction patches that makes a parcel 非农化.")


def farmland_opts(func):
    """Add ``--cover-model`` and the ``--parcel-*`` rule options."""
    for opt in (parcel_min_built_opt, parcel_min_confidence_opt, parcel_max_obscured_opt, parcel_min_area_opt,
                parcel_min_share_opt, cover_model_opt):
        func = opt(func)
    return func
