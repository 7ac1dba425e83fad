"""Thresholds chosen on many validation pairs across datasets, checked leave-one-dataset-out.

A threshold that suits one dataset is a defect: imagery a bureau runs comes
from other sensors and landscapes. :func:`calibrate` therefore

1. predicts every validation pair (several per dataset: 0.5 m LEVIR and
   Pakistani houses, 2 m DSIFN, 10 m Sentinel-2) and a set of synthetic
   seasonal pairs made from validation land-cover tiles (farmland where
   nothing was built, :mod:`weipian.learn.seasons`) at 1.6–12 m a pixel
   (:data:`CALIBRATION_SEASONAL_SETS`);
2. for each threshold of :data:`THRESHOLDS`, scores pixel F1 per dataset
   (each dataset counts once, however many pairs it has) and the share of
   the seasonal pairs flagged as construction;
3. keeps the threshold with the best mean F1 over datasets among those that
   flag at most :data:`FALSE_ALARM_BUDGET` of the seasonal pairs — pixels
   finer and coarser than 5 m apart, each against the seasonal pairs of its
   own pixel sizes, where both kinds are present (a house is many pixels at
   0.5 m and one at 10 m);
4. checks it leave-one-dataset-out: each dataset's F1 at the threshold chosen
   without it, beside its F1 at the pooled threshold.

Everything lands on the model card: ``thresholds``, ``f1_by_threshold`` (per
dataset), ``seasonal_flagged_by_threshold``, ``threshold_lodo``.
"""

from __future__ import annotations

import numpy as np

from .samples import LabelledPair

__all__ = ["THRESHOLDS", "FALSE_ALARM_BUDGET", "CALIBRATION_SEASONAL_SETS", "CALIBRATIONS", "calibrate",
           "calibration_seasonal_pairs", "choose_threshold", "seasonal_validation_pairs"]

#: Thresholds tried.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.951, 0.05))

#: Largest share of seasonal-pair pixels a chosen threshold may flag as construction.
FALSE_ALARM_BUDGET = 0.005

#: Pixel size (m) from which pairs are calibrated as coarse.
COARSE_GSD_M = 5.0


def _f1_table(pairs: list[LabelledPair], probs: list[np.ndarray], channel: int) -> dict[str, list[float]]:
    """Dataset -> mean pixel F1 at every threshold of :data:`THRESHOLDS`."""
    from .train import construction_truth, f1_at

    per_dataset: dict[str, list[list[float]]] = {}
    for pair, prob in zip(pairs, probs):
        truth = construction_truth(pair) if channel == 1 else pair.any_change
        per_dataset.setdefault(pair.dataset, []).append([f1_at(prob[channel], truth, t) for t in THRESHOLDS])
    return {d: [round(float(v), 4) for v in np.mean(rows, axis=0)] for d, rows in per_dataset.items()}


def choose_threshold(f1_by_dataset: dict[str, list[float]], flagged: list[float] | None = None, *,
                     budget: float = FALSE_ALARM_BUDGET, exclude: str | None = None) -> float:
    """The threshold with the best mean F1 over datasets whose false-alarm share is within ``budget``.

    Parameters
    ----------
    f1_by_dataset : dict
        Dataset -> F1 at each threshold of :data:`THRESHOLDS`.
    flagged : list of float, optional
        Share of seasonal-pair pixels flagged at each threshold.
    budget : float
        Largest flagged share allowed; where no threshold meets it, the one
        that flags least is taken.
    exclude : str, optional
        A dataset left out of the choice (leave-one-dataset-out check).

    Examples
    --------
    >>> rising = list(np.linspace(0, 1, len(THRESHOLDS)))
    >>> choose_threshold({"a": [0.2] * len(THRESHOLDS), "b": rising}) == THRESHOLDS[-1]
    True
    """
    rows = [v for d, v in f1_by_dataset.items() if d != exclude]
    mean = np.mean(rows, axis=0) if rows else np.zeros(len(THRESHOLDS))
    allowed = np.ones(len(THRESHOLDS), bool)
    if flagged is not None:
        allowed = np.asarray(flagged) <= budget
        if not allowed.any():
            return float(THRESHOLDS[int(np.argmin(flagged))])
    score = np.where(allowed, mean, -1.0)
    return float(THRESHOLDS[int(np.argmax(score))])


