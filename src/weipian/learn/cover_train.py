"""Training the land-cover network on real land-cover tiles (needs PyTorch).

Examples are random crops of the GID-15 and LoveDA tiles
(:func:`weipian.learn.landcover.load_landcover_folder`, training split
only), at the pixel sizes the model meets after its working-resolution
averaging: GID at its own 4 m and averaged to 8 m, LoveDA's 0.3 m averaged to
2.4–4.8 m. Flips, quarter turns and a mild colour jitter are applied; pixels
of no class in :data:`~weipian.learn.cover_inputs.COVERS` carry no loss.
The loss is class-weighted cross-entropy. Every ``val_every`` steps the
network is scored on the validation tiles (per-class F1, mean over classes)
and a checkpoint is written; ``resume=True`` continues from ``last.pt``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from .cover_inputs import COVER_WORKING_GSD_M, COVERS, NO_COVER, cover_channels, cover_factor
from .cover_network import build_cover_network
from .landcover import COVER_CLASSES, LandCoverTile
from .train import _lr_at, _save  # the same warm-up and cosine schedule, the same atomic checkpoint write

__all__ = [
    "CoverTrainConfig",
    "train_cover",
    "load_cover_checkpoint",
    "predict_cover_tile",
    "class_scores",
    "tile_truth",
]

log = logging.getLogger(__name__)

#: Index into :data:`COVERS` of each :data:`~weipian.learn.landcover.COVER_CLASSES` value (255: no loss).
_TO_COVERS = np.array(
    [COVERS.index(c) if c in COVERS else NO_COVER for c in COVER_CLASSES]
    + [NO_COVER] * (256 - len(COVER_CLASSES)),
    np.uint8,
)


@dataclass
class CoverTrainConfig:
    """Settings of one land-cover training run (see :func:`train_cover`).

    ``class_weight_power`` sets the loss weight of each class to its share of
    the training pixels to the power ``-class_weight_power`` (0: equal
    weights; the shipped model: 0.5).
    """

    steps: int = 3000
    batch: int = 16
    crop: int = 128
    lr: float = 3e-3
    seed: int = 0
    val_every: int = 250
    threads: int = 0
    loveda_share: float = 0.2
    widths: tuple | None = None
    class_weight_power: float = 0.5


def tile_truth(tile: LandCoverTile) -> np.ndarray:
    """A tile's truth as indices into :data:`COVERS` (:data:`NO_COVER` where it has none)."""
    return _TO_COVERS[tile.cover]


