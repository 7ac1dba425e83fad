"""``weipian detect BEFORE AFTER -o PATCHES.gpkg``."""

from __future__ import annotations

import click

from .options import (
    after_date_opt,
    bands_opt,
    before_date_opt,
    change_opts,
    input_opts,
    min_area_opt,
    overwrite_opt,
    parallel_opts,
    settings_from,
    target_opt,
)


@click.command("detect")
@click.argument("before", type=click.Path())
@click.argument("after", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Patch GeoPackage to write.")
@bands_opt
@min_area_opt
@target_opt
@change_opts
@before_date_opt
@after_date_opt
@parallel_opts
@input_opts
@overwrite_opt
@click.pass_context
def detect_cmd(ctx, before, after, output, overwrite, **kwargs):
    """Find patches of new construction between BEFORE and AFTER."""
    from dataclasses import replace
    from pathlib import Path

    from ..engine.scheduler import WorkFolder
    from ..io import check_output
    from ..workflows import detect, write_patches

    settings, execution = settings_from(ctx, kwargs, "detect", "execution")
    check_output(output, overwrite=overwrite or execution.resume)
    work = Path(output).with_name(Path(output).name + ".work")
    frame = detect(before, after, settings, execution=replace(execution, work_dir=str(work)))
    write_patches(frame, output, overwrite=True)
    WorkFolder(work).clear()
    info = frame.attrs["weipian"]
    click.echo(f"{len(frame)} patches written to {output} "
               f"(shift dy={info['shift_px']['dy']} dx={info['shift_px']['dx']} px)")
