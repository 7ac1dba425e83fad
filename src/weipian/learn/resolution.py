"""The network's working resolution and test-time flips, around any model callable (pure numpy).

Imagery finer than the model's working pixel size (about 1 m) is averaged
down by a whole factor before the network and the probabilities are
interpolated back: a 50 m² minimum mapping unit is still 50 pixels at 1 m,
and the network costs a quarter as much on 0.25–0.6 m input (the change
model averages by at most 2: :data:`CHANGE_MAX_FACTOR`). Each tile of
:func:`weipian.learn.tiling.predict_tiled` is scaled on its own, on the
fixed tile grid, so the result still does not depend on how a caller
windows the image.

``quality="balanced"`` averages the network over the four flips of each
tile (test-time augmentation) at the working resolution; ``"accurate"``
does so at the imagery's own resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["QUALITIES", "quality_flips", "quality_native", "CHANGE_MAX_FACTOR", "working_factor",
           "block_mean", "scaled_runner"]

#: Settings of :func:`scaled_runner`: ``fast`` (working resolution, one pass), ``balanced``
#: (working resolution, four flips averaged) or ``accurate`` (native resolution, four flips).
QUALITIES = ("fast", "balanced", "accurate")


def quality_flips(quality: str) -> bool:
    """Whether ``quality`` averages the network over the four flips of each tile."""
    return quality in ("balanced", "accurate")


def quality_native(quality: str) -> bool:
    """Whether ``quality`` runs the network at the imagery's own resolution (no averaging)."""
    return quality == "accurate"


#: The change model's largest averaging factor. Averaging 0.3 m imagery by 4 (to 1.2 m) lost the
#: held-out WHU-CD half entirely (pixel F1 0.000, against 0.365 averaged by 2 and 0.434 native, with
#: the same weights: ``benchmarks/real.py``), so imagery at 0.25–0.3 m is averaged by 2 only.
CHANGE_MAX_FACTOR = 2


def working_factor(gsd_m: float, working_gsd_m: float | None = 1.0, *,
                   max_factor: int = CHANGE_MAX_FACTOR) -> int:
    """The averaging factor (a power of two up to ``max_factor``) toward the working pixel size.

    Factors are powers of two so that tiles stay multiples of the network
    stride; the factor never makes pixels coarser than 1.25 × the working size.

    Examples
    --------
    >>> [working_factor(g) for g in (0.25, 0.3, 0.5, 0.8, 2.0)]
    [2, 2, 2, 1, 1]
    >>> working_factor(0.25, max_factor=4)
    4
    """
    if not working_gsd_m or gsd_m <= 0:
        return 1
    factor = 1
    while factor < max_factor and gsd_m * factor * 2 <= 1.25 * working_gsd_m:
        factor *= 2
    return factor


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Average ``(..., H, W)`` over ``factor`` × ``factor`` blocks (H and W multiples of it)."""
    if factor == 1:
        return x
    *lead, h, w = x.shape
    return x.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1), dtype=np.float32)


def _upsample(prob: np.ndarray, factor: int) -> np.ndarray:
    """``(n, K, h, w)`` probabilities interpolated (bilinear, pixel centres) to ``factor`` × the size."""
    if factor == 1:
        return prob
    n, k, h, w = prob.shape
    flat = prob.reshape(n * k, h, w)
    up = np.stack([cv2.resize(p, (w * factor, h * factor), interpolation=cv2.INTER_LINEAR) for p in flat])
    return up.reshape(n, k, h * factor, w * factor)


def _flips(x: np.ndarray):
    return (x, x[..., ::-1], x[..., ::-1, :], x[..., ::-1, ::-1])


def scaled_runner(run: Callable[[np.ndarray, np.ndarray], np.ndarray], *, factor: int = 1,
                  flips: bool = False) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Wrap a model callable so that it runs at 1/``factor`` resolution, optionally over four flips.

    Parameters
    ----------
    run : callable
        ``run(before, after)`` on ``(n, C, S, S)`` float32 arrays returns
        ``(n, K, S, S)`` probabilities.
    factor : int
        Averaging factor (see :func:`working_factor`); ``S`` must be a
        multiple of ``factor`` × the network stride.
    flips : bool
        Average the probabilities of the identity, horizontal, vertical and
        both flips.

    Returns
    -------
    callable
        The same contract as ``run``.
    """
    def scaled(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        xb, xa = block_mean(before, factor), block_mean(after, factor)
        if flips:
            total = None
            for k, (fb, fa) in enumerate(zip(_flips(xb), _flips(xa))):
                p = run(np.ascontiguousarray(fb), np.ascontiguousarray(fa))
                p = _flips(p)[k]  # each flip is its own inverse
                total = p if total is None else total + p
            prob = total / 4.0
        else:
            prob = run(xb, xa)
        return _upsample(np.ascontiguousarray(prob, dtype=np.float32), factor)

    return scaled
