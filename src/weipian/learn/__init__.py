"""The learned change core: network, inputs, training, export and inference.

- :mod:`~weipian.learn.inputs` — band order, robust levels, resolution code (pure)
- :mod:`~weipian.learn.tiling` — prediction on a fixed tile grid (pure)
- :mod:`~weipian.learn.model` — :class:`ChangeModel`: an ONNX model and its card, run with onnxruntime
- :mod:`~weipian.learn.predict` — whole-image probabilities for notebooks
- :mod:`~weipian.learn.samples`, :mod:`~weipian.learn.verified` — training data from labelled
  pairs, building tiles and a bureau's verified patches
- :mod:`~weipian.learn.augment`, :mod:`~weipian.learn.batches` — crops, nuisances, synthetic change
- :mod:`~weipian.learn.network`, :mod:`~weipian.learn.train`, :mod:`~weipian.learn.export`,
  :mod:`~weipian.learn.fit` — the network and its training (need PyTorch: ``weipian[train]``)
- :mod:`~weipian.learn.recipe` — the split of ``../shared/realdata/train`` the default model uses

Inference needs only numpy and onnxruntime; nothing here imports PyTorch
until a training function is called.
"""

from .model import DEFAULT_MODEL, ChangeModel, load_model
from .network_outputs import OUTPUTS
from .predict import change_probabilities

__all__ = ["ChangeModel", "DEFAULT_MODEL", "OUTPUTS", "load_model", "change_probabilities", "train"]


def train(*args, **kwargs):
    """Train a change model from folders: :func:`weipian.learn.fit.train_from_folders` (needs PyTorch)."""
    from .fit import train_from_folders

    return train_from_folders(*args, **kwargs)
