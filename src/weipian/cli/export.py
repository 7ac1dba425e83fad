"""``weipian export JUDGED.gpkg -o DIR``."""

from __future__ import annotations

import click

from .options import delivery_opts


@click.command("export")
@click.argument("judged", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Output folder.")
@click.option("--before", type=click.Path(), default=None, help="Before epoch (for chips and the map).")
@click.option("--after", type=click.Path(), default=None, help="After epoch (for chips and the map).")
@delivery_opts
def export_cmd(judged, output, before, after, route, encoding, line, strict_line, chips):
    """Write patch lists, township statistics, chips and report.html from JUDGED."""
    from ..workflows import deliver, read_patches

    frame = read_patches(judged)
    written = deliver(frame, output, before=before, after=after, encoding=encoding, route=route,
                      line=line, strict_line=strict_line, chips=chips)
    click.echo(f"{len(frame)} patches exported to {output}: " + ", ".join(sorted(written)))
