"""Random training batches from real pairs and synthetic pairs (pure numpy).

Each example is either a crop of a real labelled pair (after-epoch
nuisances added, epochs exchanged at random, NIR dropped at random so the
network works with and without it) or a synthetic pair made from a real
image (:func:`weipian.learn.augment.synthetic_pair`). Datasets are drawn
with equal weight, whatever their size, so 26 LEVIR tiles do not drown 8
Sentinel-2 cities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import exchange, nuisance, rescaled_crop, synthetic_pair
from .inputs import CHANNELS, gsd_code
from .samples import BuildingTile, LabelledPair

__all__ = ["BatchSampler"]


@dataclass
class BatchSampler:
    """Draws ``(before, after, target)`` batches.

    Attributes
    ----------
    pairs : list of LabelledPair
    buildings : list of BuildingTile
        Footprint sources for synthetic construction (may be empty).
    size : int
        Crop side in pixels (a multiple of 8).
    synthetic_share : float
        Share of examples that are synthetic pairs.
    weights : dict, optional
        Relative weight per dataset (default: equal).
    """

    pairs: list[LabelledPair]
    buildings: list[BuildingTile]
    size: int = 128
    synthetic_share: float = 0.25
    weights: dict | None = None

    def __post_init__(self):
        self.datasets = sorted({p.dataset for p in self.pairs})
        w = np.array([(self.weights or {}).get(d, 1.0) for d in self.datasets], float)
        self._p = w / w.sum()
        self._by_dataset = {d: [p for p in self.pairs if p.dataset == d] for d in self.datasets}

    def example(self, rng: np.random.Generator):
        """One example: (before (6,S,S), after (6,S,S), target (2,S,S) uint8)."""
        dataset = self.datasets[int(rng.choice(len(self.datasets), p=self._p))]
        pair = self._by_dataset[dataset][int(rng.integers(len(self._by_dataset[dataset])))]
        has_nir = pair.has_nir and rng.random() < 0.6
        if rng.random() < self.synthetic_share:
            source = pair.before if rng.random() < 0.5 else pair.after
            fake = LabelledPair(pair.name, pair.dataset, source, source, pair.has_nir, pair.gsd_m,
                                np.zeros(pair.any_change.shape, np.uint8),
                                np.zeros(pair.any_change.shape, np.uint8))
            image, _, _, _, gsd = rescaled_crop(fake, self.size, rng)
            before, after, any_c, cons = synthetic_pair(image, gsd, self.buildings, rng, has_nir=has_nir)
        else:
            before, after, any_c, cons, gsd = rescaled_crop(pair, self.size, rng)
            after = nuisance(after, rng, has_nir=has_nir, strength=0.5)
            if rng.random() < 0.2:
                before, after, any_c, cons = exchange(before, after, any_c, cons)
        return (_channels(before, has_nir, gsd), _channels(after, has_nir, gsd),
                np.stack([any_c, cons]))

    def batch(self, rng: np.random.Generator, n: int):
        """``n`` examples stacked: (n,6,S,S), (n,6,S,S) float32 and (n,2,S,S) uint8."""
        examples = [self.example(rng) for _ in range(n)]
        return tuple(np.stack(x) for x in zip(*examples))


def _channels(bands: np.ndarray, has_nir: bool, gsd: float) -> np.ndarray:
    out = np.empty((CHANNELS,) + bands.shape[1:], np.float32)
    out[:4] = bands
    if not has_nir:
        out[3] = 0.0
    out[4] = 1.0 if has_nir else 0.0
    out[5] = gsd_code(gsd)
    return out
