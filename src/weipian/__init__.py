"""weipian: satellite-image land enforcement (卫片执法).

Find patches of new construction between two epochs of imagery, outline
them, overlay them with the reference layers and judge their legality.

>>> import weipian
>>> [name for name in weipian.__all__ if not name[0].isupper()]
['detect', 'judge', 'run', 'farmland_use', '__version__']
"""

import logging

from ._version import __version__  # noqa: E402
from .settings import (  # noqa: E402
    ChangeParams,
    DeliverSettings,
    DetectSettings,
    Execution,
    FarmlandSettings,
    JudgeSettings,
    LayerParams,
)
from .workflows import detect, judge, run  # noqa: E402
from .workflows.farmland import farmland_use  # noqa: E402

__all__ = ["ChangeParams", "DeliverSettings", "DetectSettings", "Execution", "FarmlandSettings",
           "JudgeSettings", "LayerParams", "detect", "judge", "run", "farmland_use", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
