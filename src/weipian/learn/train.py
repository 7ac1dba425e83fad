"""Training the change network (needs PyTorch: ``pip install 'weipian[train]'``).

:func:`train` draws batches from :class:`~weipian.learn.batches.BatchSampler`,
optimises binary cross-entropy plus soft Dice on both outputs (pixels whose
truth is unknown carry no loss), validates every ``val_every`` steps on whole
validation pairs (pixel F1 of the construction output at 0.5, averaged per
dataset and then over datasets), and writes a checkpoint (network, optimiser, random states,
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
from .network import build_network, count_parameters
from .samples import IGNORE, LabelledPair
from .tiling import predict_tiled

__all__ = ["TrainConfig", "train", "load_checkpoint", "predict_pair", "pair_f1", "f1_at",
           "construction_truth"]

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
        Share of synthetic construction pairs among the examples.
    widths : tuple of int or None
        Feature widths of the network (None: the design's default).
    threads : int
        CPU threads for PyTorch (0: PyTorch's default).
    weights : dict
        Relative sampling weight per dataset (default equal).
    arch : {"lean", "unet"}
        Network design (see :data:`weipian.learn.network.ARCHITECTURES`).
    seasonal_share : float
        Share of synthetic seasonal pairs (needs land-cover tiles).
    exchange_share : float
        Share of real-pair crops whose epochs are exchanged.
    rgb_only : bool
        Train on red, green and blue only: the NIR channel and its flag are
        always 0, in training and at inference (the card says
        ``"uses_nir": false``).
    working_gsd_m : float or None
        Imagery finer than this is averaged down before the network, at
        validation and inference (None: always native).
    seasonal_made_on : {"tile", "crop"}
        Seasonal pairs made on the land-cover tile's own pixels, then
        resized (``"tile"``), or on the resized crop (``"crop"``: models
        0.2–0.4; see :func:`weipian.learn.seasons.seasonal_example`).
    seasonal_min_zoom : float
        Smallest zoom of the land-cover crops of seasonal pairs (1: the
        tiles' own pixel size and coarser; 0.4: 4 m tiles also at 1.6 m).
    seasonal_retexture : float
        Share of the changed parcels of seasonal pairs that take another
        field's texture as well as its colour (0: models 0.2–0.4).
    seasonal_demolish : float
        Share of seasonal pairs in which blocks of built land are razed to
        cleared ground (change, not construction; 0: models 0.2–0.4).
    seasonal_build_share : float
        Share of seasonal pairs onto whose farmland or village land real
        footprints are pasted as new construction (0.5: models 0.2–0.4).
    dice : {"batch", "example", "present"}
        Pooling of the soft Dice term (:func:`_masked_loss`; ``"batch"``:
        models 0.1–0.5).
    max_zoom_out : float
        Largest zoom-out of real-pair crops (4: models 0.1–0.5; 1.5 keeps a
        0.5 m pair near its own pixel size, for a model run at native resolution).
    native : bool
        Validate and infer at the imagery's own resolution (``working_gsd_m``
        None), also when fine-tuning a model that averages finer imagery down.
    """

    steps: int = 3000
    batch: int = 8
    crop: int = 128
    lr: float = 2e-3
    seed: int = 0
    val_every: int = 250
    synthetic_share: float = 0.25
    widths: tuple | None = None
    threads: int = 0
    weights: dict = field(default_factory=dict)
    arch: str = "lean"
    seasonal_share: float = 0.35
    exchange_share: float = 0.3
    rgb_only: bool = True
    working_gsd_m: float | None = 1.0
    seasonal_min_zoom: float = 1.0
    seasonal_made_on: str = "tile"
    seasonal_retexture: float = 0.0
    seasonal_demolish: float = 0.0
    seasonal_build_share: float = 0.5
    dice: str = "batch"
    max_zoom_out: float = 4.0
    native: bool = False

    def seasonal_options(self) -> dict:
        """The ``seasonal_*`` settings by name, as :class:`~weipian.learn.batches.BatchSampler` takes them."""
        return {k: v for k, v in asdict(self).items() if k.startswith("seasonal_")}


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: How the soft Dice term of the loss pools pixels (:func:`_masked_loss`).
DICE_POOLING = ("batch", "example", "present")


