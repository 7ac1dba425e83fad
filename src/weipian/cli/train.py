"""``weipian train OUTDIR``: train or fine-tune a change model."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("output", type=click.Path())
@click.option("--task", type=click.Choice(["change", "cover"]), default="change", show_default=True,
              help="change: the change model (pairs); cover: the farmland land-cover model "
              "(--landcover tiles).")
@click.option("--data", type=click.Path(), default=None,
              help="Folder of labelled pairs (before/after/label per pair, manifest.csv with resolution_m).")
@click.option("--buildings", type=click.Path(), default=None,
              help="Folder of building tiles (image + mask) to paste synthetic construction from.")
@click.option("--landcover", type=click.Path(), default=None,
              help="Folder of land-cover tiles (gid15/, loveda/) for synthetic seasonal pairs: farmland that "
              "changes without being built.")
@click.option("--arch", type=click.Choice(["lean", "unet"]), default="lean", show_default=True,
              help="Network design (lean: stride-2 stem, separable blocks; unet: the 0.1 U-Net).")
@click.option("--patches", type=click.Path(), default=None,
              help="Verified patches (GPKG/SHP) with a field-outcome column; needs --before and --after.")
@click.option("--verified", "verified_manifest", type=click.Path(), default=None, metavar="MANIFEST",
              help="manifest.csv from `weipian ledger export-training`: verified patches of several batches.")
@click.option("--before", type=click.Path(), default=None, help="Before epoch of the verified patches.")
@click.option("--after", type=click.Path(), default=None, help="After epoch of the verified patches.")
@click.option("--bands", default=None, metavar="LIST", help="Band roles of --before/--after.")
@click.option("--outcome-column", default="verified", show_default=True,
              help="Column of --patches: new_construction / no_change / not_construction (or 真实新增 …).")
@click.option("--from-model", default=None, metavar="PATH|default",
              help="Fine-tune these weights (weights.pt or a checkpoint; 'default': the shipped model).")
@click.option("--split/--no-split", default=True, show_default=True,
              help="Hold out the recipe's test and validation pairs of --data (weipian.learn.recipe).")
@click.option("--leave-out", default=None, metavar="DATASET", help="Train without this dataset of --data.")
@click.option("--datasets", default=None, metavar="LIST",
              help="Only these datasets of --data, comma-separated (e.g. levir_cd,pak_houses,whu_cd).")
@click.option("--max-zoom-out", type=click.FloatRange(min=1.0), default=4.0, show_default=True,
              help="Largest zoom-out of real-pair crops, times the pair's own pixel size.")
@click.option("--native", is_flag=True,
              help="Run the network at the imagery's own resolution (no averaging of sub-metre pixels).")
@click.option("--gsd", type=float, default=None, help="Pixel size (m) of --data pairs without a manifest.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Optimiser steps [default: 3000, or 300 when fine-tuning].")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--crop", type=click.IntRange(min=32), default=128, show_default=True)
@click.option("--lr", type=float, default=None, help="Peak learning rate [default: 2e-3, 5e-4 fine-tuning].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-every", type=click.IntRange(min=1), default=250, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads [default: all].")
@click.option("--resume", is_flag=True, help="Continue from OUTDIR/last.pt.")
@click.option("--seasonal-min-zoom", type=click.FloatRange(min=0.1, max=3.0), default=1.0, show_default=True,
              help="Smallest zoom of the land-cover crops of seasonal pairs: below 1 enlarges their pixels "
              "(0.4: 4 m tiles also at 1.6 m).")
@click.option("--seasonal-made-on", type=click.Choice(["tile", "crop"]), default="tile", show_default=True,
              help="Make seasonal pairs on the land-cover tile's own pixels, then resize (tile), or on the "
              "resized crop (crop: the recipe of models 0.2-0.4).")
@click.option("--seasonal-retexture", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True,
              help="Share of the changed fields of seasonal pairs that take another field's texture as well "
              "as its colour (0: the recipe of models 0.2-0.4).")
@click.option("--seasonal-demolish", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True,
              help="Share of seasonal pairs in which blocks of built land are razed to cleared ground: "
              "change, not construction (0: the recipe of models 0.2-0.4).")
@click.option("--seasonal-build-share", type=click.FloatRange(min=0, max=1), default=0.5, show_default=True,
              help="Share of seasonal pairs onto whose farmland or village land real footprints are pasted "
              "as new construction (0.5: the recipe of models 0.2-0.4).")
@click.option("--dice", type=click.Choice(["batch", "example", "present"]), default="batch",
              show_default=True,
              help="Soft Dice of the loss over the whole batch (models 0.1-0.5), per example, so that a "
              "few pixels of new roof count as much as a real pair's thousands, or per example with "
              "something built only (present: examples with nothing built are left to the cross-entropy).")
@click.option("--calibration", type=click.Choice(["current", "0.4"]), default="current", show_default=True,
              help="Seasonal pairs that hold the thresholds' false-alarm budget: current (1.6-12 m) or 0.4 "
              "(the 128-px pairs weipian 0.2-0.4 were calibrated on).")
@click.option("--relabel-unmarked", is_flag=True,
              help="Relabel the strong change the OSCD and DSIFN training labels leave unmarked "
              "(OSCD: change, not construction; DSIFN: unknown).")
@click.option("--class-weight-power", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="--task cover: loss weight of a class = its pixel share ** -power (0: equal weights).")
@click.pass_context
def train_cmd(ctx, output, task, data, buildings, landcover, arch, patches, verified_manifest, before, after,
              bands, outcome_column, from_model, split, leave_out, datasets, max_zoom_out, native, gsd,
              steps, batch, crop, lr, seed,
              val_every, threads, resume, seasonal_min_zoom, seasonal_made_on, seasonal_retexture,
              seasonal_demolish, seasonal_build_share, dice, calibration, relabel_unmarked,
              class_weight_power):
    """Train a change model into OUTDIR (model.onnx, model_card.json, weights.pt, checkpoints).

    From labelled pairs (--data), a bureau's verified patches (--patches with
    --before/--after), or both; --from-model fine-tunes existing weights.
    Needs PyTorch: pip install 'weipian[train]'.
    """
    from ..errors import TrainingDataError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise TrainingDataError("weipian train needs PyTorch; install it with "
                                "pip install 'weipian[train]' (or pip install torch==2.13.0)") from None
    if task == "cover":
        return _train_cover(ctx, output, landcover, steps=steps, batch=batch, crop=crop, lr=lr, seed=seed,
                            val_every=val_every, threads=threads, resume=resume,
                            class_weight_power=class_weight_power)
    from ..learn.fit import train_from_folders
    from ..learn.train import TrainConfig
    from .options import show_progress

    if data is None and patches is None and verified_manifest is None:
        raise click.UsageError("give --data (labelled pairs), --patches or --verified (verified patches), "
                               "or both")
    from ..learn.verified import verified_pairs

    extra = []
    if patches is not None:
        if not (before and after):
            raise click.UsageError("--patches needs --before and --after (the epochs they were found on)")
        extra = verified_pairs(before, after, patches, column=outcome_column, bands=bands)
    if verified_manifest is not None:
        from ..ledger.training import read_training_manifest

        for row in read_training_manifest(verified_manifest):
            extra += verified_pairs(row["before"], row["after"], row["patches"], column="verified",
                                    bands=bands)
    tuning = from_model is not None
    config = TrainConfig(steps=steps or (300 if tuning else 3000), batch=batch, crop=crop,
                         lr=lr or (5e-4 if tuning else 2e-3), seed=seed, val_every=val_every, threads=threads,
                         arch=arch, seasonal_min_zoom=seasonal_min_zoom, seasonal_made_on=seasonal_made_on,
                         seasonal_retexture=seasonal_retexture, seasonal_demolish=seasonal_demolish,
                         seasonal_build_share=seasonal_build_share, dice=dice, max_zoom_out=max_zoom_out,
                         native=native)
    summary = train_from_folders(data, output, buildings=buildings, leave_out=leave_out, config=config,
                                 extra_pairs=extra, from_model=from_model, resume=resume,
                                 progress=show_progress(ctx), use_split=split, gsd_m=gsd, landcover=landcover,
                                 relabel_unmarked=relabel_unmarked, calibration=calibration,
                                 datasets=tuple(d.strip() for d in datasets.split(",") if d.strip())
                                 if datasets else None)
    last = summary["history"][-1] if summary["history"] else {}
    click.echo(f"model written to {summary['onnx']} ({summary['parameters']:,} parameters, "
               f"{config.steps} steps in {summary['seconds']:.0f} s on {summary['device']}; "
               f"validation F1 {last.get('val_f1', float('nan')):.3f})")


def _train_cover(ctx, output, landcover, *, steps, batch, crop, lr, seed, val_every, threads, resume,
                 class_weight_power):
    """``weipian train --task cover``: the land-cover model of ``weipian farmland``."""
    from ..learn.cover_train import CoverTrainConfig, train_cover_from_folder
    from .options import show_progress

    if landcover is None:
        raise click.UsageError("--task cover needs --landcover (folder of gid15/ and loveda/ tiles)")
    config = CoverTrainConfig(steps=steps or 3000, batch=batch, crop=crop, lr=lr or 3e-3, seed=seed,
                              val_every=val_every, threads=threads, class_weight_power=class_weight_power)
    summary = train_cover_from_folder(landcover, output, config=config, resume=resume,
                                      progress=show_progress(ctx))
    last = summary["history"][-1] if summary["history"] else {}
    click.echo(f"land-cover model written to {summary['onnx']} ({summary['parameters']:,} parameters, "
               f"{config.steps} steps in {summary['seconds']:.0f} s; validation mean F1 "
               f"{last.get('val_mean_f1', float('nan')):.3f})")


@click.command("average-models")
@click.argument("output", type=click.Path())
@click.argument("members", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--data", type=click.Path(exists=True), required=True,
              help="The change folder the members were trained from "
                   "(its validation pairs set the thresholds).")
@click.option("--landcover", type=click.Path(exists=True), default=None,
              help="The land-cover folder (its validation tiles make the seasonal pairs of the budget).")
@click.option("--weight", "weights", type=click.FloatRange(min=0), multiple=True,
              help="Weight of each member, in order (repeat once per member; equal when omitted).")
@click.option("--calibration", type=click.Choice(["current", "0.4"]), default="current", show_default=True,
              help="Seasonal pairs that hold the thresholds' false-alarm budget (as weipian train).")
def average_models_cmd(output, members, data, landcover, weights, calibration):
    """Average fine-tunes of one base model (MEMBERS: model folders) into one model in OUTPUT.

    The weights are averaged, exported to model.onnx and calibrated on the
    validation pairs of --data; the network costs what one member costs.
    Needs PyTorch: pip install 'weipian[train]'.
    """
    from ..errors import TrainingDataError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise TrainingDataError("weipian average-models needs PyTorch; install it with "
                                "pip install 'weipian[train]' (or pip install torch==2.13.0)") from None
    if weights and len(weights) != len(members):
        raise click.UsageError(f"give one --weight per member ({len(members)}), or none; got {len(weights)}")
    from ..learn.average import average_models

    card = average_models(output, members, data=data, landcover=landcover, weights=weights or None,
                          calibration=calibration)
    t = card["thresholds"]
    coarse = f", coarse {t['coarse']['construction']}" if "coarse" in t else ""
    click.echo(f"averaged {len(members)} models into {output}/model.onnx; construction threshold "
               f"{t['construction']}{coarse}")
