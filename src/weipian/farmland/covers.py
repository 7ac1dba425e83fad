"""Cover classes on farmland, the uses they stand for, and their Chinese names.

The land-cover model (:data:`weipian.learn.cover_inputs.COVERS`) tells
``built``, ``paddy``, ``crop``, ``garden``, ``forest``, ``grass`` and
``water`` apart. On a farmland parcel:

- ``paddy`` and ``crop`` are cropland (耕种), and so is ``bare`` ground
  (only found where the imagery has a near-infrared band: NDVI under 0.15 on
  pixels the model calls cropland or grass; the training tiles hold no
  labelled bare ground). Bare soil between crops is fallow, not abandonment:
  a parcel is flagged as possibly abandoned (撂荒, as 不确定) only when it is
  bare on both dates and both lie in the growing season.
- ``water`` is a pond (挖塘养鱼 or flooding: the reason names the dates),
  ``garden`` an orchard, garden or nursery (园地/苗木), ``forest`` forest or
  shrub (林地), ``grass`` grass (草地): each is a 非粮化 use.
- ``built`` on a parcel is 非农化 when a construction patch lies there;
  without one it is 不确定 (possibly a greenhouse or facility — neither
  training set has a greenhouse class, so weipian does not detect
  greenhouses as such).
"""

from __future__ import annotations

__all__ = ["CROPLAND", "USE_OF_COVER", "COVER_ZH", "USE_ZH", "STATES", "STATE_ZH"]

#: Cover classes that are cropland (bare ground between crops is fallow cropland).
CROPLAND = ("paddy", "crop", "bare")

#: The 非粮化 use each non-cropland cover stands for.
USE_OF_COVER = {"water": "pond", "garden": "orchard", "forest": "forest", "grass": "grass"}

COVER_ZH = {
    "built": "建设",
    "paddy": "水田",
    "crop": "旱地/水浇地",
    "garden": "园地",
    "forest": "林地",
    "grass": "草地",
    "water": "水面",
    "bare": "裸地",
    "none": "无数据/云",
}

USE_ZH = {"pond": "坑塘/水面", "orchard": "园地/苗木", "forest": "林地", "grass": "草地", "built": "建设占用"}

#: Parcel states, in report order.
STATES = ("non_agri", "non_grain", "uncertain", "cropped")

STATE_ZH = {"cropped": "耕种", "non_grain": "非粮化", "non_agri": "非农化", "uncertain": "不确定"}
