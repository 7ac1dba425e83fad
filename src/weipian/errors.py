"""Every exception and warning weipian raises.

All errors derive from :class:`WeipianError` and also from the matching
builtin, so ``except ValueError`` or ``except OSError`` still catches them.
Each message names the file (where there is one), the problem and the fix; the
command-line interface prints it on one line and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "WeipianError",
    "InputFileError",
    "RasterError",
    "CRSMissingError",
    "NoOverlapError",
    "BandError",
    "LayerError",
    "FieldError",
    "DateError",
    "OutputError",
    "OutputExistsError",
    "ModelError",
    "TrainingDataError",
    "WeipianWarning",
    "ResolutionWarning",
]


class WeipianError(Exception):
    """Root of every weipian error."""


class InputFileError(WeipianError, OSError):
    """An input file is missing or cannot be opened."""


class RasterError(WeipianError, ValueError):
    """A raster cannot be used as an epoch (wrong content, unreadable data)."""


class CRSMissingError(WeipianError, ValueError):
    """A raster or layer has no coordinate reference system."""


class NoOverlapError(WeipianError, ValueError):
    """The two epochs do not overlap."""


class BandError(WeipianError, ValueError):
    """Band roles cannot be determined or are unknown."""


class LayerError(WeipianError, ValueError):
    """A reference layer cannot be used."""


class FieldError(LayerError):
    """A field the rules need is missing from a layer."""


class DateError(WeipianError, ValueError):
    """A date cannot be parsed or is missing where it is needed."""


class OutputError(WeipianError, OSError):
    """An output cannot be written (folder not writable, disk full)."""


class OutputExistsError(WeipianError, FileExistsError):
    """An output exists and ``overwrite`` was not requested."""


class ModelError(WeipianError, ValueError):
    """A change model cannot be used: missing, not ONNX, or not fit for the imagery."""


class TrainingDataError(WeipianError, ValueError):
    """Training data cannot be used: missing images, unknown outcome values."""


class WeipianWarning(UserWarning):
    """A recoverable surprise in the input (repaired geometry, reprojection)."""


class ResolutionWarning(WeipianWarning):
    """The imagery's pixel size lies outside the range the change model was trained on."""


class PlausibilityWarning(WeipianWarning):
    """A scene's flagged share is far beyond what one batch of new construction covers."""


class CRSWarning(WeipianWarning):
    """Coordinates that do not fit their CRS (outside its projection's domain)."""
