"""The classical per-pixel change core.

Significance in noise units, then built-surface tests, then morphology.

:func:`detect_change` runs the steps on one window; ``CHANGE_TARGETS`` maps
``construction`` and ``any`` to their flag rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .difference import change_magnitude, smooth
from .morphology import clean_mask, grow_mask
from .params import ChangeParams
from .radiometry import scene_brightness
from .surface import _target_any, _target_construction

__all__ = ["ChangeResult", "CHANGE_TARGETS", "detect_change"]


@dataclass
class ChangeResult:
    """What :func:`detect_change` returns.

    Attributes
    ----------
    mask : (M, N) ndarray of bool
        Flagged pixels after cleaning.
    magnitude : (M, N) ndarray of float32
        Change magnitude in robust noise units (0 where invalid).
    noise : (B,) ndarray of float
        Robust spread of the per-band difference, used as the unit.
    details : dict
        Intermediate boolean layers (``significant``, ``built_before``,
        ``built_after``) for inspection.
    """

    mask: np.ndarray
    magnitude: np.ndarray
    noise: np.ndarray
    details: dict = field(default_factory=dict)


#: Change targets: name -> function(before, after, roles, significant, params)
#: returning ``(flags, details)``.
CHANGE_TARGETS: dict[str, Callable] = {
    "construction": _target_construction,
    "any": _target_any,
}


def detect_change(
    before: np.ndarray,
    after: np.ndarray,
    roles: Mapping[str, int],
    *,
    valid: np.ndarray | None = None,
    target: str | Callable = "construction",
    params: ChangeParams = ChangeParams(),
    noise: np.ndarray | None = None,
) -> ChangeResult:
    """Flag changed pixels between two normalised, co-registered epochs.

    Parameters
    ----------
    before, after : (B, M, N) ndarray
        Same grid, same radiometric scale (see :func:`apply_normalisation`).
    roles : mapping
        Band role to index.
    valid : (M, N) ndarray of bool, optional
        Pixels with data in both epochs (default: all).
    target : str or callable
        A key of :data:`CHANGE_TARGETS` or a callable with the same signature.
    params : ChangeParams
    noise : (B,) ndarray, optional
        Per-band noise spreads of the smoothed difference; estimated from
        these arrays when not given.

    Returns
    -------
    ChangeResult

    Raises
    ------
    ValueError
        If ``target`` is not known.
    """
    if valid is None:
        valid = np.ones(before.shape[1:], bool)
    if callable(target):
        rule = target
    elif target in CHANGE_TARGETS:
        rule = CHANGE_TARGETS[target]
    else:
        raise ValueError(
            f"target was {target!r} but is expected to be one of {list(CHANGE_TARGETS)} or callable"
        )
    if params.water_max_brightness is None and valid.any():
        params = replace(params, water_max_brightness=scene_brightness(before, valid))
    b = smooth(before, params.smooth_sigma)
    a = smooth(after, params.smooth_sigma)
    magnitude, noise = change_magnitude(b, a, valid, noise=noise)
    significant = (magnitude > params.min_magnitude) & valid
    flags, details = rule(b, a, roles, significant, params)
    mask = clean_mask(flags, open_radius=params.open_radius, close_radius=params.close_radius)
    grow_radius = int(np.ceil(params.smooth_sigma))
    allowed = (magnitude > params.grow_magnitude) & details.pop("growable", True)
    mask = grow_mask(mask, allowed & valid, grow_radius) & valid
    details["significant"] = significant
    return ChangeResult(mask=mask, magnitude=magnitude, noise=noise, details=details)
