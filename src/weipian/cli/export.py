"""``weipian export JUDGED.gpkg -o DIR``."""

from __future__ import annotations

import click

from .options import delivery_opts, settings_from


@click.command("export")
@click.argument("judged", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Output folder.")
@click.option("--before", type=click.Path(), default=None, help="Before epoch (for chips and the map).")
@click.option("--after", type=click.Path(), default=None, help="After epoch (for chips and the map).")
@delivery_opts
@click.pass_context
def export_cmd(ctx, judged, output, before, after, **kwargs):
    """Write patch lists, township statistics, chips and report.html from JUDGED."""
    from ..workflows import deliver, read_patches

    (settings,) = settings_from(ctx, kwargs, "deliver")
    frame = read_patches(judged)
    written = deliver(frame, output, before=before, after=after, settings=settings)
    click.echo(f"{len(frame)} patches exported to {output}: " + ", ".join(sorted(written)))
