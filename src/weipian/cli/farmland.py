"""``weipian farmland BEFORE AFTER --layers DIR -o OUTDIR``: farmland use (耕地非粮化) of a pair."""

from __future__ import annotations

import click

from .options import (
    after_date_opt,
    bands_opt,
    before_date_opt,
    farmland_opts,
    farmland_where_opt,
    layer_crs_opt,
    layer_override_opts,
    layers_opt,
    overrides_from,
    overwrite_opt,
    settings_from,
)


@click.command("farmland")
@click.argument("before", type=click.Path())
@click.argument("after", type=click.Path())
@layers_opt
@layer_override_opts
@click.option("-o", "--output", required=True, type=click.Path(), help="Output folder.")
@click.option(
    "--patches",
    type=click.Path(),
    default=None,
    help="Construction patches of this pair (patches.gpkg of weipian run/detect/judge): the parcels "
    "they cover are 非农化, linked to them.",
)
@bands_opt
@before_date_opt
@after_date_opt
@farmland_where_opt
@farmland_opts
@click.option(
    "--clouds/--no-clouds",
    default=True,
    show_default=True,
    help="Leave clouds and shadows without a cover (their parcels become 不确定).",
)
@click.option("--mask-before", type=click.Path(), default=None,
              help="Pixels to leave without a cover in the before epoch: raster (non-zero) or polygons.")
@click.option("--mask-after", type=click.Path(), default=None,
              help="Pixels to leave without a cover in the after epoch: raster (non-zero) or polygons.")
@click.option(
    "--chips/--no-chips", default=True, show_default=True, help="Before/after chips of every changed parcel."
)
@layer_crs_opt
@overwrite_opt
@click.pass_context
def farmland_cmd(
    ctx,
    before,
    after,
    layers_dir,
    output,
    patches,
    bands,
    before_date,
    after_date,
    farmland_where,
    clouds,
    mask_before,
    mask_after,
    chips,
    layer_crs,
    overwrite,
    **kwargs,
):
    """Judge every farmland parcel: 耕种, 非粮化 (pond, orchard, forest, grass), 非农化 or 不确定.

    Writes parcels.gpkg, parcels.xlsx, farmland_townships.csv, worst_ten.csv,
    chips_parcels/ and farmland.html into OUTDIR.
    """
    from pathlib import Path

    from ..deliver.farmland import write_farmland_outputs
    from ..io import check_output
    from ..workflows.farmland import farmland_use

    output = Path(output)
    for name in ("parcels.gpkg", "parcels.xlsx", "farmland_townships.csv", "worst_ten.csv", "farmland.html"):
        check_output(output / name, overwrite=overwrite)
    overrides = overrides_from(kwargs)
    (settings,) = settings_from(ctx, kwargs, "farmland")
    parcels = farmland_use(
        before,
        after,
        layers=layers_dir,
        overrides=overrides,
        patches=patches,
        model=settings.cover_model,
        bands=bands,
        before_date=before_date,
        after_date=after_date,
        farmland_where=farmland_where,
        layer_crs=layer_crs,
        clouds=clouds,
        mask_before=mask_before,
        mask_after=mask_after,
        rule=settings.rule(),
    )
    write_farmland_outputs(parcels, output, before=before, after=after, bands=bands, chips=chips)
    counts = parcels["state_zh"].value_counts().to_dict()
    click.echo(
        f"{len(parcels)} farmland parcels judged into {output}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
