"""The land-cover network for farmland parcels (needs PyTorch).

``forward(image)`` on one epoch's ``(N, 4, H, W)`` input channels (red,
green, blue stretched by the image's own levels, and the resolution code;
see :func:`weipian.learn.cover_inputs.cover_channels`) returns
``(N, K, H, W)`` logits over :data:`weipian.learn.cover_inputs.COVERS`.

The design follows :class:`weipian.learn.network.LeanChangeNet` for one
epoch: a stride-2 stem, depthwise-separable blocks down to 1/16 of the
input, a decoder with skips that predicts at 1/2 resolution, upsampled
bilinearly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .cover_inputs import COVER_CHANNELS, COVERS
from .network import _SeparableBlock, flops_per_pixel

__all__ = ["LeanCoverNet", "build_cover_network", "cover_flops_per_pixel", "DEFAULT_COVER_WIDTHS"]

#: Feature widths at 1/2, 1/4, 1/8 and 1/16 of the input resolution.
DEFAULT_COVER_WIDTHS = (24, 48, 96, 128)


class LeanCoverNet(nn.Module):
    """Single-epoch segmentation network with a stride-2 stem and separable blocks.

    Parameters
    ----------
    in_channels : int
        Input channels (see :data:`weipian.learn.cover_inputs.COVER_CHANNELS`).
    classes : int
        Output classes.
    widths : tuple of int
        Feature widths at 1/2, 1/4, 1/8 and 1/16 of the input resolution.

    Notes
    -----
    Input sides must be multiples of 16.
    """

    def __init__(
        self,
        in_channels: int = COVER_CHANNELS,
        classes: int = len(COVERS),
        widths: tuple = DEFAULT_COVER_WIDTHS,
    ):
        super().__init__()
        self.widths = tuple(widths)
        w = self.widths
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, w[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(inplace=True),
            _SeparableBlock(w[0], w[0]),
        )
        self.down = nn.ModuleList(
            [
                nn.Sequential(_SeparableBlock(w[i - 1], w[i], stride=2), _SeparableBlock(w[i], w[i]))
                for i in range(1, len(w))
            ]
        )
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(w[-1], w[-1], 1), nn.Sigmoid())
        self.dec = nn.ModuleList(
            [_SeparableBlock(w[i] + w[i - 1], w[i - 1]) for i in range(len(w) - 1, 0, -1)]
        )
        self.head = nn.Conv2d(w[0], classes, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # noqa: D102
        feats = [self.stem(image)]
        for block in self.down:
            feats.append(block(feats[-1]))
        x = feats[-1] * self.context(feats[-1])  # a tile's overall character weighs its features
        for k, dec in enumerate(self.dec):
            skip = feats[len(feats) - 2 - k]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        logits = self.head(x)
        return F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)


def build_cover_network(widths=None, classes: int = len(COVERS)) -> LeanCoverNet:
    """A land-cover network (default widths :data:`DEFAULT_COVER_WIDTHS`)."""
    return LeanCoverNet(COVER_CHANNELS, classes, tuple(widths or DEFAULT_COVER_WIDTHS))


def cover_flops_per_pixel(model: nn.Module, side: int = 256) -> float:
    """Floating-point operations per input pixel: :func:`.network.flops_per_pixel` of one epoch."""
    return flops_per_pixel(model, side, COVER_CHANNELS, epochs=1)
