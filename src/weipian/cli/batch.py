"""``weipian batch MANIFEST.csv``."""

from __future__ import annotations

import click

from .options import (
    min_area_opt,
    min_share_opt,
    overwrite_opt,
    parallel_opts,
    show_progress,
    target_opt,
)


@click.command("batch")
@click.argument("manifest", type=click.Path())
@min_area_opt
@target_opt
@min_share_opt
@parallel_opts
@overwrite_opt
@click.pass_context
def batch_cmd(ctx, manifest, min_area, target, min_share, window_size, workers, scheduler, resume,
              overwrite):
    """Run every pair listed in MANIFEST (CSV: before, after, output[, layers, after_date, ...])."""
    from ..batch import run_batch
    from ..errors import WeipianError

    summary = run_batch(manifest, overwrite=overwrite, progress=show_progress(ctx), min_area=min_area,
                        target=target, min_share=min_share, window_size=window_size,
                        workers=workers, scheduler=scheduler, resume=resume)
    failed = [s for s in summary if s["status"] != "ok"]
    for s in summary:
        click.echo(f"{s['status']:6s} {s['output']}: "
                   + (f"{s['patches']} patches in {s['seconds']} s" if s["status"] == "ok" else s["error"]))
    if failed:
        raise WeipianError(f"{len(failed)} of {len(summary)} pairs failed; see batch_summary.csv "
                           "beside the manifest")
