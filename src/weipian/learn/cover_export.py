"""ONNX export of a trained land-cover checkpoint, with its model card (needs PyTorch).

The graph takes ``image`` ``(N, 4, H, W)`` float32 (see
:func:`weipian.learn.cover_inputs.cover_channels`; ``H`` and ``W`` multiples
of 16) and returns ``probability`` ``(N, K, H, W)`` over
:data:`~weipian.learn.cover_inputs.COVERS` (softmax). The card travels inside
the file (metadata key ``weipian_card``) and beside it as
``model_card.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .cover_inputs import COVER_CHANNELS, COVER_GSD_RANGE, COVER_WORKING_GSD_M, COVERS
from .cover_train import load_cover_checkpoint
from .export import write_onnx_with_card

__all__ = ["export_cover_onnx", "COVER_FORMAT"]

#: The card's ``format`` of a land-cover model.
COVER_FORMAT = "weipian-cover-model/1"


class _Probabilities(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):  # noqa: D102
        return torch.softmax(self.net(image), 1)


def export_cover_onnx(checkpoint, path, *, card: dict | None = None) -> Path:
    """Export a land-cover checkpoint to ONNX (atomically), ``weights.pt`` and ``model_card.json`` beside it.

    Parameters
    ----------
    checkpoint : str or Path
        A ``.pt`` file written by :func:`weipian.learn.cover_train.train_cover`.
    path : str or Path
        The ``.onnx`` file to write.
    card : dict, optional
        Extra card fields (data, measured scores, licences).

    Returns
    -------
    pathlib.Path
    """
    from .cover_network import cover_flops_per_pixel
    from .network import count_parameters

    net, state = load_cover_checkpoint(checkpoint)
    full = {
        "format": COVER_FORMAT,
        "inputs": {"image": ["N", COVER_CHANNELS, "H", "W"]},
        "channels": ["red", "green", "blue", "log10_gsd_m"],
        "outputs": list(COVERS),
        "stride": 16,
        "tile": 256,
        "margin": 32,
        "working_gsd_m": COVER_WORKING_GSD_M,
        "gsd_range_m": list(COVER_GSD_RANGE),
        "required_bands": ["red", "green", "blue"],
        "widths": list(net.widths),
        "parameters": count_parameters(net),
        "flops_per_pixel": round(cover_flops_per_pixel(net)),
        "trained_steps": state["step"],
        "validation_mean_f1": state.get("best"),
    }
    full.update(card or {})
    path = write_onnx_with_card(_Probabilities(net), {"image": torch.zeros(1, COVER_CHANNELS, 320, 320)},
                                path, full)
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    wtmp = path.with_name("weights.pt.tmp")
    torch.save({"model": weights, "config": {"widths": list(net.widths)}, "step": state["step"]}, wtmp)
    os.replace(wtmp, path.with_name("weights.pt"))
    return path
