"""The change networks (need PyTorch).

Two designs share one contract: ``forward(before, after)`` on two
``(N, C, H, W)`` tensors returns ``(N, 2, H, W)`` logits of *any change* and
of *change to built-up* (construction, directional: not built before, built
after).

- :class:`LeanChangeNet` (``"lean"``, the default since 0.2): a stride-2 stem
  and depthwise-separable blocks, a shared encoder down to 1/16, and a
  decoder that fuses both epochs' features (not only their difference, so
  the direction of a change is learnable) and predicts at 1/2 resolution,
  upsampled bilinearly. About 0.18 M parameters and 13 kFLOP per input pixel.
- :class:`SiameseUNet` (``"unet"``, the 0.1 design): full-resolution U-Net,
  about 1 M parameters and 120 kFLOP per pixel.

:data:`ARCHITECTURES` maps the names kept in checkpoints and model cards to
the classes; :func:`build_network` makes one.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .inputs import CHANNELS
from .network_outputs import OUTPUTS

__all__ = ["SiameseUNet", "LeanChangeNet", "ARCHITECTURES", "build_network", "count_parameters",
           "flops_per_pixel", "OUTPUTS", "STRIDE"]

#: Input sides must be multiples of this (the lean network's four 2× steps; the U-Net needs 8).
STRIDE = 16


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


class _SeparableBlock(nn.Sequential):
    """Depthwise 3×3 (stride 1 or 2) then pointwise 1×1, each with batch norm and ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


def _fuse(width: int) -> nn.Sequential:
    """Both epochs' features and their absolute difference (3 × width) fused to width by a 1×1 conv."""
    return nn.Sequential(nn.Conv2d(3 * width, width, 1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True))


class LeanChangeNet(nn.Module):
    """Siamese change network with a stride-2 stem and depthwise-separable blocks.

    Parameters
    ----------
    in_channels : int
        Channels per epoch (see :mod:`weipian.learn.inputs`).
    widths : tuple of int
        Feature widths at 1/2, 1/4, 1/8 and 1/16 of the input resolution.

    Notes
    -----
    ``forward(before, after)`` takes two ``(N, C, H, W)`` float tensors with
    ``H`` and ``W`` multiples of :data:`STRIDE` and returns ``(N, 2, H, W)``
    logits (channels :data:`OUTPUTS`). The encoder is shared by both epochs;
    at every scale the epochs' features are fused with their difference, and
    the decoder predicts at 1/2 resolution.
    """

    def __init__(self, in_channels: int = CHANNELS, widths: tuple = (32, 48, 96, 128)):
        super().__init__()
        self.widths = tuple(widths)
        w = self.widths
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w[0], 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True), _SeparableBlock(w[0], w[0]))
        self.down = nn.ModuleList([nn.Sequential(_SeparableBlock(w[i - 1], w[i], stride=2),
                                                 _SeparableBlock(w[i], w[i])) for i in range(1, len(w))])
        self.fuse = nn.ModuleList([_fuse(width) for width in w])
        self.dec = nn.ModuleList([_SeparableBlock(w[i] + w[i - 1], w[i - 1])
                                  for i in range(len(w) - 1, 0, -1)])
        self.head = nn.Conv2d(w[0], len(OUTPUTS), 1)

    def _encode(self, x):
        feats = [self.stem(x)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return feats

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:  # noqa: D102
        fb, fa = self._encode(before), self._encode(after)
        fused = [f(torch.cat([a, b, torch.abs(a - b)], 1)) for f, a, b in zip(self.fuse, fa, fb)]
        x = fused[-1]
        for k, dec in enumerate(self.dec):
            skip = fused[len(fused) - 2 - k]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        logits = self.head(x)
        return F.interpolate(logits, size=before.shape[-2:], mode="bilinear", align_corners=False)


#: Network designs by the name kept in checkpoints (``config["arch"]``) and model cards.
ARCHITECTURES = {"lean": LeanChangeNet, "unet": SiameseUNet}

#: Default widths of each design.
DEFAULT_WIDTHS = {"lean": (32, 48, 96, 128), "unet": (16, 32, 64, 128)}


def build_network(arch: str = "lean", widths=None, in_channels: int = CHANNELS) -> nn.Module:
    """A change network of design ``arch`` (see :data:`ARCHITECTURES`).

    Raises
    ------
    ValueError
        If ``arch`` is not a known design.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch was {arch!r} but is expected to be one of {', '.join(ARCHITECTURES)}")
    net = ARCHITECTURES[arch](in_channels, tuple(widths or DEFAULT_WIDTHS[arch]))
    net.arch = arch
    return net


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def flops_per_pixel(model: nn.Module, side: int = 256, in_channels: int = CHANNELS, epochs: int = 2) -> float:
    """Floating-point operations (2 × multiply-adds of convolutions) per input pixel.

    ``epochs`` is how many ``(1, in_channels, side, side)`` inputs ``model``
    takes: 2 for the change networks, 1 for the land-cover network.

    Counted on one ``side`` × ``side`` pair by hooks on every convolution;
    batch norm, activations and resampling are not counted (a few percent).
    """
    total = [0]

    def hook(module, inputs, output):
        kh, kw = module.kernel_size
        macs = output.numel() * kh * kw * module.in_channels // module.groups
        total[0] += macs

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, in_channels, side, side)
            model(*[x] * epochs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return 2.0 * total[0] / (side * side)
