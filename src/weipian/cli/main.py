"""The ``weipian`` command group: logging, error reporting, subcommands."""

from __future__ import annotations

import logging
import os
import sys
import warnings

import click

from .. import __version__
from ..errors import WeipianError, WeipianWarning


class WeipianGroup(click.Group):
    """Turn weipian errors into one-line messages with exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WeipianError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=WeipianGroup)
@click.version_option(__version__, prog_name="weipian")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx, verbose, quiet):
    """weipian: find, outline and judge new construction between two epochs (卫片执法)."""
    # GDAL's block cache defaults to 5 % of RAM; windows are read about once,
    # so a modest cache keeps memory bounded by the window size.
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    level = logging.ERROR if quiet else max(10, 30 - 10 * verbose)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"verbosity": verbose, "quiet": quiet}

    def show(message, category, filename, lineno, file=None, line=None):
        if not quiet:
            click.echo(f"Warning: {message}", err=True)

    if issubclass(WeipianWarning, Warning):
        warnings.showwarning = show


from .batch import batch_cmd  # noqa: E402
from .detect import detect_cmd  # noqa: E402
from .export import export_cmd  # noqa: E402
from .judge import judge_cmd  # noqa: E402
from .run import run_cmd  # noqa: E402

main.add_command(batch_cmd)
main.add_command(detect_cmd)
main.add_command(export_cmd)
main.add_command(judge_cmd)
main.add_command(run_cmd)