def _masked_loss(logits: torch.Tensor, target: torch.Tensor, dice: str = "batch") -> torch.Tensor:
    """BCE + soft Dice per output channel, ignoring unknown pixels.

    Parameters
    ----------
    logits : (n, K, S, S) tensor
    target : (n, K, S, S) uint8 tensor
        1, 0 or :data:`~weipian.learn.samples.IGNORE`.
    dice : {"batch", "example", "present"}
        ``"batch"`` pools every pixel of the batch into one Dice per output
        (models 0.1–0.5): an example's few pixels of new roof weigh next to
        a real pair's thousands only by their count. ``"example"`` takes
        the Dice of each example and output, then the mean: every example's
        construction counts alike, however small, and an example with
        nothing built is pushed toward flagging nothing at all (its Dice is
        ``1 - 1 / (Σp + 1)``: one pixel's worth of probability costs 0.5).
        ``"present"``: per example as ``"example"``, but the mean is over
        the (example, output) pairs whose known pixels hold a positive; an
        example with nothing built is left to the cross-entropy, which
        weighs each pixel alike. 0 where no example holds a positive.
    """
    if dice not in DICE_POOLING:
        raise ValueError(f"dice must be one of {DICE_POOLING}, not {dice!r}")
    known = (target != IGNORE).float()
    truth = (target == 1).float()
    bce = F.binary_cross_entropy_with_logits(logits, truth, weight=known, reduction="sum")
    bce = bce / known.sum().clamp(min=1.0)
    prob = torch.sigmoid(logits) * known
    dims = (0, 2, 3) if dice == "batch" else (2, 3)
    inter = (prob * truth).sum(dim=dims)
    denom = prob.sum(dim=dims) + (truth * known).sum(dim=dims)
    dice_loss = 1.0 - (2 * inter + 1.0) / (denom + 1.0)
    if dice == "present":
        present = (truth * known).sum(dim=(2, 3)) > 0
        return bce + (dice_loss * present).sum() / present.sum().clamp(min=1)
    return bce + dice_loss.mean()


