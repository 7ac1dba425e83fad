"""Training the change network (needs PyTorch: ``pip install 'weipian[train]'``).

:func:`train` draws batches from :class:`~weipian.learn.batches.BatchSampler`,
optimises binary cross-entropy plus soft Dice on both outputs (pixels whose
truth is unknown carry no loss), validates every ``val_every`` steps on whole
validation pairs (pixel F1 of the construction output at the model's
threshold), and writes a checkpoint (network, optimiser, random states,
history) after each validation. ``resume=True`` continues from the last
checkpoint to the same result as an uninterrupted run with the same seed.
Runs on the CPU, or on a GPU when PyTorch sees one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .batches import BatchSampler
from .inputs import CHANNELS
from .network import SiameseUNet, count_parameters
from .samples import IGNORE, LabelledPair
from .tiling import predict_tiled

__all__ = ["TrainConfig", "train", "load_checkpoint", "predict_pair", "pair_f1", "calibrate_thresholds"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    steps : int
        Optimiser steps.
    batch : int
        Examples per step.
    crop : int
        Crop side in pixels (a multiple of 8).
    lr : float
        Peak learning rate (AdamW, cosine decay after a 5 % warm-up).
    seed : int
    val_every : int
        Steps between validations and checkpoints.
    synthetic_share : float
        Share of synthetic change pairs among the examples.
    widths : tuple of int
        Encoder widths of the network.
    threads : int
        CPU threads for PyTorch (0: PyTorch's default).
    weights : dict
        Relative sampling weight per dataset (default equal).
    """

    steps: int = 3000
    batch: int = 8
    crop: int = 128
    lr: float = 2e-3
    seed: int = 0
    val_every: int = 250
    synthetic_share: float = 0.25
    widths: tuple = (16, 32, 64, 128)
    threads: int = 0
    weights: dict = field(default_factory=dict)


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _masked_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice per output channel, ignoring unknown pixels."""
    known = (target != IGNORE).float()
    truth = (target == 1).float()
    bce = F.binary_cross_entropy_with_logits(logits, truth, weight=known, reduction="sum")
    bce = bce / known.sum().clamp(min=1.0)
    prob = torch.sigmoid(logits) * known
    inter = (prob * truth).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + (truth * known).sum(dim=(0, 2, 3))
    dice = 1.0 - (2 * inter + 1.0) / (denom + 1.0)
    return bce + dice.mean()


def _lr_at(step: int, config: TrainConfig) -> float:
    warm = max(1, config.steps // 20)
    if step < warm:
        return config.lr * (step + 1) / warm
    t = (step - warm) / max(1, config.steps - warm)
    return config.lr * 0.5 * (1 + np.cos(np.pi * min(t, 1.0)))


def predict_pair(net: SiameseUNet, pair: LabelledPair, *, has_nir: bool | None = None) -> np.ndarray:
    """Probabilities ``(2, M, N)`` of a whole pair with the PyTorch network."""
    from .batches import _channels

    has_nir = pair.has_nir if has_nir is None else has_nir
    before = _channels(pair.before, has_nir, pair.gsd_m)
    after = _channels(pair.after, has_nir, pair.gsd_m)
    device = next(net.parameters()).device

    def run(xb, xa):
        with torch.no_grad():
            logits = net(torch.from_numpy(xb).to(device), torch.from_numpy(xa).to(device))
            return torch.sigmoid(logits).cpu().numpy()

    was_training = net.training
    net.eval()
    try:
        return predict_tiled(before, after, run)
    finally:
        net.train(was_training)


def pair_f1(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of a thresholded map (unknown pixels skipped)."""
    known = truth != IGNORE
    pred = (prob >= threshold) & known
    t = (truth == 1) & known
    tp = int((pred & t).sum())
    return tp, int((pred & ~t).sum()), int((~pred & t).sum())


def _construction_truth(pair: LabelledPair) -> np.ndarray:
    """Construction truth, falling back to any-change truth where construction is unknown."""
    return np.where(pair.construction == IGNORE, pair.any_change, pair.construction)


def _validate(net, pairs: list[LabelledPair]) -> dict:
    scores = {}
    for pair in pairs:
        prob = predict_pair(net, pair)
        truth = _construction_truth(pair)
        channel = 1 if (pair.construction != IGNORE).any() else 0
        tp, fp, fn = pair_f1(prob[channel], truth)
        scores[pair.name] = 2 * tp / max(1, 2 * tp + fp + fn)
    return scores