def seasonal_validation_pairs(tiles, *, count: int = 48, size: int = 128, seed: int = 7,
                              min_zoom: float = 1.0, made_on: str = "tile",
                              retexture_share: float = 0.0, max_zoom_out: float = 3.0) -> list[LabelledPair]:
    """Synthetic seasonal pairs (nothing built) from land-cover tiles, as labelled pairs.

    Parameters
    ----------
    tiles : list of LandCoverTile
        Validation (or held-out) tiles: never the training ones.
    count, size : int
        Number and side (pixels) of the pairs.
    seed : int
        Fixed, so that the same tiles give the same pairs.
    min_zoom : float
        Smallest zoom of the tile crops (:func:`weipian.learn.seasons.seasonal_crop`):
        below 1, the pairs also cover pixel sizes finer than the tiles' own.
    made_on : {"tile", "crop"}
        As :func:`weipian.learn.seasons.seasonal_example`.
    retexture_share : float
        Share of the changed fields that take another field's texture as well
        as its colour (:func:`weipian.learn.seasons.seasonal_pair`).
    max_zoom_out : float
        Largest zoom of the tile crops (1: never coarser than the tiles' own pixels).
    """
    from .seasons import ParcelBank, seasonal_example

    if not tiles:
        return []
    rng = np.random.default_rng(seed)
    bank = ParcelBank.from_tiles(tiles, per_tile=8, seed=seed)
    farm = [t for t in tiles if np.isin(t.cover, (1, 2, 3, 5, 6, 7)).mean() > 0.3] or list(tiles)
    out = []
    for k in range(count):
        tile = farm[k % len(farm)]
        before, after, any_c, cons, gsd = seasonal_example(tile, size, bank, rng, min_zoom=min_zoom,
                                                           max_zoom_out=max_zoom_out,
                                                           made_on=made_on, source=tile.name.split("/")[0],
                                                           retexture_share=retexture_share)
        out.append(LabelledPair(f"seasonal/{k}", "seasonal", before, after, False, gsd, any_c, cons))
    return out


#: The seasonal validation sets of :func:`calibrate`: (count, side in pixels, seed, smallest zoom).
#: The 128² crops of the ≈ 4 m tiles are 4–12 m a pixel (mostly the coarse group); the 256² and
#: 512² crops enlarge the tiles' pixels to 1.6–3.5 m, the sizes where the fine threshold applies
#: and where a harvested field is most often taken for a roof.
CALIBRATION_SEASONAL_SETS = ((48, 128, 7, 1.0), (24, 256, 8, 0.4), (24, 512, 9, 0.4))

#: Calibrations by name: seasonal sets and where their pairs are made. ``"0.4"`` is the calibration
#: of weipian 0.2–0.4 (48 pairs of 128², made on the resized crop), kept so that ``make model``
#: reproduces the shipped card's thresholds.
CALIBRATIONS = {"current": (CALIBRATION_SEASONAL_SETS, "tile"), "0.4": (((48, 128, 7, 1.0),), "crop")}


def calibration_seasonal_pairs(tiles, calibration: str = "current") -> list[LabelledPair]:
    """The seasonal pairs :func:`calibrate` holds its false-alarm budget on.

    Parameters
    ----------
    tiles : list of LandCoverTile
        Validation land-cover tiles (never training or held-out ones).
    calibration : str
        A key of :data:`CALIBRATIONS`.

    Returns
    -------
    list of LabelledPair
        The sets of :data:`CALIBRATION_SEASONAL_SETS`, named
        ``seasonal/<side>/<k>``; nothing built in any of them.
    """
    from dataclasses import replace

    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, not {calibration!r}")
    sets, made_on = CALIBRATIONS[calibration]
    out = []
    for count, size, seed, min_zoom in sets:
        for pair in seasonal_validation_pairs(tiles, count=count, size=size, seed=seed, min_zoom=min_zoom,
                                              made_on=made_on):
            out.append(replace(pair, name=pair.name.replace("seasonal/", f"seasonal/{size}/")))
    return out


def _flagged_share(probs: list[np.ndarray], pairs: list[LabelledPair], channel: int = 1) -> list[float]:
    """Share of known pixels of the seasonal pairs at or above each threshold."""
    values = np.concatenate([p[channel][pair.any_change != 255].ravel() for p, pair in zip(probs, pairs)])
    if values.size == 0:
        return [0.0] * len(THRESHOLDS)
    return [round(float((values >= t).mean()), 5) for t in THRESHOLDS]


