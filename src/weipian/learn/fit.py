"""Training from folders: the default recipe and a bureau's own data.

:func:`train_from_folders` is what ``weipian train`` and ``make model`` run:
it reads labelled pairs (and, optionally, building tiles for synthetic
construction and a verified-patch layer), splits them with
:mod:`weipian.learn.recipe`, trains, and exports the best checkpoint to ONNX
with its model card.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .recipe import CONSTRUCTION_UNKNOWN, DATASETS, split_pairs
from .samples import load_building_folder, load_change_folder

__all__ = ["train_from_folders"]

log = logging.getLogger(__name__)


def train_from_folders(data, output, *, buildings=None, leave_out: str | None = None, config=None,
                       extra_pairs=(), from_model=None, resume: bool = False, progress: bool = True,
                       use_split: bool = True, gsd_m: float | None = None) -> dict:
    """Train on labelled folders and export ``model.onnx`` with its card.

    Parameters
    ----------
    data : str or Path or None
        A change folder (see :mod:`weipian.learn.samples`).
    output : str or Path
        Folder for checkpoints, ``model.onnx`` and ``model_card.json``.
    buildings : str or Path, optional
        A building-tile folder for synthetic construction.
    leave_out : str, optional
        Dataset left out of training (leave-one-dataset-out).
    config : weipian.learn.train.TrainConfig, optional
    extra_pairs : list of LabelledPair
        More training pairs (a bureau's verified patches).
    from_model : str or Path, optional
        Checkpoint to fine-tune.
    resume : bool
    progress : bool
    use_split : bool
        Hold out the recipe's test and validation pairs (default); False
        trains on every pair (a bureau's own data).
    gsd_m : float, optional
        Pixel size of pairs the folder's manifest does not give.

    Returns
    -------
    dict
        The training summary plus ``onnx`` and ``card`` paths and the test
        pair names.
    """
    from .export import export_onnx
    from .train import TrainConfig, train

    config = config or TrainConfig()
    pairs = []
    use_split = use_split and data is not None
    if data is not None:
        pairs = load_change_folder(data, include=DATASETS if use_split else None, gsd_m=gsd_m,
                                   construction_unknown=CONSTRUCTION_UNKNOWN)
    if use_split:
        train_pairs, val_pairs, test_pairs = split_pairs(pairs, leave_out=leave_out)
    else:
        train_pairs, val_pairs, test_pairs = pairs, [], []
    train_pairs = train_pairs + list(extra_pairs)
    tiles = load_building_folder(buildings) if buildings else []
    log.info("training on %d pairs (%d building tiles), validating on %d", len(train_pairs), len(tiles),
             len(val_pairs))
    summary = train(train_pairs, output, buildings=tiles, val_pairs=val_pairs, config=config,
                    from_model=from_model, resume=resume, progress=progress)
    output = Path(output)
    card = {
        "trained_on": sorted({p.name for p in train_pairs}),
        "validated_on": sorted(p.name for p in val_pairs),
        "held_out": sorted(p.name for p in test_pairs),
        "leave_out": leave_out,
        "datasets": sorted({p.dataset for p in train_pairs}),
        "building_tiles": len(tiles),
        "steps": config.steps,
        "seconds": round(summary["seconds"], 1),
        "device": summary["device"],
        "parameters": summary["parameters"],
    }
    if val_pairs:
        from .train import calibrate_thresholds

        calibrated = calibrate_thresholds(summary["best"], val_pairs)
        card["validation_f1_at_thresholds"] = calibrated.pop("validation_f1")
        if "coarse" in calibrated:
            card["validation_f1_at_thresholds"] = {"fine": card["validation_f1_at_thresholds"],
                                                   "coarse": calibrated["coarse"].pop("validation_f1")}
        card["thresholds"] = calibrated
    elif from_model is not None:  # fine-tuned without validation pairs: keep the base model's thresholds
        card["thresholds"] = _base_thresholds(from_model)
        card["fine_tuned_from"] = str(from_model)
    onnx_path = export_onnx(summary["best"], output / "model.onnx", card=card)
    summary.update(onnx=str(onnx_path), card=str(output / "model_card.json"),
                   test=[p.name for p in test_pairs])
    (output / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "history"},
                                                    indent=1, default=str))
    return summary


def _base_thresholds(from_model) -> dict:
    from .model import DEFAULT_MODEL

    folder = DEFAULT_MODEL.parent if str(from_model) == "default" else Path(from_model).parent
    card = folder / "model_card.json"
    if card.exists():
        return json.loads(card.read_text(encoding="utf-8")).get("thresholds", {})
    return {}
