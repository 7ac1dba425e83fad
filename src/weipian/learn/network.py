"""The change network: a small Siamese U-Net (needs PyTorch).

Both epochs go through one shared encoder; at every scale the decoder sees
the absolute difference of the two epochs' features and the after epoch's
features (so it can tell a new roof from a demolished one). Two outputs per
pixel: logits of *any change* and of *change to built-up* (construction).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .inputs import CHANNELS
from .network_outputs import OUTPUTS

__all__ = ["SiameseUNet", "OUTPUTS", "STRIDE"]

#: Input sides must be multiples of this (three 2× poolings).
STRIDE = 8


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class SiameseUNet(nn.Module):
    """Siamese U-Net with difference skips.

    Parameters
    ----------
    in_channels : int
        Channels per epoch (see :mod:`weipian.learn.inputs`).
    widths : tuple of int
        Feature widths of the four encoder levels.

    Notes
    -----
    ``forward(before, after)`` takes two ``(N, C, H, W)`` float tensors with
    ``H`` and ``W`` multiples of :data:`STRIDE` and returns ``(N, 2, H, W)``
    logits (channels :data:`OUTPUTS`).
    """

    def __init__(self, in_channels: int = CHANNELS, widths: tuple = (16, 32, 64, 128)):
        super().__init__()
        self.widths = tuple(widths)
        w = self.widths
        self.enc = nn.ModuleList([_block(in_channels, w[0])] +
                                 [_block(w[i - 1], w[i]) for i in range(1, len(w))])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i], w[i - 1], 2, stride=2)
                                 for i in range(len(w) - 1, 0, -1)])
        # decoder level i sees: upsampled (w[i-1]) + |diff| (w[i-1]) + after (w[i-1])
        self.dec = nn.ModuleList([_block(3 * w[i - 1], w[i - 1]) for i in range(len(w) - 1, 0, -1)])
        self.bottom = _block(2 * w[-1], w[-1])
        self.head = nn.Conv2d(w[0], len(OUTPUTS), 1)

    def _encode(self, x):
        feats = []
        for i, block in enumerate(self.enc):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            feats.append(x)
        return feats

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:  # noqa: D102
        fb, fa = self._encode(before), self._encode(after)
        x = self.bottom(torch.cat([torch.abs(fa[-1] - fb[-1]), fa[-1]], 1))
        for k, (up, dec) in enumerate(zip(self.up, self.dec)):
            level = len(fb) - 2 - k
            x = up(x)
            x = dec(torch.cat([x, torch.abs(fa[level] - fb[level]), fa[level]], 1))
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
