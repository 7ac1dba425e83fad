"""Clouds and cloud shadows: pure array functions.

A cloud is bright, spectrally flat (white or grey in every band, nir
included) and *extensive*: a pixel is cloud when most pixels of the
neighbourhood around it are bright and flat, which separates cloud banks
from white roofs, whose interiors are small. Shadows are the same for dark
pixels that are not water. Both masks are grown by a buffer, because cloud
edges are thin and semi-transparent. Every operation is local, with a reach
below the tiling halo, so windowed and whole-image results agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["CloudParams", "cloud_masks"]


@dataclass(frozen=True)
class CloudParams:
    """Settings of the cloud and shadow detector (relative units).

    Parameters
    ----------
    bright : float
        Cloud pixels are brighter than this multiple of the scene's typical
        brightness (median band mean).
    flatness : float
        Largest ratio between any two bands of a cloud pixel.
    dark : float
        Shadow pixels are darker than this multiple of the scene brightness.
    radius_m : float
        Half-side (metres) of the neighbourhood that must be mostly cloud (or
        shadow): bright or dark objects smaller than about twice this — roofs
        — are never masked.
    share : float
        Share of that neighbourhood that must be candidate pixels.
    buffer_m : float
        Metres added around each mask.
    """

    bright: float = 2.2
    flatness: float = 1.35
    dark: float = 0.45
    radius_m: float = 30.0
    share: float = 0.6
    buffer_m: float = 20.0

    def pixels(self, resolution_m: float) -> tuple[int, int]:
        """``(radius, buffer)`` in pixels at ``resolution_m`` metres per pixel."""
        res = max(float(resolution_m), 1e-6)
        return max(1, int(np.ceil(self.radius_m / res))), max(0, int(np.ceil(self.buffer_m / res)))

    def reach(self, resolution_m: float) -> int:
        """How far (pixels) the masks depend on neighbours: the halo they need."""
        r, b = self.pixels(resolution_m)
        return r + b


def _box_share(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    k = 2 * radius + 1
    return cv2.boxFilter(mask.astype(np.float32), -1, (k, k), normalize=True,
                         borderType=cv2.BORDER_REFLECT)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow a mask by a disc of ``radius`` pixels (Euclidean distance transform, O(n))."""
    import cv2

    if radius <= 0 or not mask.any():
        return mask
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= radius


def cloud_masks(
    image: np.ndarray,
    roles: Mapping[str, int],
    brightness: float,
    *,
    valid: np.ndarray | None = None,
    params: CloudParams = CloudParams(),
    resolution_m: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cloud and shadow masks of one epoch.

    Parameters
    ----------
    image : (B, M, N) ndarray
        One epoch (any radiometric scale shared by its bands).
    roles : mapping
        Band role to index.
    brightness : float
        The scene's typical brightness (median band mean) on the same scale.
    valid : (M, N) ndarray of bool, optional
    params : CloudParams
    resolution_m : float
        Pixel size, metres.

    Returns
    -------
    cloud, shadow : (M, N) ndarray of bool
        Without a near-infrared band no shadow is masked: in visible bands
        alone, the shade of trees and buildings, dark roofs and water are as
        dark as cloud shadow (in cloudless suburbs that mask took a third of
        the image).

    Examples
    --------
    >>> img = np.full((3, 200, 200), 100.0); img[:, 10:90, 10:90] = 400.0
    >>> img[:, 170:182, 170:182] = 400.0  # a 12 m white roof
    >>> cloud, shadow = cloud_masks(img, {"red": 0, "green": 1, "blue": 2}, 100.0)
    >>> bool(cloud[50, 50]), bool(cloud[176, 176])
    (True, False)
    """
    data = image.astype(np.float32, copy=False)
    mean = data.mean(axis=0)
    high = data.max(axis=0)
    low = np.maximum(data.min(axis=0), np.float32(1e-6))
    flat = high <= np.float32(params.flatness) * low
    ok = np.ones(mean.shape, bool) if valid is None else valid
    candidate = ok & flat & (mean > np.float32(params.bright * brightness))
    radius, buffer = params.pixels(resolution_m)
    cloud = candidate & (_box_share(candidate, radius) >= params.share) if candidate.any() else candidate
    if "nir" in roles:  # water is dark too, but reflects least in the nir
        dark = ok & (mean < np.float32(params.dark * brightness))
        nir, green = data[roles["nir"]], data[roles["green"]]
        dark &= nir >= np.float32(0.8) * green
    else:  # without nir, shade of trees and buildings, dark roofs and water look like cloud shadow
        dark = np.zeros(mean.shape, bool)
    shadow = dark & (_box_share(dark, radius) >= params.share) if dark.any() else dark
    # a whole blob, not only its core: grow back over the neighbourhood and the buffer
    grow = radius + buffer
    return _dilate(cloud, grow), _dilate(shadow, grow)
