"""Farmland use (耕地"非粮化"/"非农化"): each farmland parcel judged from its land cover in both epochs.

- :mod:`~weipian.farmland.covers`: the cover classes, the uses they stand
  for and their Chinese names.
- :mod:`~weipian.farmland.shares`: parcels rasterised onto the cover grid
  and their cover shares (pure arrays).
- :mod:`~weipian.farmland.states`: the rule that turns shares into a state
  (耕种, 非粮化, 非农化, 不确定) with a reason (pure).
- :mod:`~weipian.farmland.stats`: township statistics and the worst-ten
  rankings.

The workflow that reads imagery and layers is
:func:`weipian.workflows.farmland.farmland_use`.
"""

from .covers import COVER_ZH, STATE_ZH, STATES, USE_OF_COVER, USE_ZH
from .states import ParcelRule, judge_parcels

__all__ = ["COVER_ZH", "STATE_ZH", "STATES", "USE_OF_COVER", "USE_ZH", "ParcelRule", "judge_parcels"]
