"""One change model from the averaged weights of several fine-tunes of one base model.

Fine-tunes of the same weights with different seeds differ a great deal on
imagery nobody trained on: under one recipe, held-out F1 moved by 0.05–0.19
between seeds (the model card). Their weights stay close to the base they
started from, so their average is itself a working network (a "model soup",
Wortsman et al. 2022) that tends to keep what the members share and lose what
one seed happened to learn. It costs what one member costs at inference.

:func:`average_state_dicts` is the pure part: floating-point tensors are
averaged (BatchNorm running statistics included), integer counters are taken
from the first member. :func:`average_models` checks that the members can be
averaged (same design, same base), writes ``weights.pt``, exports
``model.onnx`` and calibrates its thresholds on the recipe's validation pairs,
as :func:`weipian.learn.fit.train_from_folders` does at the end of training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ..errors import TrainingDataError

__all__ = ["average_state_dicts", "average_models", "DESIGN_KEYS"]

#: Checkpoint config keys that must agree for weights to be averaged.
DESIGN_KEYS = ("arch", "widths", "rgb_only", "working_gsd_m")


#: Card fields that describe one calibrated network, not the average.
_CALIBRATION_TABLES = ("validation_f1_at_thresholds", "f1_by_threshold", "threshold_lodo",
                       "seasonal_flagged_by_threshold", "seasonal_pairs", "validation_f1", "validation_score")


def average_state_dicts(states: Sequence[Mapping[str, torch.Tensor]],
                        weights: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted mean of network state dicts of one design.

    Parameters
    ----------
    states : sequence of mapping str -> torch.Tensor
        ``state_dict()`` of each member; all with the same keys and shapes.
    weights : sequence of float, optional
        One non-negative weight per member (normalised to sum to 1); equal
        weights when omitted.

    Returns
    -------
    dict of str -> torch.Tensor
        Floating-point tensors averaged (float32); other tensors (BatchNorm's
        ``num_batches_tracked``) copied from the first member.

    Raises
    ------
    ValueError
        No members, a negative or all-zero weight, or members whose keys or
        shapes differ.
    """
    if not states:
        raise ValueError("no state dicts to average")
    weights = [1.0] * len(states) if weights is None else [float(w) for w in weights]
    if len(weights) != len(states) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"need one non-negative weight per member, not all zero; got {weights}")
    total = sum(weights)
    weights = [w / total for w in weights]
    first = states[0]
    for k, state in enumerate(states[1:], start=1):
        if state.keys() != first.keys():
            raise ValueError(f"member {k} has other parameters than member 0")
        for key, value in state.items():
            if value.shape != first[key].shape:
                raise ValueError(f"member {k}: {key} has shape {tuple(value.shape)}, member 0 "
                                 f"{tuple(first[key].shape)}")
    out = {}
    for key, value in first.items():
        if value.is_floating_point():
            out[key] = sum(w * s[key].float() for w, s in zip(weights, states))
        else:
            out[key] = value.clone()
    return out


def _weights_file(member) -> Path:
    """``weights.pt`` of a model folder, or the checkpoint file itself."""
    path = Path(member)
    path = path / "weights.pt" if path.is_dir() else path
    if not path.exists():
        raise TrainingDataError(f"{member}: no weights found; give a model folder with weights.pt "
                                "(what weipian train writes) or a .pt checkpoint")
    return path


def _member_card(weights_file: Path) -> dict:
    card = weights_file.with_name("model_card.json")
    return json.loads(card.read_text(encoding="utf-8")) if card.exists() else {}


def _check_members(files: list[Path], checkpoints: list[dict], cards: list[dict]) -> None:
    """Refuse members of other designs or fine-tuned from other weights (their average is meaningless)."""
    first = checkpoints[0]["config"]
    for path, state in zip(files[1:], checkpoints[1:]):
        for key in DESIGN_KEYS:
            if state["config"].get(key) != first.get(key):
                raise TrainingDataError(
                    f"{path}: {key} is {state['config'].get(key)!r}, {files[0]} has {first.get(key)!r}; "
                    "only fine-tunes of one model can be averaged")
    bases = {card.get("fine_tuned_from") for card in cards}
    if len(bases) > 1:
        raise TrainingDataError(
            f"the members were fine-tuned from different weights ({', '.join(sorted(map(str, bases)))}); "
            "average fine-tunes of one base model (weipian train --from-model with the same weights)")


def average_models(output, members: Sequence, *, data, landcover=None, weights: Sequence[float] | None = None,
                   calibration: str = "current") -> dict:
    """Average fine-tunes of one base model into a calibrated model folder.

    Parameters
    ----------
    output : str or Path
        Folder to write ``weights.pt``, ``model.onnx`` and ``model_card.json``.
    members : sequence of str or Path
        Model folders written by ``weipian train`` (or their ``.pt`` files),
        all fine-tuned from the same weights.
    data : str or Path or None
        The change folder the members were trained from: its validation
        pairs choose the thresholds (never its test pairs). ``None`` keeps
        the first member's thresholds (its calibration tables are dropped:
        they describe another network).
    landcover : str or Path, optional
        The land-cover folder: its validation tiles make the seasonal pairs
        that hold the false-alarm budget.
    weights : sequence of float, optional
        Weight of each member (equal when omitted).
    calibration : str
        A key of :data:`weipian.learn.calibrate.CALIBRATIONS`.

    Returns
    -------
    dict
        The model card written.
    """
    from .export import export_onnx
    from .fit import _stage, recalibrate

    if len(members) < 2:
        raise TrainingDataError("give at least two models to average")
    files = [_weights_file(m) for m in members]
    checkpoints = [torch.load(f, map_location="cpu", weights_only=False) for f in files]
    cards = [_member_card(f) for f in files]
    _check_members(files, checkpoints, cards)
    try:
        averaged = average_state_dicts([c["model"] for c in checkpoints], weights)
    except ValueError as err:
        raise TrainingDataError(f"{', '.join(map(str, files))}: {err}") from None
    share = weights or [1.0] * len(files)
    share = [w / sum(share) for w in share]
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    state = {"model": averaged, "config": checkpoints[0]["config"],
             "step": max(c.get("step", 0) for c in checkpoints), "best": None, "history": []}
    tmp = output / "weights.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(output / "weights.pt")
    dropped = {"stages", "recipe", "checkpoint_choice", "checkpoint", "seconds", "steps",
               *_CALIBRATION_TABLES}
    card = {k: v for k, v in cards[0].items() if k not in dropped}
    card["averaged_from"] = [{"model": str(f), "weight": round(w, 4), **_stage(c)}
                             for f, w, c in zip(files, share, cards)]
    card["stages"] = cards[0].get("stages", [])[:-1] + [{"average_of": card["averaged_from"]}]
    card["steps"] = sum(c.get("steps", 0) for c in cards)
    card["seconds"] = round(sum(c.get("seconds", 0.0) for c in cards), 1)
    export_onnx(output / "weights.pt", output / "model.onnx", card=card)
    if data is None:
        return json.loads((output / "model_card.json").read_text(encoding="utf-8"))
    return recalibrate(output, data, landcover=landcover, calibration=calibration)
