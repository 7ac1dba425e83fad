"""The per-scene plausibility guard: a flagged share no quarter's construction could cover.

New construction in one quarter covers a small share of a district — a
fraction of a percent in farmland counties, a few percent in a county seat
that is building a new town. When detection flags far more, the patches are
not construction: the epochs differ in season, are misregistered, hazy, or
the imagery is unlike anything the change model learned. The guard says so
in the log, in ``run.json`` (``guard``) and in the report, naming the likely
causes it can see in the pair model, so that an analyst does not send crews
to a scene full of harvested fields.

Pure functions: numbers in, a finding out.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["PLAUSIBLE_SHARE", "MIN_AREA_M2", "plausibility", "likely_causes"]

#: Largest share of the clear (valid, unobscured) area one batch's new construction plausibly covers.
PLAUSIBLE_SHARE = 0.03

#: Smallest clear area (m²) the guard judges: below it one large building already exceeds the share.
MIN_AREA_M2 = 100_000.0


def likely_causes(*, shift_px=(0.0, 0.0), max_shift_px: float = 8.0, invariant_share: float | None = None,
                  levels_before=(), levels_after=(), dates=None) -> list[str]:
    """Causes of a false-alarm flood that the pair model shows, likeliest first.

    Parameters
    ----------
    shift_px : (float, float)
        Estimated (dy, dx) shift of the after epoch, pixels.
    max_shift_px : float
        The shift search bound: a shift at the bound is likely wrong.
    invariant_share : float, optional
        Share of sampled pixels the radiometric normalisation found unchanged.
    levels_before, levels_after : sequence of (low, high)
        Each epoch's robust levels per band (2nd and 98th percentiles), in
        each file's own units; contrast is compared as ``(high - low) / (high
        + low)``, which does not depend on the bit depth or scale.
    dates : dict, optional
        ``before`` and ``after`` dates.

    Returns
    -------
    list of str
        Short reasons, e.g. ``"season: 2023-12-05 → 2024-06-20 (6 months apart, other seasons)"``;
        ``["unfamiliar imagery for the change model"]`` where nothing else shows.

    Examples
    --------
    >>> likely_causes(shift_px=(7.9, 0.0))[0].startswith("registration")
    True
    """
    causes = []
    dy, dx = (float(v) for v in shift_px)
    if max(abs(dy), abs(dx)) >= 0.9 * max_shift_px:
        causes.append(f"registration: the estimated shift ({dy:+.1f}, {dx:+.1f}) px is at the search bound; "
                      "co-register the epochs")
    if invariant_share is not None and invariant_share < 0.3:
        causes.append(f"registration or a different scene: only {invariant_share:.0%} of sampled pixels "
                      "look unchanged between the epochs")
    if levels_before and levels_after:
        contrast_b = _relative_contrast(levels_before)
        contrast_a = _relative_contrast(levels_after)
        if contrast_b > 0 and contrast_a > 0:
            ratio = contrast_a / contrast_b
            if ratio < 0.6 or ratio > 1 / 0.6:
                hazy = "after" if ratio < 1 else "before"
                causes.append(f"haze or thin cloud: the {hazy} epoch has {min(ratio, 1 / ratio):.0%} of the "
                              "other's contrast")
    season = _season_gap(dates)
    if season:
        causes.append(season)
    return causes or ["unfamiliar imagery for the change model (no sign of season, registration or haze)"]


def _relative_contrast(levels) -> float:
    """Mean over bands of ``(high - low) / (high + low)``: contrast free of the scale of the values."""
    values = [(hi - lo) / (hi + lo) for lo, hi in levels if hi + lo > 0]
    return sum(values) / len(values) if values else 0.0


def _season_gap(dates) -> str | None:
    if not dates or not dates.get("before") or not dates.get("after"):
        return None
    before, after = (d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])
                     for d in (dates["before"], dates["after"]))
    months = abs((after.year - before.year) * 12 + after.month - before.month)
    phase = min(months % 12, 12 - months % 12)  # how far apart in the year
    if phase >= 3:
        return (f"season: {before.isoformat()} → {after.isoformat()} ({months} months apart, other seasons); "
                "crops, water levels and leaves differ")
    return None


def plausibility(flagged_pixels: int, clear_pixels: int, *, limit: float = PLAUSIBLE_SHARE,
                 pixel_m2: float | None = None, **evidence) -> dict:
    """Whether a scene's flagged share is plausible for one batch of new construction.

    Parameters
    ----------
    flagged_pixels, clear_pixels : int
        Pixels flagged as construction, and valid pixels not obscured.
    limit : float
        Largest plausible share (:data:`PLAUSIBLE_SHARE`).
    pixel_m2 : float, optional
        Pixel area; a clear area under :data:`MIN_AREA_M2` is not judged
        (``plausible`` True, ``judged`` False).
    **evidence
        Passed to :func:`likely_causes`.

    Returns
    -------
    dict
        ``flagged_share``, ``limit``, ``plausible`` (bool), ``judged`` (bool)
        and, where not plausible, ``causes`` and ``message``.

    Examples
    --------
    >>> plausibility(10, 1000)["plausible"]
    True
    >>> plausibility(200, 1000)["plausible"]
    False
    """
    share = float(flagged_pixels) / max(1, int(clear_pixels))
    judged = pixel_m2 is None or clear_pixels * pixel_m2 >= MIN_AREA_M2
    out = {"flagged_share": round(share, 5), "limit": limit, "plausible": share <= limit or not judged,
           "judged": judged}
    if not out["plausible"]:
        causes = likely_causes(**evidence)
        out["causes"] = causes
        out["message"] = (f"{share:.1%} of the clear scene is flagged as new construction, more than one "
                          f"batch plausibly covers ({limit:.0%}); the patches are likely not construction. "
                          f"Likely causes: {'; '.join(causes)}")
    return out
