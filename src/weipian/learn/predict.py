"""Whole-image change probabilities for a pair of files (for notebooks and inspection).

Detection (:func:`weipian.detect`) turns probabilities into patches window by
window; :func:`change_probabilities` returns the probability rasters
themselves, computed the same way (same pair model, same stretch, same tile
grid), for pairs small enough to hold in memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["change_probabilities"]


def change_probabilities(before, after, *, model=None, bands: str | None = None,
                         quality: str = "fast") -> dict:
    """Probabilities of any change and of construction over a whole pair.

    Parameters
    ----------
    before, after : str or Path
        The epochs (the after image is aligned onto the before grid).
    model : ChangeModel, str or Path, or None
        Default: the model shipped with weipian.
    bands : str, optional
        Band roles, as for :func:`weipian.detect`.
    quality : {"fast", "balanced", "accurate"}
        As ``ChangeParams.quality``: the model's working resolution (with
        four flips averaged in ``balanced``), or native resolution with four
        flips averaged.

    Returns
    -------
    dict
        ``any`` and ``construction``: (M, N) float32 arrays; ``valid``: (M, N)
        bool; ``transform``, ``crs``; ``rgb_before``, ``rgb_after``: (M, N, 3)
        uint8 quick-looks stretched as the network sees them.
    """
    from ..engine.pair_model import estimate_pair_model, shift_window
    from ..engine.tiles import Detector, change_probability
    from ..io import PairReader, PairSpec
    from ..schema import pixel_area_m2, scene_area_crs
    from .inputs import stretch
    from .model import load_model
    from .resolution import quality_flips

    net = load_model(model)
    with PairReader(PairSpec(str(before), str(after), bands)) as reader:
        acrs = scene_area_crs(reader.transform, reader.shape, reader.crs, source=str(reader.spec.before))
        gsd = float(np.sqrt(pixel_area_m2(reader.transform, reader.shape, reader.crs, acrs)))
        net = net.for_gsd(gsd)
        net.check(reader.roles, gsd, source=str(before))
        pair = estimate_pair_model(reader, workers=1)
        b, a, valid = reader.read()
        a, valid = shift_window(a, valid, pair)
        factor = net.factor_for(gsd, quality)
        detector = Detector(model=net, gsd_m=net.gsd_for_model(gsd, factor), factor=factor,
                            flips=quality_flips(quality))
        prob = change_probability(b, a, reader.roles, pair, detector, None)
        rgb = [reader.roles[r] for r in ("red", "green", "blue")]

        def quicklook(image, levels):
            out = stretch(image[rgb], np.asarray(levels)[rgb])
            return (np.clip(out, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)

        return {"any": prob[0], "construction": prob[1], "valid": valid, "transform": reader.transform,
                "crs": reader.crs, "rgb_before": quicklook(b, pair.levels_before),
                "rgb_after": quicklook(a, pair.levels_after)}
