"""weipian: satellite-image land enforcement (卫片执法).

Find patches of new construction between two epochs of imagery, outline
them, overlay them with the reference layers and judge their legality.

>>> import weipian
>>> sorted(weipian.__all__)[:3]
['ChangeParams', 'detect', 'judge']
"""

import logging

__version__ = "0.1.0"

from .params import ChangeParams  # noqa: E402
from .workflows import detect, judge, run  # noqa: E402

__all__ = ["ChangeParams", "detect", "judge", "run", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
