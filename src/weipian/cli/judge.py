"""``weipian judge PATCHES.gpkg --layers DIR -o JUDGED.gpkg``."""

from __future__ import annotations

import click

from .options import (
    after_date_opt,
    batch_opt,
    layer_crs_opt,
    layer_override_opts,
    layer_params_opts,
    layers_opt,
    min_share_opt,
    overrides_from,
    overwrite_opt,
    settings_from,
)


@click.command("judge")
@click.argument("patches", type=click.Path())
@layers_opt
@layer_override_opts
@click.option("-o", "--output", required=True, type=click.Path(), help="Judged GeoPackage to write.")
@after_date_opt
@min_share_opt
@layer_params_opts
@batch_opt
@layer_crs_opt
@overwrite_opt
@click.pass_context
def judge_cmd(ctx, patches, layers_dir, output, overwrite, **kwargs):
    """Overlay PATCHES with the reference layers and label each one."""
    from ..io import check_output
    from ..workflows import judge, write_patches

    check_output(output, overwrite=overwrite)
    overrides = overrides_from(kwargs)
    (settings,) = settings_from(ctx, kwargs, "judge")
    frame = judge(patches, layers=layers_dir, overrides=overrides, settings=settings)
    write_patches(frame, output, overwrite=overwrite)
    counts = frame["label"].value_counts().to_dict()
    click.echo(f"{len(frame)} patches judged into {output}: "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
