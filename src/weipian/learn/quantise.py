"""int8 static quantisation of a change model with onnxruntime (no PyTorch needed).

:func:`quantise` calibrates the activation ranges on real input tiles
(QDQ format, per-channel weights) and writes a quantised copy that carries
the same model card, marked ``"quantised": "int8"``. :func:`agreement`
measures how far its probabilities stray from the float model's on the
same tiles; weipian ships the int8 model only where pixel F1 on the
validation pairs stays within 0.01 of the float model's and it runs faster.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["quantise", "agreement", "calibration_tiles"]


def calibration_tiles(pairs, *, side: int = 320, per_pair: int = 2, seed: int = 0, uses_nir: bool = False):
    """``(before, after)`` input tiles ``(1, 6, side, side)`` cut from labelled pairs, for calibration.

    Parameters
    ----------
    pairs : list of LabelledPair
        Validation pairs (never test pairs).
    side : int
        Tile side in pixels (the network's tile plus margins).
    per_pair : int
        Tiles per pair.
    seed : int
    uses_nir : bool
        Whether the model sees the NIR band.
    """
    from .batches import _channels
    from .resolution import block_mean, working_factor

    rng = np.random.default_rng(seed)
    out = []
    for pair in pairs:
        factor = working_factor(pair.gsd_m)
        xb = _channels(pair.before, pair.has_nir and uses_nir, pair.gsd_m * factor)
        xa = _channels(pair.after, pair.has_nir and uses_nir, pair.gsd_m * factor)
        rows, cols = xb.shape[1:]
        s = min(side * factor, rows, cols) // (16 * factor) * (16 * factor)
        for _ in range(per_pair):
            r, c = int(rng.integers(rows - s + 1)), int(rng.integers(cols - s + 1))
            out.append((block_mean(xb[None, :, r:r + s, c:c + s], factor),
                        block_mean(xa[None, :, r:r + s, c:c + s], factor)))
    return out


def quantise(model_path, output, tiles) -> Path:
    """Write an int8 (QDQ, per-channel) copy of an ONNX change model, calibrated on ``tiles``.

    Parameters
    ----------
    model_path : str or Path
        A float ONNX model written by weipian.
    output : str or Path
        The quantised ``.onnx`` to write (atomically).
    tiles : list of (ndarray, ndarray)
        Calibration inputs from :func:`calibration_tiles`.

    Returns
    -------
    pathlib.Path
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(tiles)

        def get_next(self):
            item = next(self._it, None)
            return None if item is None else {"before": item[0], "after": item[1]}

    output = Path(output)
    prepared = output.with_name(output.name + ".prep.onnx")
    tmp = output.with_name(output.name + ".tmp")
    try:
        quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(tmp), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        model = onnx.load(str(tmp))
        source = onnx.load(str(model_path), load_external_data=False)
        card = json.loads({m.key: m.value for m in source.metadata_props}["weipian_card"])
        card["quantised"] = "int8"
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = "weipian_card", json.dumps(card, ensure_ascii=False)
        onnx.save(model, str(tmp))
        os.replace(tmp, output)
    finally:
        for p in (prepared, tmp):
            if p.exists():
                p.unlink()
    return output


def agreement(float_path, int8_path, tiles) -> dict:
    """How closely an int8 model follows the float model on ``tiles``.

    Returns
    -------
    dict
        ``max_abs`` and ``mean_abs`` probability difference, and
        ``flag_agreement``: share of pixels on the same side of 0.5.
    """
    from .model import ChangeModel

    a, b = ChangeModel(float_path), ChangeModel(int8_path)
    diffs, same = [], []
    for xb, xa in tiles:
        pa, pb = a.run(xb, xa), b.run(xb, xa)
        diffs.append(np.abs(pa - pb).ravel())
        same.append(((pa >= 0.5) == (pb >= 0.5)).ravel())
    d = np.concatenate(diffs)
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()),
            "flag_agreement": float(np.concatenate(same).mean())}
