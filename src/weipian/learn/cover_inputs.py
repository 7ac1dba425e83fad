"""The land-cover model's classes and input channels (pure numpy).

The network labels each pixel with one of :data:`COVERS`, the classes of
:data:`weipian.learn.landcover.COVER_CLASSES` that the training tiles hold
(``bare`` is not among them: LoveDA's barren class has no pixel in the
shared tiles and GID-15 has none; see :mod:`weipian.farmland.covers` for how
bare ground is judged). Its input is one epoch as four channels: red, green
and blue stretched by the image's own 2nd–98th percentiles, and the pixel
size as ``log10(metres)``. Finer imagery is averaged toward
:data:`COVER_WORKING_GSD_M` first (the Gaofen-2 tiles it learnt from are
about 4 m).
"""

from __future__ import annotations

import numpy as np

from .inputs import gsd_code

__all__ = [
    "COVERS",
    "COVER_CHANNELS",
    "COVER_WORKING_GSD_M",
    "COVER_GSD_RANGE",
    "cover_channels",
    "cover_factor",
    "NO_COVER",
]

#: Classes of the land-cover network, in output order.
COVERS = ("built", "paddy", "crop", "garden", "forest", "grass", "water")

#: Input channels: red, green, blue, resolution code.
COVER_CHANNELS = 4

#: Pixel size (m) finer imagery is averaged toward before the network.
COVER_WORKING_GSD_M = 4.0

#: Pixel sizes (m) seen in training.
COVER_GSD_RANGE = (2.0, 8.0)

#: Class value of pixels without a cover (no data, cloud) in class maps.
NO_COVER = 255


def cover_factor(gsd_m: float, working_gsd_m: float = COVER_WORKING_GSD_M, max_factor: int = 8) -> int:
    """The averaging factor toward the land-cover working size (see :func:`.resolution.working_factor`).

    Examples
    --------
    >>> [cover_factor(g) for g in (0.3, 0.5, 0.8, 1.0, 2.0, 4.0, 10.0)]
    [8, 8, 4, 4, 2, 1, 1]
    """
    from .resolution import working_factor

    return working_factor(gsd_m, working_gsd_m, max_factor=max_factor)


def cover_channels(rgb: np.ndarray, gsd_m: float) -> np.ndarray:
    """One epoch as the network's input channels.

    Parameters
    ----------
    rgb : (3, M, N) ndarray of float32
        Red, green, blue, each stretched to about 0–1 by the whole image's
        robust levels (:func:`weipian.learn.inputs.model_bands`).
    gsd_m : float
        Pixel size of ``rgb`` in metres (after any averaging).

    Returns
    -------
    (4, M, N) ndarray of float32
    """
    out = np.empty((COVER_CHANNELS,) + rgb.shape[1:], np.float32)
    out[:3] = rgb
    out[3] = gsd_code(gsd_m)
    return out
