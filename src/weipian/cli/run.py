"""``weipian run BEFORE AFTER --layers DIR -o OUTDIR``."""

from __future__ import annotations

import click

from .options import (
    after_date_opt,
    bands_opt,
    batch_opt,
    before_date_opt,
    change_opts,
    delivery_opts,
    farmland_opts,
    input_opts,
    layer_crs_opt,
    layer_override_opts,
    layer_params_opts,
    layers_opt,
    min_area_opt,
    min_share_opt,
    overrides_from,
    overwrite_opt,
    parallel_opts,
    settings_from,
    target_opt,
)


@click.command("run")
@click.argument("before", type=click.Path())
@click.argument("after", type=click.Path())
@layers_opt
@layer_override_opts
@click.option("-o", "--output", required=True, type=click.Path(), help="Output folder.")
@bands_opt
@min_area_opt
@target_opt
@change_opts
@before_date_opt
@after_date_opt
@min_share_opt
@layer_params_opts
@batch_opt
@parallel_opts
@delivery_opts
@click.option("--farmland-use", is_flag=True,
              help="Also judge every farmland parcel (耕地非粮化): parcels.gpkg, parcels.xlsx, "
              "worst_ten.csv, farmland.html and a report section.")
@farmland_opts
@input_opts
@layer_crs_opt
@overwrite_opt
@click.pass_context
def run_cmd(ctx, before, after, layers_dir, output, overwrite, **kwargs):
    """Detect, judge and deliver: patches.gpkg, lists, chips, report.html, run.json in OUTDIR."""
    from ..workflows import run

    overrides = overrides_from(kwargs)
    detect, judge, deliver, execution, farmland = settings_from(ctx, kwargs, "detect", "judge", "deliver",
                                                                "execution", "farmland")
    frame = run(before, after, layers=layers_dir, output=output, overrides=overrides, overwrite=overwrite,
                detect=detect, judge=judge, deliver=deliver, execution=execution, farmland=farmland)
    counts = frame["label"].value_counts().to_dict()
    click.echo(f"{len(frame)} patches written to {output}: "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