def _choose(pairs, probs, flagged, channel: int) -> dict:
    """Pooled threshold, its F1 per dataset and the leave-one-dataset-out check, for one group."""
    table = _f1_table(pairs, probs, channel)
    pooled = choose_threshold(table, flagged)
    idx = THRESHOLDS.index(pooled)
    lodo = {}
    for dataset in table:
        if len(table) < 2:
            break
        t = choose_threshold(table, flagged, exclude=dataset)
        lodo[dataset] = {"threshold": t, "f1": table[dataset][THRESHOLDS.index(t)],
                         "f1_at_pooled": table[dataset][idx], "best_f1": max(table[dataset])}
    return {"threshold": pooled, "f1": {d: v[idx] for d, v in table.items()}, "table": table, "lodo": lodo}


def calibrate(checkpoint, val_pairs: list[LabelledPair], *, landcover=(), quality: str = "fast",
              calibration: str = "current") -> dict:
    """Calibrate the thresholds of a checkpoint; the model-card fields.

    Parameters
    ----------
    checkpoint : str or Path
        A ``.pt`` file written by :func:`weipian.learn.train.train`.
    val_pairs : list of LabelledPair
        The validation pairs (never test pairs).
    landcover : list of LandCoverTile, optional
        Validation land-cover tiles (``split="validation"`` of
        :func:`weipian.learn.landcover.load_landcover_folder`; never training
        or held-out ones): the seasonal pairs are made from them.
    quality : {"fast", "balanced", "accurate"}
    calibration : str
        Which seasonal pairs hold the budget (a key of :data:`CALIBRATIONS`).

    Returns
    -------
    dict
        ``thresholds`` (``any``, ``construction`` and, where coarse pairs
        exist, ``coarse``), ``validation_f1_at_thresholds``,
        ``validation_score`` (the mean over the pixel-size groups of the
        mean F1 over datasets at the chosen thresholds: what chooses a
        checkpoint), ``f1_by_threshold``, ``seasonal_flagged_by_threshold``,
        ``threshold_lodo``, ``false_alarm_budget``.
    """
    from .train import load_checkpoint, predict_pair

    net, _ = load_checkpoint(checkpoint)
    probs = [predict_pair(net, pair, quality=quality) for pair in val_pairs]
    seasonal = calibration_seasonal_pairs(list(landcover), calibration)
    season_probs = [predict_pair(net, pair, quality=quality) for pair in seasonal]
    fine = [k for k, p in enumerate(val_pairs) if p.gsd_m <= COARSE_GSD_M]
    coarse = [k for k, p in enumerate(val_pairs) if p.gsd_m > COARSE_GSD_M]
    groups = {"fine": fine or coarse}
    if fine and coarse:
        groups["coarse"] = coarse
    card = {"thresholds": {}, "validation_f1_at_thresholds": {},
            "f1_by_threshold": {"thresholds": list(THRESHOLDS)}, "threshold_lodo": {},
            "false_alarm_budget": FALSE_ALARM_BUDGET}
    flagged_by_group = {}
    for group, idx in groups.items():
        flagged = _group_flagged(seasonal, season_probs, group if len(groups) > 1 else None)
        flagged_by_group[group] = flagged
        sub_pairs, sub_probs = [val_pairs[k] for k in idx], [probs[k] for k in idx]
        cons = _choose(sub_pairs, sub_probs, flagged, channel=1)
        anyc = _choose(sub_pairs, sub_probs, None, channel=0)
        chosen = {"any": anyc["threshold"], "construction": cons["threshold"]}
        if group == "coarse":
            card["thresholds"]["coarse"] = {**chosen, "min_gsd_m": COARSE_GSD_M}
        else:
            card["thresholds"].update(chosen)
        card["validation_f1_at_thresholds"][group] = cons["f1"]
        card["f1_by_threshold"][group] = cons["table"]
        card["threshold_lodo"][group] = cons["lodo"]
    card["validation_score"] = round(float(np.mean(
        [np.mean(list(g.values())) for g in card["validation_f1_at_thresholds"].values()])), 4)
    if seasonal:
        card["seasonal_flagged_by_threshold"] = flagged_by_group
        card["seasonal_pairs"] = len(seasonal)
    return card


def _group_flagged(seasonal, season_probs, group: str | None) -> list[float] | None:
    """Flagged share of the seasonal pairs of one pixel-size group (all where the group has none)."""
    if not seasonal:
        return None
    if group is not None:
        keep = [k for k, p in enumerate(seasonal) if (p.gsd_m > COARSE_GSD_M) == (group == "coarse")]
        if keep:
            return _flagged_share([season_probs[k] for k in keep], [seasonal[k] for k in keep])
    return _flagged_share(season_probs, seasonal)
