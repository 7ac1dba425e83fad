"""``weipian batch MANIFEST.csv``."""

from __future__ import annotations

import click

from .options import (
    min_area_opt,
    min_share_opt,
    overwrite_opt,
    parallel_opts,
    settings_from,
    target_opt,
)


@click.command("batch")
@click.argument("manifest", type=click.Path())
@click.option("--concurrent", type=click.IntRange(min=1), default=None,
              help="Pairs at once on a local Dask cluster [default: the cores]; 1: one pair at a time, "
              "its windows on all cores. With --scheduler tcp://…, the cluster's workers take the pairs.")
@min_area_opt
@target_opt
@min_share_opt
@parallel_opts
@overwrite_opt
@click.pass_context
def batch_cmd(ctx, manifest, overwrite, concurrent, **kwargs):
    """Run every pair listed in MANIFEST (CSV: before, after, output[, layers, after_date, ...])."""
    from ..batch import run_batch
    from ..errors import WeipianError

    detect, judge, execution = settings_from(ctx, kwargs, "detect", "judge", "execution")
    summary = run_batch(manifest, overwrite=overwrite, concurrent=concurrent, detect=detect, judge=judge,
                        execution=execution)
    failed = [s for s in summary if s["status"] != "ok"]
    for s in summary:
        click.echo(f"{s['status']:6s} {s['output']}: "
                   + (f"{s['patches']} patches in {s['seconds']} s" if s["status"] == "ok" else s["error"]))
    if failed:
        raise WeipianError(f"{len(failed)} of {len(summary)} pairs failed; see batch_summary.csv "
                           "beside the manifest")
