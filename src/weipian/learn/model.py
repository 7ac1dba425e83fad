"""A trained change model, loaded and run with onnxruntime (no PyTorch needed).

:class:`ChangeModel` wraps an ONNX file written by
:func:`weipian.learn.export.export_onnx` and its card (stored inside the
file). It checks that the imagery fits the card (bands present, pixel size
within the trained range) and turns two epochs' input channels into change
probabilities on a fixed tile grid (:func:`weipian.learn.tiling.predict_tiled`).
The object pickles as its path, so Dask ships it to worker processes and
each process opens its own session.

A model folder may also hold ``routes.json``: other models of the same tile
grid to use for some pixel sizes (:meth:`ChangeModel.for_gsd`), such as a
model trained at the native resolution of 0.25–0.6 m imagery beside one
that averages such imagery down to 1 m, and one fine-tuned on 10 m imagery
for pixels coarser than 5 m::

    {"routes": [{"max_gsd_m": 0.6, "model": "vhr/model.onnx"},
                {"min_gsd_m": 5.0, "model": "coarse/model.onnx"}]}
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import ModelError, ResolutionWarning
from .tiling import predict_tiled

__all__ = ["ChangeModel", "DEFAULT_MODEL", "ROUTES_FILE", "copy_without_routes", "load_model"]

#: The model shipped inside the package (see its model card, ``MODEL_CARD.md``).
DEFAULT_MODEL = Path(__file__).with_name("default") / "model.onnx"

#: Name of the file beside a model that routes some pixel sizes to other models.
ROUTES_FILE = "routes.json"

_sessions: dict = {}
_sessions_lock = threading.Lock()

#: onnxruntime threads per session run. Dask runs one task per core, so one
#: thread each keeps the cores busy without oversubscribing them
#: (``benchmarks/speed.py`` measures the alternatives).
SESSION_THREADS = 1


def _session(path: str):
    import onnxruntime as ort

    with _sessions_lock:
        session = _sessions.get((path, SESSION_THREADS))
        if session is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = SESSION_THREADS
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            _sessions[(path, SESSION_THREADS)] = session
    return session


class ChangeModel:
    """A change model: ONNX graph plus card.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file written by weipian.

    Raises
    ------
    weipian.errors.ModelError
        If the file is missing, not ONNX, or carries no weipian model card.
    """

    def __init__(self, path):
        self.path = str(Path(path))
        self.card = _read_card(self.path)

    def __reduce__(self):
        return (ChangeModel, (self.path,))

    def __repr__(self) -> str:
        return f"ChangeModel({self.path!r})"

    @property
    def tile(self) -> int:
        """Core side of the network tiles (pixels)."""
        return int(self.card["tile"])

    @property
    def margin(self) -> int:
        """Context around each network tile (pixels)."""
        return int(self.card["margin"])

    def threshold(self, target: str, gsd_m: float | None = None) -> float:
        """Probability above which a pixel is flagged for ``target`` at pixel size ``gsd_m``.

        The card may hold separate thresholds for coarse pixels
        (``thresholds["coarse"]``, from ``min_gsd_m`` up).
        """
        thresholds = self.card.get("thresholds", {})
        coarse = thresholds.get("coarse")
        if coarse and gsd_m is not None and gsd_m > float(coarse.get("min_gsd_m", 5.0)):
            thresholds = coarse
        return float(thresholds.get(target, 0.5))

    def check(self, roles, gsd_m: float, *, source: str = "imagery") -> None:
        """Refuse imagery without the bands the model needs; warn outside its resolution range.

        Raises
        ------
        weipian.errors.ModelError
            If a required band is missing.
        """
        missing = [b for b in self.card.get("required_bands", ("red", "green", "blue")) if b not in roles]
        if missing:
            raise ModelError(
                f"{source}: the change model {Path(self.path).name} needs bands "
                f"{', '.join(self.card['required_bands'])} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing; name the bands with --bands"
            )
        lo, hi = self.card.get("gsd_range_m", (0.3, 10.0))
        if not lo * 0.8 <= gsd_m <= hi * 1.5:
            warnings.warn(
                f"{source}: pixel size {gsd_m:.2g} m is outside the {lo:g}–{hi:g} m the change model "
                f"{Path(self.path).name} was trained on; it runs as if at {min(max(gsd_m, lo), hi):g} m "
                "and its accuracy there is unmeasured (see the model card)",
                ResolutionWarning, stacklevel=2)

    @property
    def uses_nir(self) -> bool:
        """Whether the network sees the near-infrared band (False: red, green, blue only)."""
        return bool(self.card.get("uses_nir", True))

    @property
    def working_gsd_m(self) -> float | None:
        """Pixel size (m) finer imagery is averaged to before the network; None: always native."""
        value = self.card.get("working_gsd_m")
        return float(value) if value else None

    def factor_for(self, gsd_m: float, quality: str = "fast") -> int:
        """Averaging factor for ``gsd_m`` imagery: 1 in ``accurate`` quality, else toward the working size."""
        from .resolution import quality_native, working_factor

        return 1 if quality_native(quality) else working_factor(gsd_m, self.working_gsd_m)

    def gsd_for_model(self, gsd_m: float, factor: int = 1) -> float:
        """The pixel size given to the network: the imagery's (× ``factor``), clamped to the trained range."""
        lo, hi = self.card.get("gsd_range_m", (0.3, 10.0))
        return float(min(max(gsd_m * factor, lo), hi))

    @property
    def routes(self) -> list[dict]:
        """Models to use instead of this one for some pixel sizes (``routes.json`` beside it).

        Each route is ``{"model": path}`` (a path relative to this model's
        folder) with ``"max_gsd_m"``, ``"min_gsd_m"`` or both: it covers
        pixel sizes above ``min_gsd_m`` (default 0) up to and including
        ``max_gsd_m`` (default: no limit), as the card's ``coarse``
        thresholds apply above their ``min_gsd_m``. The first route that
        covers a pixel size wins.

        Raises
        ------
        weipian.errors.ModelError
            If ``routes.json`` is not valid JSON of that form.
        """
        path = Path(self.path).with_name(ROUTES_FILE)
        if not path.exists():
            return []
        try:
            routes = json.loads(path.read_text(encoding="utf-8"))["routes"]
            if any("max_gsd_m" not in r and "min_gsd_m" not in r for r in routes):
                raise ValueError("a route without max_gsd_m or min_gsd_m covers every pixel size")
            return [{"model": str(path.parent / r["model"]), "max_gsd_m": float(r.get("max_gsd_m", np.inf)),
                     "min_gsd_m": float(r.get("min_gsd_m", 0.0))} for r in routes]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: not a routes file ({exc}); it must read "
                             '{"routes": [{"max_gsd_m": 0.6, "model": "vhr/model.onnx"}]}') from None

    def for_gsd(self, gsd_m: float) -> "ChangeModel":
        """The model to run on imagery of pixel size ``gsd_m``: a route's (:attr:`routes`) or this one.

        A routed model must use the same tile grid (``tile`` and ``margin``),
        so that windows planned for this model fit it.

        Raises
        ------
        weipian.errors.ModelError
            If a route's model is missing, not a weipian model, or on another tile grid.
        """
        for route in self.routes:
            if route["min_gsd_m"] < gsd_m <= route["max_gsd_m"]:
                other = ChangeModel(route["model"])
                if (other.tile, other.margin) != (self.tile, self.margin):
                    raise ModelError(f"{other.path}: tiles of {other.tile} + {other.margin} px, but "
                                     f"the model that routes {gsd_m:g} m pixels to it ({self.path}) uses "
                                     f"{self.tile} + {self.margin}; export both with the same tiling")
                return other
        return self

    def run(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, 2, h, w)`` for ``(n, 6, h, w)`` float32 input channels.

        ``h`` and ``w`` must be multiples of the card's ``stride``
        (:meth:`probabilities` pads tiles to them).

        Raises
        ------
        weipian.errors.ModelError
            If they are not.
        """
        stride = int(self.card.get("stride", 1))
        if before.shape[-2] % stride or before.shape[-1] % stride:
            raise ModelError(f"{self.path}: input tiles of {before.shape[-2]} x {before.shape[-1]} px; the "
                             f"network takes sides that are multiples of {stride} px (use probabilities(), "
                             "which tiles and pads the image)")
        return _session(self.path).run(None, {"before": before, "after": after})[0]

    def probabilities(self, before: np.ndarray, after: np.ndarray, region=None, *,
                      batch: int = 1, factor: int = 1, flips: bool = False) -> np.ndarray:
        """Change probabilities over ``region`` of two epochs' input channels.

        Parameters
        ----------
        before, after : (6, M, N) ndarray of float32
            From :func:`weipian.learn.inputs.epoch_channels`.
        region : (row0, col0, row1, col1), optional
            Pixels to predict; the tile grid starts at ``(row0, col0)``.
        batch : int
            Tiles per network call.
        factor : int
            Each tile is averaged down by this factor before the network and
            its probabilities interpolated back (see
            :mod:`weipian.learn.resolution`).
        flips : bool
            Average over the four flips of each tile.

        Returns
        -------
        (2, rows, cols) ndarray of float32
            Any change, construction.
        """
        from .resolution import scaled_runner

        run = scaled_runner(self.run, factor=factor, flips=flips)
        return predict_tiled(before, after, run, region=region, tile=self.tile, margin=self.margin,
                             batch=batch)


def _read_card(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{path}: model file not found; give the .onnx file written by weipian train")
    try:
        import onnx

        model = onnx.load(path, load_external_data=False)
    except ImportError:  # onnx is optional: ask onnxruntime for the metadata
        model = None
    except Exception as exc:
        raise ModelError(f"{path}: not an ONNX model ({str(exc).splitlines()[0][:80]}); "
                         "give the .onnx file written by weipian train") from None
    if model is not None:
        meta = {m.key: m.value for m in model.metadata_props}
        inputs = {i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]
                  for i in model.graph.input}
    else:
        try:
            session = _session(path)
        except Exception as exc:
            raise ModelError(f"{path}: not an ONNX model ({str(exc).splitlines()[0][:80]}); "
                             "give the .onnx file written by weipian train") from None
        meta = session.get_modelmeta().custom_metadata_map
        inputs = {i.name: i.shape for i in session.get_inputs()}
    if "weipian_card" not in meta:
        raise ModelError(f"{path}: an ONNX model without a weipian model card; export it with "
                         "weipian train (or weipian.learn.export.export_onnx)")
    card = json.loads(meta["weipian_card"])
    from .inputs import CHANNELS

    for name in ("before", "after"):
        shape = inputs.get(name)
        if shape is None or len(shape) != 4 or shape[1] != CHANNELS:
            raise ModelError(f"{path}: input {name!r} has shape {shape}; weipian change models take "
                             f"(N, {CHANNELS}, H, W) per epoch")
    return card


def load_model(model=None) -> ChangeModel:
    """The change model to use: a ChangeModel, a path, ``"default"`` or None (the default)."""
    if isinstance(model, ChangeModel):
        return model
    if model is None or str(model) == "default":
        if not DEFAULT_MODEL.exists():
            raise ModelError(f"{DEFAULT_MODEL}: the default change model is missing from this "
                             "installation; reinstall weipian or pass --model PATH")
        return ChangeModel(DEFAULT_MODEL)
    return ChangeModel(model)


def copy_without_routes(model, folder) -> Path:
    """Copy a model's ONNX file and card into ``folder``, leaving its routes behind.

    The copy runs every pixel size with this model's own network (its
    working resolution included), which is how a routed model is compared
    with the model it routes from.

    Parameters
    ----------
    model : ChangeModel, str, Path or None
        As for :func:`load_model` (None: the default model).
    folder : str or Path
        Created if missing; must not already hold a ``model.onnx``.

    Returns
    -------
    Path
        ``folder / "model.onnx"``.

    Raises
    ------
    weipian.errors.ModelError
        If ``folder`` already holds a model.
    """
    import shutil

    source = Path(load_model(model).path)
    folder = Path(folder)
    target = folder / "model.onnx"
    if target.exists():
        raise ModelError(f"{target}: a model is already there; give an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    card = source.with_name("model_card.json")
    if card.exists():
        shutil.copy(card, folder / card.name)
    shutil.copy(source, target)
    return target