def _block_mode(label: np.ndarray, factor: int) -> np.ndarray:
    """The most common class of each ``factor`` × ``factor`` block (NO_COVER where none has a class)."""
    h, w = (label.shape[0] // factor) * factor, (label.shape[1] // factor) * factor
    blocks = label[:h, :w].reshape(h // factor, factor, w // factor, factor).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(h // factor, w // factor, -1)
    counts = np.stack([(blocks == k).sum(-1) for k in range(len(COVERS))], -1)
    out = counts.argmax(-1).astype(np.uint8)
    out[counts.max(-1) == 0] = NO_COVER
    return out


_scaled_cache: dict = {}


def _at_scale(tile: LandCoverTile, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """RGB, truth and pixel size of a tile after averaging as the model's input would be."""
    if tile.gsd_m < 1.0:  # LoveDA: averaged down to 2.4, 3.6 or 4.8 m
        factor = int(rng.choice([8, 12, 16]))
    else:  # GID: its own 4 m, or averaged to 8 m
        factor = 2 if rng.random() < 0.15 else 1
    key = (tile.name, factor)
    if key not in _scaled_cache:
        _scaled_cache[key] = _averaged(tile, factor)
    return _scaled_cache[key]


def _averaged(tile: LandCoverTile, factor: int) -> tuple[np.ndarray, np.ndarray, float]:
    rgb, truth = tile.image[:3], tile_truth(tile)
    if factor == 1:
        return rgb, truth, tile.gsd_m
    h, w = (rgb.shape[1] // factor) * factor, (rgb.shape[2] // factor) * factor
    small = rgb[:, :h, :w].reshape(3, h // factor, factor, w // factor, factor).mean(axis=(2, 4))
    return small.astype(np.float32), _block_mode(truth, factor), tile.gsd_m * factor


def _example(tile: LandCoverTile, rng, crop: int) -> tuple[np.ndarray, np.ndarray]:
    rgb, truth, gsd = _at_scale(tile, rng)
    if min(truth.shape) < crop:  # small tiles are enlarged to the crop (nearest for the truth)
        s = crop / min(truth.shape) + 1e-6
        size = (int(np.ceil(truth.shape[1] * s)), int(np.ceil(truth.shape[0] * s)))
        rgb = np.stack([cv2.resize(b, size, interpolation=cv2.INTER_LINEAR) for b in rgb])
        truth = cv2.resize(truth, size, interpolation=cv2.INTER_NEAREST)
        gsd = gsd / s
    r = int(rng.integers(0, truth.shape[0] - crop + 1))
    c = int(rng.integers(0, truth.shape[1] - crop + 1))
    rgb, truth = rgb[:, r : r + crop, c : c + crop], truth[r : r + crop, c : c + crop]
    k = int(rng.integers(0, 4))
    rgb, truth = np.rot90(rgb, k, axes=(1, 2)), np.rot90(truth, k)
    if rng.random() < 0.5:
        rgb, truth = rgb[:, :, ::-1], truth[:, ::-1]
    gain = rng.normal(1.0, 0.08, (3, 1, 1)).astype(np.float32)
    offset = rng.normal(0.0, 0.04, (3, 1, 1)).astype(np.float32)
    rgb = np.clip(rgb * gain + offset, -0.5, 1.5)
    return cover_channels(np.ascontiguousarray(rgb), gsd), np.ascontiguousarray(truth)


def _batch(tiles: list, loveda: list, rng, config: CoverTrainConfig):
    xs, ys = [], []
    for _ in range(config.batch):
        pool = loveda if loveda and rng.random() < config.loveda_share else tiles
        x, y = _example(pool[int(rng.integers(len(pool)))], rng, config.crop)
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.stack(ys)


def _class_weights(tiles: list, power: float) -> torch.Tensor:
    """Loss weight per class: (share of the training pixels) ** -power, mean 1."""
    counts = np.ones(len(COVERS))
    for t in tiles:
        counts += np.bincount(tile_truth(t).ravel(), minlength=256)[: len(COVERS)]
    w = (counts / counts.sum()) ** -power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def predict_cover_tile(net, tile: LandCoverTile) -> np.ndarray:
    """Class probabilities ``(K, M, N)`` of a whole tile, averaged toward the working size as at inference."""
    rgb = tile.image[:3]
    factor = cover_factor(tile.gsd_m, COVER_WORKING_GSD_M)
    h, w = (rgb.shape[1] // (16 * factor)) * 16 * factor, (rgb.shape[2] // (16 * factor)) * 16 * factor
    pad_h, pad_w = (-rgb.shape[1]) % (16 * factor), (-rgb.shape[2]) % (16 * factor)
    x = np.pad(rgb, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
    hh, ww = x.shape[1] // factor, x.shape[2] // factor
    small = x.reshape(3, hh, factor, ww, factor).mean(axis=(2, 4)).astype(np.float32)
    inp = cover_channels(small, tile.gsd_m * factor)[None]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            prob = torch.softmax(net(torch.from_numpy(inp)), 1)[0].numpy()
    finally:
        net.train(was_training)
    del h, w
    if factor > 1:
        prob = np.stack(
            [cv2.resize(p, (ww * factor, hh * factor), interpolation=cv2.INTER_LINEAR) for p in prob]
        )
    return prob[:, : rgb.shape[1], : rgb.shape[2]]


def class_scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Per-class true positives, false positives and false negatives of a class map (NO_COVER skipped).

    Returns
    -------
    dict
        ``{class name: [tp, fp, fn]}`` and ``"pixels": [correct, known]``.
    """
    known = truth != NO_COVER
    p, t = pred[known], truth[known]
    out = {"pixels": [int((p == t).sum()), int(known.sum())]}
    for k, name in enumerate(COVERS):
        out[name] = [
            int(((p == k) & (t == k)).sum()),
            int(((p == k) & (t != k)).sum()),
            int(((p != k) & (t == k)).sum()),
        ]
    return out


def summarise_scores(totals: dict) -> dict:
    """Pixel accuracy and per-class F1 from summed :func:`class_scores`."""
    correct, known = totals["pixels"]
    f1 = {
        name: 2 * tp / max(1, 2 * tp + fp + fn)
        for name, (tp, fp, fn) in ((k, v) for k, v in totals.items() if k != "pixels")
    }
    return {"pixel_accuracy": correct / max(1, known), "f1": f1}


def add_scores(totals: dict, scores: dict) -> dict:
    """Sum two :func:`class_scores` results."""
    for key, value in scores.items():
        totals[key] = [a + b for a, b in zip(totals.get(key, [0] * len(value)), value)]
    return totals


def _validate(net, tiles: list) -> dict:
    totals: dict = {}
    for tile in tiles:
        add_scores(totals, class_scores(predict_cover_tile(net, tile).argmax(0), tile_truth(tile)))
    return summarise_scores(totals)


def load_cover_checkpoint(path):
    """The land-cover network and the checkpoint dict saved by :func:`train_cover` (or ``weights.pt``)."""
    if str(path) == "default":
        from .cover_model import DEFAULT_COVER_MODEL

        path = DEFAULT_COVER_MODEL.with_name("weights.pt")
    state = torch.load(path, map_location="cpu", weights_only=False)
    net = build_cover_network(state["config"].get("widths"))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    net.eval()
    return net, state


def train_cover(
    tiles: list,
    output,
    *,
    val_tiles=(),
    config: CoverTrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train the land-cover network.

    Parameters
    ----------
    tiles : list of LandCoverTile
        Training tiles (never the held-out or validation split).
    output : str or Path
        Folder for ``last.pt``, ``best.pt`` (best mean validation F1) and ``history.json``.
    val_tiles : list of LandCoverTile
        Tiles to validate on.
    config : CoverTrainConfig
    resume : bool
        Continue from ``output/last.pt`` if it exists.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``history``, ``best`` (checkpoint path), ``parameters``, ``seconds``.
    """
    from tqdm.auto import tqdm

    config = config or CoverTrainConfig()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    net = build_cover_network(config.widths)
    config.widths = tuple(net.widths)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    rng = np.random.default_rng(config.seed)
    last = output / "last.pt"
    step, history, best = _restore(last, net, opt, rng) if resume and last.exists() else (0, [], -1.0)
    gid = [t for t in tiles if t.gsd_m >= 1.0]
    loveda = [t for t in tiles if t.gsd_m < 1.0]
    weights = _class_weights(tiles, config.class_weight_power)
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="training cover", unit="step")
    running = None
    net.train()
    while step < config.steps:
        x, y = _batch(gid or loveda, loveda, rng, config)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        loss = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y).long(), weight=weights,
                               ignore_index=NO_COVER)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        if step % config.val_every == 0 or step == config.steps:
            best = _checkpoint(net, opt, rng, step, history, best, config, output, val_tiles, running=running,
                               seconds=time.perf_counter() - started)
    bar.close()
    from .network import count_parameters

    return {"history": history, "best": str(output / "best.pt"), "parameters": count_parameters(net),
            "seconds": time.perf_counter() - started}


def _restore(path: Path, net, opt, rng) -> tuple[int, list, float]:
    """Load ``last.pt`` into the network, optimiser and random states; (step, history, best)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return state["step"], state["history"], state["best"]


def _checkpoint(net, opt, rng, step, history, best, config, output: Path, val_tiles, *, running, seconds):
    """Validate, append to the history, write ``last.pt`` (and ``best.pt`` when better); the best F1."""
    scores = _validate(net, list(val_tiles)) if val_tiles else {"f1": {}, "pixel_accuracy": float("nan")}
    mean = float(np.mean(list(scores["f1"].values()))) if scores["f1"] else float("nan")
    history.append({"step": step, "loss": running, "val_mean_f1": mean, **scores, "seconds": seconds})
    state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "rng": rng.bit_generator.state,
             "torch_rng": torch.get_rng_state(), "step": step, "history": history, "best": best,
             "config": asdict(config)}
    if not val_tiles or mean > best:
        best = mean if val_tiles else best
        state["best"] = best
        _save(output / "best.pt", state)
    _save(output / "last.pt", state)
    (output / "history.json").write_text(json.dumps(history, indent=1))
    log.info("step %d: loss %.3f, validation mean F1 %.3f", step, running, mean)
    return best


def held_out_scores(net, root) -> dict:
    """Pixel accuracy and per-class F1 on the held-out tiles of each set (never trained or validated on)."""
    from .landcover import load_landcover_folder

    by_set: dict = {}
    for tile in load_landcover_folder(root, split="held_out"):
        add_scores(
            by_set.setdefault(tile.name.split("/")[0], {}),
            class_scores(predict_cover_tile(net, tile).argmax(0), tile_truth(tile)),
        )
    return {name: {**summarise_scores(t), "tiles_pixels": t["pixels"][1]} for name, t in by_set.items()}


def train_cover_from_folder(
    landcover, output, *, config: CoverTrainConfig | None = None, resume: bool = False, progress: bool = True
) -> dict:
    """Train on a land-cover folder's training split, validate on its validation split, export ONNX.

    Writes ``OUTPUT/model.onnx`` (best checkpoint), ``weights.pt`` and
    ``model_card.json`` with the held-out scores of each set.
    """
    from .cover_export import export_cover_onnx
    from .landcover import load_landcover_folder

    tiles = load_landcover_folder(landcover, split="train")
    val_tiles = load_landcover_folder(landcover, split="validation")
    summary = train_cover(tiles, output, val_tiles=val_tiles, config=config, resume=resume, progress=progress)
    net, _ = load_cover_checkpoint(summary["best"])
    card = {
        "training_data": {
            "landcover": str(landcover),
            "train_tiles": len(tiles),
            "validation_tiles": len(val_tiles),
        },
        "held_out": held_out_scores(net, landcover),
        "licence": "trained on GID-15 (no licence stated; cite Tong et al., RSE 2020) and LoveDA "
        "(CC BY-NC-SA 4.0): research use",
    }
    summary["onnx"] = str(export_cover_onnx(summary["best"], Path(output) / "model.onnx", card=card))
    summary["card"] = card
    return summary
