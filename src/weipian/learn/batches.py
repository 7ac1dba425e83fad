"""Random training batches from real pairs, synthetic construction and synthetic seasons (pure numpy).

Each example is one of three kinds:

- a crop of a real labelled pair (after-epoch nuisances added, epochs
  exchanged at random so that the construction output learns direction:
  a demolition or a cleared site is change, not construction);
- a synthetic construction pair made from a real image
  (:func:`weipian.learn.augment.synthetic_pair`);
- a synthetic seasonal pair made from a real land-cover tile
  (:func:`weipian.learn.seasons.seasonal_pair`): fields harvested, flooded
  or green again, water edges moved, vegetation turned — change that is
  not construction — with real footprints pasted onto the farmland of half
  of them.

Datasets are drawn with equal weight, whatever their size, so 26 LEVIR
tiles do not drown 8 Sentinel-2 cities; land-cover sets likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .augment import exchange, nuisance, rescaled_crop, synthetic_pair
from .inputs import CHANNELS, gsd_code
from .landcover import LandCoverTile
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
        Share of examples that are synthetic construction pairs.
    weights : dict, optional
        Relative weight per dataset (default: equal).
    landcover : list of LandCoverTile
        Sources of synthetic seasonal pairs (may be empty).
    seasonal_share : float
        Share of examples that are seasonal pairs (where ``landcover`` is given).
    exchange_share : float
        Share of real-pair crops whose epochs are exchanged.
    rgb_only : bool
        The network sees red, green and blue only (NIR channel and flag 0).
    seasonal_min_zoom : float
        Smallest zoom of the land-cover crops of seasonal pairs
        (:func:`weipian.learn.seasons.seasonal_crop`; below 1 enlarges).
    seasonal_made_on : {"tile", "crop"}
        Where seasonal pairs are made (:func:`weipian.learn.seasons.seasonal_example`).
    seasonal_retexture : float
        Share of changed parcels that take another field's texture as well as
        its colour (``retexture_share`` of :func:`weipian.learn.seasons.seasonal_pair`).
    seasonal_demolish : float
        Share of seasonal pairs in which blocks of built land are razed
        (``demolish_share`` of :func:`weipian.learn.seasons.seasonal_pair`).
    seasonal_build_share : float
        Share of seasonal pairs onto which real footprints are pasted as new
        construction (``build_share`` of :func:`weipian.learn.seasons.seasonal_pair`).
    max_zoom_out : float
        Largest zoom-out of real-pair crops (``max_zoom_out`` of
        :func:`weipian.learn.augment.rescaled_crop`; 4: a 0.5 m pair is also
        seen at up to 2 m a pixel).
    """

    pairs: list[LabelledPair]
    buildings: list[BuildingTile]
    size: int = 128
    synthetic_share: float = 0.25
    weights: dict | None = None
    landcover: list[LandCoverTile] = field(default_factory=list)
    seasonal_share: float = 0.0
    exchange_share: float = 0.2
    rgb_only: bool = False
    seasonal_min_zoom: float = 1.0
    seasonal_made_on: str = "tile"
    seasonal_retexture: float = 0.0
    seasonal_demolish: float = 0.0
    seasonal_build_share: float = 0.5
    max_zoom_out: float = 4.0

    def __post_init__(self):
        self.datasets = sorted({p.dataset for p in self.pairs})
        w = np.array([(self.weights or {}).get(d, 1.0) for d in self.datasets], float)
        self._p = w / w.sum()
        self._by_dataset = {d: [p for p in self.pairs if p.dataset == d] for d in self.datasets}
        self._cover_sets = {}
        for tile in self.landcover:
            self._cover_sets.setdefault(tile.name.split("/")[0], []).append(tile)
        self._bank = None
        if self.landcover and self.seasonal_share > 0:
            from .seasons import ParcelBank

            self._bank = ParcelBank.from_tiles(self.landcover[::3], per_tile=12)

    def example(self, rng: np.random.Generator):
        """One example: (before (6,S,S), after (6,S,S), target (2,S,S) uint8)."""
        if self._bank is not None and rng.random() < self.seasonal_share:
            return self._seasonal(rng)
        dataset = self.datasets[int(rng.choice(len(self.datasets), p=self._p))]
        pair = self._by_dataset[dataset][int(rng.integers(len(self._by_dataset[dataset])))]
        has_nir = pair.has_nir and not self.rgb_only and rng.random() < 0.6
        if rng.random() < self.synthetic_share:
            source = pair.before if rng.random() < 0.5 else pair.after
            fake = LabelledPair(pair.name, pair.dataset, source, source, pair.has_nir, pair.gsd_m,
                                np.zeros(pair.any_change.shape, np.uint8),
                                np.zeros(pair.any_change.shape, np.uint8))
            image, _, _, _, gsd = rescaled_crop(fake, self.size, rng, max_zoom_out=self.max_zoom_out)
            before, after, any_c, cons = synthetic_pair(image, gsd, self.buildings, rng, has_nir=has_nir)
        else:
            before, after, any_c, cons, gsd = rescaled_crop(pair, self.size, rng,
                                                            max_zoom_out=self.max_zoom_out)
            after = nuisance(after, rng, has_nir=has_nir, strength=0.5)
            if rng.random() < self.exchange_share:
                before, after, any_c, cons = exchange(before, after, any_c, cons)
        return (_channels(before, has_nir, gsd), _channels(after, has_nir, gsd),
                np.stack([any_c, cons]))

    def _seasonal(self, rng: np.random.Generator):
        """A seasonal pair from a land-cover tile (a set drawn with equal weight, then a tile)."""
        from .seasons import seasonal_example

        names = sorted(self._cover_sets)
        source = names[int(rng.integers(len(names)))]
        tiles = self._cover_sets[source]
        tile = tiles[int(rng.integers(len(tiles)))]
        before, after, any_c, cons, gsd = seasonal_example(
            tile, self.size, self._bank, rng, min_zoom=self.seasonal_min_zoom, made_on=self.seasonal_made_on,
            buildings=self.buildings, build_share=self.seasonal_build_share, source=source,
            retexture_share=self.seasonal_retexture, demolish_share=self.seasonal_demolish)
        return _channels(before, False, gsd), _channels(after, False, gsd), np.stack([any_c, cons])

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
