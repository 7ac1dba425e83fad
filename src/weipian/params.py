"""Settings of the change core, settable from Python, the CLI and the TOML settings file.

=====================  =======================================  ============================
field                  meaning                                  CLI option / settings key
=====================  =======================================  ============================
``model``              ONNX change model, or ``"default"``      ``--model`` / ``model``
``threshold``          probability above which a pixel is       ``--threshold`` / ``threshold``
                       flagged (None: the model card's value)
``vegetation_ndvi``    with a NIR band, after-epoch NDVI above  ``--vegetation-ndvi`` /
                       this is vegetation, never construction   ``vegetation_ndvi``
                       (None: no veto)
=====================  =======================================  ============================

Sizes a user sets elsewhere are in metres or m² (``min_area`` in m²; cloud
reach in metres, :class:`weipian.raster.clouds.CloudParams`); they become
pixels in one place each: :func:`weipian.patches.min_pixels_for` and
:meth:`weipian.raster.clouds.CloudParams.pixels`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ChangeParams"]


@dataclass(frozen=True)
class ChangeParams:
    """Settings of the change core.

    Parameters
    ----------
    model : str
        Path of an ONNX change model written by ``weipian train``, or
        ``"default"`` for the model shipped with weipian.
    threshold : float or None
        Change probability (0–1) above which a pixel is flagged; None uses
        the threshold in the model card.
    vegetation_ndvi : float or None
        Where both epochs have a near-infrared band, pixels whose after-epoch
        NDVI exceeds this are dense vegetation and never construction (a
        physical fact, not a fitted rule: built surfaces have NDVI near 0).
        None turns the veto off.
    """

    model: str = "default"
    threshold: float | None = None
    vegetation_ndvi: float | None = 0.5

    def __post_init__(self):
        if self.threshold is not None and not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold was {self.threshold!r} but is expected to lie in (0, 1)")
        if self.vegetation_ndvi is not None and not -1.0 <= float(self.vegetation_ndvi) <= 1.0:
            raise ValueError(f"vegetation_ndvi was {self.vegetation_ndvi!r} but is expected to lie "
                             "in [-1, 1]")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return asdict(self)
