"""ONNX export of a trained checkpoint, with its model card (needs PyTorch).

The exported graph takes ``before`` and ``after`` as ``(N, 6, H, W)``
float32 (see :mod:`weipian.learn.inputs`; ``H`` and ``W`` multiples of 8)
and returns ``probability`` ``(N, 2, H, W)``: any change, construction. The
card travels inside the ONNX file (metadata key ``weipian_card``) and
beside it as ``model_card.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .augment import GSD_RANGE
from .inputs import CHANNELS, MODEL_BANDS
from .network import OUTPUTS, STRIDE
from .tiling import MARGIN, TILE
from .train import load_checkpoint

__all__ = ["replace_card", "export_onnx", "card_defaults", "save_weights", "write_onnx_with_card",
           "save_with_card"]


class _Probabilities(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, before, after):  # noqa: D102
        return torch.sigmoid(self.net(before, after))


def card_defaults() -> dict:
    """The card fields every weipian change model carries."""
    return {
        "format": "weipian-change-model/1",
        "inputs": {"before": ["N", CHANNELS, "H", "W"], "after": ["N", CHANNELS, "H", "W"]},
        "channels": list(MODEL_BANDS) + ["nir_present", "log10_gsd_m"],
        "outputs": list(OUTPUTS),
        "stride": STRIDE,
        "tile": TILE,
        "margin": MARGIN,
        "gsd_range_m": list(GSD_RANGE),
        "required_bands": ["red", "green", "blue"],
        "optional_bands": ["nir"],
        "thresholds": {"any": 0.5, "construction": 0.5},
    }


def save_weights(checkpoint, path) -> Path:
    """Write the network's weights alone (float16, about 2 MB) for later fine-tuning.

    The file holds ``model`` (state dict) and ``config`` (design, widths,
    channels, working resolution), which
    :func:`weipian.learn.train.load_checkpoint` and ``--from-model`` read.
    """
    net, state = load_checkpoint(checkpoint)
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    config = {"widths": list(net.widths), "arch": getattr(net, "arch", "unet"),
              "rgb_only": not getattr(net, "uses_nir", True),
              "working_gsd_m": getattr(net, "working_gsd_m", None)}
    torch.save({"model": weights, "config": config, "step": state.get("step")}, tmp)
    os.replace(tmp, path)
    return path


def export_onnx(checkpoint, path, *, card: dict | None = None) -> Path:
    """Export a checkpoint to ONNX (atomic write) and write the card beside it.

    Parameters
    ----------
    checkpoint : str or Path
        A ``.pt`` file written by :func:`weipian.learn.train.train`.
    path : str or Path
        The ``.onnx`` file to write.
    card : dict, optional
        Extra model-card fields (data, measured F1, licences).

    Returns
    -------
    pathlib.Path
    """
    net, state = load_checkpoint(checkpoint)
    full = card_defaults()
    from .network import count_parameters, flops_per_pixel

    full.update({"arch": getattr(net, "arch", "unet"), "widths": list(net.widths),
                 "uses_nir": bool(getattr(net, "uses_nir", True)),
                 "working_gsd_m": getattr(net, "working_gsd_m", None),
                 "parameters": count_parameters(net), "flops_per_pixel": round(flops_per_pixel(net)),
                 "trained_steps": state["step"], "validation_f1": state.get("best")})
    if not full["uses_nir"]:
        full["optional_bands"] = []
    full.update(card or {})
    side = TILE + 2 * MARGIN
    dummy = torch.zeros(1, CHANNELS, side, side)
    path = write_onnx_with_card(_Probabilities(net), {"before": dummy, "after": dummy}, path, full,
                                streamline_stride=STRIDE if full["arch"] == "lean" else None)
    save_weights(checkpoint, path.with_name("weights.pt"))
    return path


def write_onnx_with_card(module, inputs: dict, path, card: dict, *,
                         streamline_stride: int | None = None) -> Path:
    """Export ``module`` to ONNX with ``card`` inside (metadata ``weipian_card``) and beside it, atomically.

    Parameters
    ----------
    module : torch.nn.Module
        Returns one tensor, exported as ``probability``.
    inputs : dict
        Input name to an example ``(1, C, H, W)`` tensor; batch, height and
        width are dynamic in the graph.
    path : str or Path
        The ``.onnx`` file; ``model_card.json`` is written beside it.
    card : dict
    streamline_stride : int, optional
        Rewrite the exported graph with :func:`weipian.learn.graph.streamline`
        (a lean change network, inputs on this stride) before it is saved.
    """
    import onnx

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(module, tuple(inputs.values()), str(tmp), input_names=list(inputs),
                      output_names=["probability"], opset_version=17, dynamo=False,
                      dynamic_axes={name: axes for name in [*inputs, "probability"]})
    model = onnx.load(str(tmp))
    if streamline_stride is not None:  # the graph onnxruntime runs fastest, checked against the export
        from .graph import streamline

        model = streamline(model, stride=streamline_stride)
    return save_with_card(model, path, card)


def replace_card(path, card: dict) -> Path:
    """Rewrite the card inside an exported ONNX model (and beside it), keeping its network, atomically.

    Parameters
    ----------
    path : str or Path
        A ``model.onnx`` written by :func:`export_onnx`.
    card : dict
        The whole new card.
    """
    import onnx

    return save_with_card(onnx.load(str(path)), Path(path), card)


def save_with_card(model, path: Path, card: dict) -> Path:
    """Save ``model`` to ``path`` with ``card`` inside and in ``model_card.json``, atomically.

    The card is the ``weipian_card`` metadata (any earlier one replaced); each file is written
    to a temporary name and moved into place.
    """
    import onnx

    kept = [(e.key, e.value) for e in model.metadata_props if e.key != "weipian_card"]
    del model.metadata_props[:]
    for key, value in [*kept, ("weipian_card", json.dumps(card, ensure_ascii=False))]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
    text = json.dumps(card, indent=1, ensure_ascii=False)
    card_tmp = path.with_name("model_card.json.tmp")
    card_tmp.write_text(text, encoding="utf-8")
    os.replace(card_tmp, path.with_name("model_card.json"))
    return path