def _save(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _restore(path: Path, net, opt, rng, device):
    """Load a checkpoint into the network, optimiser and random states; (step, history, best)."""
    state = torch.load(path, map_location=device, weights_only=False)
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed from %s at step %d", path, state["step"])
    return state["step"], state["history"], state["best"]


def _state(net, opt, rng, step, history, best, config) -> dict:
    """Everything a resumed run needs to continue exactly."""
    return {"model": net.state_dict(), "optimizer": opt.state_dict(), "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "step": step, "history": history, "best": best,
            "config": asdict(config)}


def load_checkpoint(path) -> tuple[SiameseUNet, dict]:
    """The network and the checkpoint dict saved by :func:`train` (or ``weights.pt``).

    ``"default"`` loads the weights of the model shipped with weipian.
    """
    if str(path) == "default":
        from .model import DEFAULT_MODEL

        path = DEFAULT_MODEL.with_name("weights.pt")
    state = torch.load(path, map_location="cpu", weights_only=False)
    net = SiameseUNet(CHANNELS, tuple(state["config"]["widths"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    net.eval()
    return net, state


def train(pairs: list[LabelledPair], output, *, buildings=(), val_pairs=(), config: TrainConfig | None = None,
          from_model=None, resume: bool = False, progress: bool = True) -> dict:
    """Train (or fine-tune) the change network.

    Parameters
    ----------
    pairs : list of LabelledPair
        Training pairs (see :mod:`weipian.learn.samples`).
    output : str or Path
        Folder for ``last.pt`` (every validation), ``best.pt`` (best mean
        validation F1) and ``history.json``.
    buildings : list of BuildingTile
        Footprint sources for synthetic construction.
    val_pairs : list of LabelledPair
        Whole pairs to validate on (never trained on).
    config : TrainConfig
    from_model : str or Path, optional
        A checkpoint to start from (fine-tuning); its widths are kept.
    resume : bool
        Continue from ``output/last.pt`` if it exists.
    progress : bool
        Show a progress bar with the loss and the validation F1.

    Returns
    -------
    dict
        ``history`` (step, loss, val F1), ``best`` (checkpoint path),
        ``parameters``, ``seconds``, ``device``.
    """
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device()
    torch.manual_seed(config.seed)
    widths = tuple(config.widths)
    start_state = None
    if from_model is not None:
        base, start_state = load_checkpoint(from_model)
        widths = base.widths
        config.widths = widths
    net = SiameseUNet(CHANNELS, widths).to(device)
    if start_state is not None:
        net.load_state_dict(start_state["model"])
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    rng = np.random.default_rng(config.seed)
    last = output / "last.pt"
    step, history, best = _restore(last, net, opt, rng, device) if resume and last.exists() else (0, [], -1.0)
    sampler = BatchSampler(list(pairs), list(buildings), size=config.crop,
                           synthetic_share=config.synthetic_share, weights=config.weights or None)
    # seconds add up over resumes
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="training", unit="step")
    net.train()
    running = None
    while step < config.steps:
        xb, xa, target = sampler.batch(rng, config.batch)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        logits = net(torch.from_numpy(xb).to(device), torch.from_numpy(xa).to(device))
        loss = _masked_loss(logits, torch.from_numpy(target).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        if step % config.val_every == 0 or step == config.steps:
            scores = _validate(net, list(val_pairs)) if val_pairs else {}
            mean = float(np.mean(list(scores.values()))) if scores else float("nan")
            history.append({"step": step, "loss": running, "val_f1": mean, "per_pair": scores,
                            "seconds": time.perf_counter() - started})
            bar.set_postfix(loss=f"{running:.3f}", val_f1=f"{mean:.3f}")
            state = _state(net, opt, rng, step, history, best, config)
            if not val_pairs or mean > best:
                best = mean if val_pairs else best
                state["best"] = best
                _save(output / "best.pt", state)
            _save(last, state)
            (output / "history.json").write_text(json.dumps(history, indent=1))
    bar.close()
    return {"history": history, "best": str(output / "best.pt"), "parameters": count_parameters(net),
            "seconds": time.perf_counter() - started, "device": str(device)}




#: Thresholds tried by :func:`calibrate_thresholds`.
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def calibrate_thresholds(checkpoint, val_pairs: list[LabelledPair], *, default: float = 0.5,
                         coarse_gsd_m: float = 5.0) -> dict:
    """Per output, the probability threshold with the best mean pixel F1 on the validation pairs.

    Only validation pairs are used (never test pairs); without any, every
    threshold is ``default``. Pairs finer and coarser than ``coarse_gsd_m``
    are calibrated apart when both kinds are present (a house is many pixels
    at 0.5 m and one at 10 m, and the network is surer of it at 0.5 m).

    Returns
    -------
    dict
        ``{"any": t, "construction": t}`` (fine pairs, or all), ``"validation_f1"``
        at those thresholds and, when coarse pairs exist, ``"coarse"``: the same
        for pixels coarser than ``coarse_gsd_m`` (key ``"min_gsd_m"``).
    """
    if not val_pairs:
        return {"any": default, "construction": default}
    net, _ = load_checkpoint(checkpoint)
    probs = [predict_pair(net, pair) for pair in val_pairs]
    fine = [k for k, pair in enumerate(val_pairs) if pair.gsd_m <= coarse_gsd_m]
    coarse = [k for k, pair in enumerate(val_pairs) if pair.gsd_m > coarse_gsd_m]
    main = fine or coarse
    out = _best_thresholds([val_pairs[k] for k in main], [probs[k] for k in main], default)
    if fine and coarse:
        out["coarse"] = _best_thresholds([val_pairs[k] for k in coarse], [probs[k] for k in coarse], default)
        out["coarse"]["min_gsd_m"] = coarse_gsd_m
    return out


def _best_thresholds(pairs, probs, default) -> dict:
    out, scores = {}, {}
    for channel, name in enumerate(("any", "construction")):
        best, best_f1 = default, -1.0
        for t in THRESHOLDS:
            f1s = []
            for pair, prob in zip(pairs, probs):
                truth = pair.any_change if name == "any" else _construction_truth(pair)
                tp, fp, fn = pair_f1(prob[channel], truth, t)
                f1s.append(2 * tp / max(1, 2 * tp + fp + fn))
            if np.mean(f1s) > best_f1 + 1e-9:
                best, best_f1 = t, float(np.mean(f1s))
        out[name], scores[name] = best, round(best_f1, 4)
    out["validation_f1"] = scores
    return out
