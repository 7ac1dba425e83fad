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

from ..errors import TrainingDataError
from .recipe import CONSTRUCTION_UNKNOWN, DATASETS, UNMARKED_CHANGE, split_pairs
from .samples import load_building_folder, load_change_folder

__all__ = ["train_from_folders", "recalibrate"]

log = logging.getLogger(__name__)


def train_from_folders(data, output, *, buildings=None, leave_out: str | None = None, config=None,
                       extra_pairs=(), from_model=None, resume: bool = False, progress: bool = True,
                       use_split: bool = True, gsd_m: float | None = None, landcover=None,
                       relabel_unmarked: bool = False, calibration: str = "current",
                       datasets: tuple[str, ...] | None = None) -> dict:
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
    landcover : str or Path, optional
        A land-cover folder (:mod:`weipian.learn.landcover`) for synthetic
        seasonal pairs and its building class as more footprints; its
        held-out tiles are never read.
    relabel_unmarked : bool
        Relabel the strong change the OSCD and DSIFN training labels leave
        unmarked (:mod:`weipian.learn.unmarked`, :data:`~weipian.learn.recipe.UNMARKED_CHANGE`).
        Off by default: the shipped weights were trained without it.
    calibration : str
        Which seasonal pairs hold the thresholds' false-alarm budget
        (:data:`weipian.learn.calibrate.CALIBRATIONS`).
    datasets : tuple of str, optional
        Datasets of ``data`` to train, validate and test on (default: all of
        :data:`~weipian.learn.recipe.DATASETS`), for a model meant for some
        pixel sizes only (the 0.25–0.6 m datasets, say).

    Returns
    -------
    dict
        The training summary plus ``onnx`` and ``card`` paths and the test
        pair names.
    """
    from .train import TrainConfig, train

    config = config or TrainConfig()
    train_pairs, val_pairs, test_pairs = _split(data, use_split=use_split, leave_out=leave_out, gsd_m=gsd_m,
                                                relabel_unmarked=relabel_unmarked, datasets=datasets)
    train_pairs = train_pairs + list(extra_pairs)
    tiles, cover = _synthetic_sources(buildings, landcover, use_split=use_split)
    log.info("training on %d pairs (%d building tiles, %d land-cover tiles), validating on %d",
             len(train_pairs), len(tiles), len(cover), len(val_pairs))
    summary = train(train_pairs, output, buildings=tiles, val_pairs=val_pairs, config=config,
                    from_model=from_model, resume=resume, progress=progress, landcover=cover)
    card = {
        "trained_on": sorted({p.name for p in train_pairs}),
        "validated_on": sorted(p.name for p in val_pairs),
        "held_out": sorted(p.name for p in test_pairs),
        "leave_out": leave_out,
        "relabel_unmarked": relabel_unmarked,
        "datasets": sorted({p.dataset for p in train_pairs}),
        "building_tiles": len(tiles),
        "landcover_tiles": len(cover),
        "steps": config.steps,
        "seconds": round(summary["seconds"], 1),
        "device": summary["device"],
        "parameters": summary["parameters"],
        "recipe": {"batch": config.batch, "crop": config.crop, "lr": config.lr, "seed": config.seed,
                   "dice": config.dice, "max_zoom_out": config.max_zoom_out, "native": config.native,
                   **config.seasonal_options()},
    }
    if from_model is not None:
        card["fine_tuned_from"] = str(from_model)
        base = _base_card(from_model)
        card["stages"] = base.get("stages", [_stage(base)] if base else []) + [_stage(card)]
    card["calibration"] = calibration
    return _finish(summary, card, Path(output), val_pairs, test_pairs, from_model, landcover, calibration)


def _split(data, *, use_split: bool, leave_out, gsd_m, relabel_unmarked: bool = False, datasets=None):
    """Train, validation and test pairs of a change folder (the recipe's split, or all to train)."""
    if data is None:
        return [], [], []
    unknown = sorted(set(datasets or ()) - set(DATASETS))
    if unknown:
        raise TrainingDataError(f"{data}: unknown dataset(s) {', '.join(unknown)}; "
                                f"choose among {', '.join(DATASETS)}")
    include = tuple(datasets) if datasets else (DATASETS if use_split else None)
    pairs = load_change_folder(data, include=include, gsd_m=gsd_m,
                               construction_unknown=CONSTRUCTION_UNKNOWN)
    if not use_split:
        return pairs, [], []
    from .unmarked import mark_unlabelled_change

    train, val, test = split_pairs(pairs, leave_out=leave_out)
    if relabel_unmarked:  # training pairs only: validation and test keep their labels
        train = [mark_unlabelled_change(p, UNMARKED_CHANGE[p.dataset]) if p.dataset in UNMARKED_CHANGE else p
                 for p in train]
    return train, val, test


def _synthetic_sources(buildings, landcover, *, use_split: bool):
    """Building tiles (the recipe's held-out ones left out) and training land-cover tiles."""
    from .landcover import load_landcover_folder
    from .recipe import split_buildings

    tiles = load_building_folder(buildings) if buildings else []
    if use_split:
        tiles, _ = split_buildings(tiles)
    cover = load_landcover_folder(landcover, split="train") if landcover else []
    tiles = tiles + _landcover_buildings(cover)
    return tiles, cover


def _landcover_buildings(cover) -> list:
    """LoveDA's building class as footprint tiles (GID's built-up classes are whole blocks, not roofs)."""
    from .landcover import COVER_CLASSES
    from .samples import BuildingTile

    out = []
    for tile in cover:
        if tile.name.startswith("loveda/"):
            mask = tile.cover == COVER_CLASSES.index("built")
            if mask.mean() > 0.001:
                out.append(BuildingTile(name=tile.name, image=tile.image, mask=mask, gsd_m=tile.gsd_m))
    return out


def _finish(summary: dict, card: dict, output: Path, val_pairs, test_pairs, from_model, landcover,
            calibration: str = "current") -> dict:
    """Thresholds calibrated on the validation pairs, ONNX export with the card, ``summary.json``."""
    from .export import export_onnx

    if val_pairs:
        from .landcover import load_landcover_folder

        seasonal_tiles = load_landcover_folder(landcover, split="validation") if landcover else []
        chosen, calibrated = _choose_checkpoint(output, summary["best"], val_pairs, seasonal_tiles,
                                                calibration)
        summary["best"] = chosen
        card.update(calibrated)
    elif from_model is not None:  # fine-tuned without validation pairs: keep the base model's thresholds
        card["thresholds"] = _base_thresholds(from_model)
        card["fine_tuned_from"] = str(from_model)
    onnx_path = export_onnx(summary["best"], output / "model.onnx", card=card)
    summary.update(onnx=str(onnx_path), card=str(output / "model_card.json"),
                   test=[p.name for p in test_pairs])
    (output / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "history"},
                                                    indent=1, default=str))
    return summary


