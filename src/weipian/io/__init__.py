"""Thin file wrappers: open epochs, align them, read dates, write atomically.

Everything that touches GDAL for rasters lives here, so that GDAL's own
errors are turned into :mod:`weipian.errors` with the file name and the fix.

=============  ==============================================================
module         concept
=============  ==============================================================
``dates``      dates of epochs from text, serials and image tags
``rasters``    one epoch file opened and read through GDAL
``masks``      users' masks of pixels to leave out
``pair``       two epochs on one grid, read window by window
``outputs``    atomic writes, refusal to clobber
=============  ==============================================================
"""

from .dates import acquisition_date, parse_date
from .outputs import atomic_path, check_output
from .pair import Epoch, PairReader, PairSpec, read_pair
from .rasters import read_epoch

__all__ = ["Epoch", "PairSpec", "PairReader", "read_epoch", "read_pair", "parse_date",
           "acquisition_date", "atomic_path", "check_output"]