def _lr_at(step: int, config: TrainConfig) -> float:
    warm = max(1, config.steps // 20)
    if step < warm:
        return config.lr * (step + 1) / warm
    t = (step - warm) / max(1, config.steps - warm)
    return config.lr * 0.5 * (1 + np.cos(np.pi * min(t, 1.0)))


def predict_pair(net, pair: LabelledPair, *, has_nir: bool | None = None,
                 quality: str = "fast") -> np.ndarray:
    """Probabilities ``(2, M, N)`` of a whole pair with the PyTorch network, as inference computes them.

    The network's ``uses_nir`` and ``working_gsd_m`` (set by :func:`train`
    and :func:`load_checkpoint`) decide the channels and the averaging factor,
    as the card decides them for the ONNX model.
    """
    from .batches import _channels
    from .resolution import quality_flips, quality_native, scaled_runner, working_factor

    uses_nir = getattr(net, "uses_nir", True)
    has_nir = (pair.has_nir if has_nir is None else has_nir) and uses_nir
    factor = 1 if quality_native(quality) else working_factor(pair.gsd_m, getattr(net, "working_gsd_m", None))
    before = _channels(pair.before, has_nir, pair.gsd_m * factor)
    after = _channels(pair.after, has_nir, pair.gsd_m * factor)
    device = next(net.parameters()).device

    def run(xb, xa):
        with torch.no_grad():
            logits = net(torch.from_numpy(xb).to(device), torch.from_numpy(xa).to(device))
            return torch.sigmoid(logits).cpu().numpy()

    was_training = net.training
    net.eval()
    try:
        return predict_tiled(before, after, scaled_runner(run, factor=factor, flips=quality_flips(quality)))
    finally:
        net.train(was_training)


def pair_f1(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of a thresholded map (unknown pixels skipped)."""
    known = truth != IGNORE
    pred = (prob >= threshold) & known
    t = (truth == 1) & known
    tp = int((pred & t).sum())
    return tp, int((pred & ~t).sum()), int((~pred & t).sum())


def f1_at(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Pixel F1 of ``prob >= threshold`` against ``truth`` (unknown pixels skipped; 0 when both are empty)."""
    tp, fp, fn = pair_f1(prob, truth, threshold)
    return 2 * tp / max(1, 2 * tp + fp + fn)


def construction_truth(pair: LabelledPair) -> np.ndarray:
    """Construction truth, falling back to any-change truth where construction is unknown."""
    return np.where(pair.construction == IGNORE, pair.any_change, pair.construction)


def _validate(net, pairs: list[LabelledPair]) -> dict:
    scores = {}
    for pair in pairs:
        prob = predict_pair(net, pair)
        truth = construction_truth(pair)
        channel = 1 if (pair.construction != IGNORE).any() else 0
        scores[pair.name] = f1_at(prob[channel], truth)
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


def _network_for(config: dict):
    """The network a checkpoint's config describes (0.1 checkpoints: the U-Net, NIR used, native)."""
    net = build_network(config.get("arch", "unet"), config.get("widths"), CHANNELS)
    net.uses_nir = not config.get("rgb_only", False)
    net.working_gsd_m = config.get("working_gsd_m")
    return net


def load_checkpoint(path):
    """The network and the checkpoint dict saved by :func:`train` (or ``weights.pt``).

    ``"default"`` loads the weights of the model shipped with weipian.
    """
    if str(path) == "default":
        from .model import DEFAULT_MODEL

        path = DEFAULT_MODEL.with_name("weights.pt")
    state = torch.load(path, map_location="cpu", weights_only=False)
    net = _network_for(state["config"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    net.eval()
    return net, state


def train(pairs: list[LabelledPair], output, *, buildings=(), val_pairs=(), config: TrainConfig | None = None,
          from_model=None, resume: bool = False, progress: bool = True, landcover=()) -> dict:
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
        A checkpoint to start from (fine-tuning); its design is kept.
    resume : bool
        Continue from ``output/last.pt`` if it exists.
    progress : bool
        Show a progress bar with the loss and the validation F1.
    landcover : list of LandCoverTile
        Sources of synthetic seasonal pairs (:mod:`weipian.learn.seasons`).

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
    net = _start_network(config, from_model).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    rng = np.random.default_rng(config.seed)
    last = output / "last.pt"
    step, history, best = _restore(last, net, opt, rng, device) if resume and last.exists() else (0, [], -1.0)
    sampler = BatchSampler(list(pairs), list(buildings), size=config.crop,
                           synthetic_share=config.synthetic_share, weights=config.weights or None,
                           landcover=list(landcover),
                           exchange_share=config.exchange_share, rgb_only=config.rgb_only,
                           max_zoom_out=config.max_zoom_out, **config.seasonal_options())
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)  # adds up over resumes
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="training", unit="step")
    net.train()
    running = None
    while step < config.steps:
        value = _step(net, opt, sampler, rng, step, config, device)
        step += 1
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        if step % config.val_every == 0 or step == config.steps:
            best = _checkpoint(net, opt, rng, step, history, best, config, output, val_pairs,
                               running=running, seconds=time.perf_counter() - started)
            bar.set_postfix(loss=f"{running:.3f}", val_f1=f"{history[-1]['val_f1']:.3f}")
    bar.close()
    return {"history": history, "best": str(output / "best.pt"), "parameters": count_parameters(net),
            "seconds": time.perf_counter() - started, "device": str(device)}


def _start_network(config: TrainConfig, from_model):
    """A new network of the config's design, or the weights to fine-tune (their design kept)."""
    if from_model is not None:
        base, state = load_checkpoint(from_model)
        base_config = state["config"]
        config.arch = base_config.get("arch", "unet")
        config.widths = tuple(base.widths)
        config.rgb_only = bool(base_config.get("rgb_only", False))
        config.working_gsd_m = None if config.native else base_config.get("working_gsd_m")
        base.working_gsd_m = config.working_gsd_m
        return base
    if config.native:
        config.working_gsd_m = None
    net = build_network(config.arch, config.widths, CHANNELS)
    config.widths = tuple(net.widths)
    net.uses_nir = not config.rgb_only
    net.working_gsd_m = config.working_gsd_m
    return net


def _step(net, opt, sampler, rng, step: int, config: TrainConfig, device) -> float:
    """One optimiser step on a fresh batch; the loss."""
    xb, xa, target = sampler.batch(rng, config.batch)
    for group in opt.param_groups:
        group["lr"] = _lr_at(step, config)
    logits = net(torch.from_numpy(xb).to(device), torch.from_numpy(xa).to(device))
    loss = _masked_loss(logits, torch.from_numpy(target).to(device), config.dice)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def _checkpoint(net, opt, rng, step, history, best, config, output: Path, val_pairs, *, running, seconds):
    """Validate, append to the history, write ``last.pt`` (and ``best.pt`` when better); the best F1."""
    scores = _validate(net, list(val_pairs)) if val_pairs else {}
    by_dataset: dict[str, list] = {}
    for name, f1 in scores.items():  # every dataset counts once, however many pairs it has
        by_dataset.setdefault(name.split("/")[0], []).append(f1)
    mean = float(np.mean([np.mean(v) for v in by_dataset.values()])) if scores else float("nan")
    history.append({"step": step, "loss": running, "val_f1": mean, "per_pair": scores, "seconds": seconds})
    state = _state(net, opt, rng, step, history, best, config)
    if not val_pairs or mean > best:
        best = mean if val_pairs else best
        state["best"] = best
        _save(output / "best.pt", state)
    _save(output / "last.pt", state)
    (output / "history.json").write_text(json.dumps(history, indent=1))
    return best
