"""``weipian run BEFORE AFTER --layers DIR -o OUTDIR``."""

from __future__ import annotations

import click

from .options import (
    after_date_opt,
    bands_opt,
    batch_opt,
    before_date_opt,
    change_opts,
    change_params_from,
    delivery_opts,
    input_opts,
    layer_crs_opt,
    layer_override_opts,
    layer_params_from,
    layer_params_opts,
    layers_opt,
    min_area_opt,
    min_share_opt,
    overrides_from,
    overwrite_opt,
    parallel_opts,
    show_progress,
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
@input_opts
@layer_crs_opt
@overwrite_opt
@click.pass_context
def run_cmd(ctx, before, after, layers_dir, output, bands, min_area, target, before_date,
            after_date, min_share, batch, window_size, workers, scheduler, resume,
            route, encoding, line, strict_line, chips, crs, min_overlap, clouds, mask_before,
            mask_after, layer_crs, overwrite, **kwargs):
    """Detect, judge and deliver: patches.gpkg, lists, chips, report.html, run.json in OUTDIR."""
    from ..workflows import run

    params = change_params_from(kwargs)
    frame = run(before, after, layers=layers_dir, output=output, overrides=overrides_from(kwargs),
                bands=bands, min_area=min_area, target=target, params=params, before_date=before_date,
                after_date=after_date, min_share=min_share, layer_params=layer_params_from(kwargs),
                batch=batch, overwrite=overwrite, window_size=window_size, workers=workers,
                scheduler=scheduler, resume=resume, progress=show_progress(ctx), route=route,
                encoding=encoding, line=line, strict_line=strict_line, chips=chips, crs=crs,
                min_overlap=min_overlap, clouds=clouds, mask_before=mask_before,
                mask_after=mask_after, layer_crs=layer_crs)
    counts = frame["label"].value_counts().to_dict()
    click.echo(f"{len(frame)} patches written to {output}: "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