def recalibrate(folder, data, *, landcover=None, checkpoint: str = "weights.pt",
                calibration: str = "current") -> dict:
    """Choose a trained model's thresholds again, on the recipe's validation pairs; its network is kept.

    What :func:`train_from_folders` does at the end of training, for a model
    already exported: the thresholds, the F1 and false-alarm tables and their
    leave-one-dataset-out check are replaced on its card (inside
    ``model.onnx`` and in ``model_card.json``); everything else on the card,
    and the network, stay.

    Parameters
    ----------
    folder : str or Path
        A model folder: ``model.onnx``, ``model_card.json`` and ``checkpoint``.
    data : str or Path
        The change folder the model was trained from (its validation pairs
        are read, never its test pairs; only those of the card's ``datasets``
        for a model trained on some datasets only).
    landcover : str or Path, optional
        The land-cover folder (its validation tiles make the seasonal pairs).
    checkpoint : str
        The weights in ``folder`` to calibrate (``weights.pt``, or ``last.pt``
        / ``best.pt`` of a training folder).
    calibration : str
        A key of :data:`weipian.learn.calibrate.CALIBRATIONS`.

    Returns
    -------
    dict
        The new card.
    """
    from .calibrate import calibrate
    from .export import replace_card
    from .landcover import load_landcover_folder

    folder = Path(folder)
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    # a model trained on some datasets only (--datasets) is validated on theirs, as training did
    trained = tuple(d for d in card.get("datasets") or () if d in DATASETS) or None
    _, val_pairs, _ = _split(data, use_split=True, leave_out=None, gsd_m=None, datasets=trained)
    if not val_pairs:
        raise ValueError(f"{data}: no validation pairs of the recipe found; pass the folder the model was "
                         "trained from (../shared/realdata/train)")
    tiles = load_landcover_folder(landcover, split="validation") if landcover else []
    card.update(calibrate(folder / checkpoint, val_pairs, landcover=tiles, calibration=calibration))
    card["calibration"] = calibration
    replace_card(folder / "model.onnx", card)
    return card


def _choose_checkpoint(output: Path, best, val_pairs, seasonal_tiles, calibration: str = "current"):
    """Of ``best.pt`` (best F1 at 0.5 during training) and ``last.pt``, the one with the better calibrated F1.

    Both are calibrated (:func:`weipian.learn.calibrate.calibrate`) on the
    validation pairs only; the score is the mean, over the fine and coarse
    groups, of the mean F1 over datasets at the chosen thresholds. Returns the
    chosen checkpoint and its calibration (with ``checkpoint_choice``
    recording both scores).
    """
    import torch

    from .calibrate import calibrate

    candidates = [Path(best)]
    last = output / "last.pt"
    if last.exists() and torch.load(last, map_location="cpu", weights_only=False)["step"] != \
            torch.load(best, map_location="cpu", weights_only=False)["step"]:
        candidates.append(last)
    results = {}
    for path in candidates:
        card = calibrate(path, val_pairs, landcover=seasonal_tiles, calibration=calibration)
        results[path] = (card["validation_score"], card)
    chosen = max(results, key=lambda p: results[p][0])
    card = results[chosen][1]
    card["checkpoint_choice"] = {p.name: round(score, 4) for p, (score, _) in results.items()}
    card["checkpoint"] = chosen.name
    return str(chosen), card


def _base_card(from_model) -> dict:
    """The model card beside the weights being fine-tuned (empty when there is none)."""
    from .model import DEFAULT_MODEL

    folder = DEFAULT_MODEL.parent if str(from_model) == "default" else Path(from_model).parent
    card = folder / "model_card.json"
    return json.loads(card.read_text(encoding="utf-8")) if card.exists() else {}


def _stage(card: dict) -> dict:
    """One training stage of a card: its steps, seconds, device and recipe."""
    return {k: card[k] for k in ("steps", "seconds", "device", "recipe", "fine_tuned_from") if k in card}


def _base_thresholds(from_model) -> dict:
    return _base_card(from_model).get("thresholds", {})
