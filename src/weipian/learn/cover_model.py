"""The land-cover model, loaded and run with onnxruntime (no PyTorch needed).

:class:`CoverModel` wraps an ONNX file written by
:func:`weipian.learn.cover_export.export_cover_onnx` and its card. It turns
one epoch's stretched red, green and blue bands into class probabilities
over the card's ``outputs`` on a fixed tile grid, so results do not depend
on how a caller windows the image. It pickles as its path, as
:class:`weipian.learn.model.ChangeModel` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .cover_inputs import COVER_CHANNELS, cover_channels
from .tiling import predict_tiled

__all__ = ["CoverModel", "DEFAULT_COVER_MODEL", "load_cover_model"]

#: The land-cover model shipped inside the package (see its card, ``model_card.json``).
DEFAULT_COVER_MODEL = Path(__file__).with_name("cover_default") / "model.onnx"


class CoverModel:
    """A land-cover model: ONNX graph plus card.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file written by ``weipian train --task cover``.

    Raises
    ------
    weipian.errors.ModelError
        If the file is missing, not ONNX, or not a weipian land-cover model.
    """

    def __init__(self, path):
        self.path = str(Path(path))
        self.card = _read_cover_card(self.path)

    def __reduce__(self):
        return (CoverModel, (self.path,))

    def __repr__(self) -> str:
        return f"CoverModel({self.path!r})"

    @property
    def classes(self) -> tuple[str, ...]:
        """Output classes, in order."""
        return tuple(self.card["outputs"])

    @property
    def working_gsd_m(self) -> float:
        """Pixel size (m) finer imagery is averaged toward before the network."""
        return float(self.card.get("working_gsd_m", 4.0))

    def run(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, K, h, w)`` for ``(n, 4, h, w)`` float32 input channels."""
        from .model import _session

        return _session(self.path).run(None, {"image": image})[0]

    def probabilities(self, rgb: np.ndarray, gsd_m: float, *, batch: int = 4) -> np.ndarray:
        """Class probabilities of one epoch.

        Parameters
        ----------
        rgb : (3, M, N) ndarray of float32
            Red, green, blue stretched by the image's robust levels
            (:func:`weipian.learn.inputs.model_bands`), already averaged to
            the working pixel size.
        gsd_m : float
            Pixel size of ``rgb`` in metres.
        batch : int
            Tiles per network call.

        Returns
        -------
        (K, M, N) ndarray of float32
            One channel per :attr:`classes`; they sum to 1.
        """
        x = cover_channels(np.asarray(rgb, np.float32), gsd_m)
        return predict_tiled(
            x,
            x,
            lambda tiles, _same: self.run(tiles),
            tile=int(self.card["tile"]),
            margin=int(self.card["margin"]),
            batch=batch,
        )


def _read_cover_card(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        raise ModelError(
            f"{path}: land-cover model file not found; give the .onnx file written by "
            "weipian train --task cover"
        )
    try:
        import onnx

        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise ModelError(
            f"{path}: not an ONNX model ({str(exc).splitlines()[0][:80]}); give the .onnx "
            "file written by weipian train --task cover"
        ) from None
    meta = {m.key: m.value for m in model.metadata_props}
    card = json.loads(meta.get("weipian_card", "{}"))
    if card.get("format") != "weipian-cover-model/1":
        raise ModelError(
            f"{path}: not a weipian land-cover model (card format {card.get('format')!r}); "
            "train one with weipian train --task cover"
        )
    shape = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(shape) != 4 or shape[1] != COVER_CHANNELS:
        raise ModelError(
            f"{path}: input has shape {shape}; weipian land-cover models take (N, {COVER_CHANNELS}, H, W)"
        )
    return card


def load_cover_model(model=None) -> CoverModel:
    """The land-cover model to use: a CoverModel, a path, ``"default"`` or None (the default)."""
    if isinstance(model, CoverModel) or (
        model is not None and hasattr(model, "probabilities") and hasattr(model, "classes")
    ):
        return model
    if model is None or str(model) == "default":
        if not DEFAULT_COVER_MODEL.exists():
            raise ModelError(
                f"{DEFAULT_COVER_MODEL}: the default land-cover model is missing from this "
                "installation; reinstall weipian or pass --cover-model PATH"
            )
        return CoverModel(DEFAULT_COVER_MODEL)
    return CoverModel(model)
