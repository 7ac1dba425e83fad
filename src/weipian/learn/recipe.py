"""How the default model is made from ``../shared/realdata/train/``.

The split is fixed here so that training (``make model``), the accuracy
benchmark (``benchmarks/real.py``) and the model card agree on which pairs
the default model never saw. Test pairs are whole tiles or cities; WHU-CD has
one tile, so its lower half is the test and its upper half trains.
"""

from __future__ import annotations

from .samples import LabelledPair

__all__ = ["TEST", "VALIDATION", "CONSTRUCTION_UNKNOWN", "UNMARKED_CHANGE", "DATASETS", "SUB_METRE_DATASETS",
           "split_pairs", "WHU_SPLIT_ROW", "HELD_OUT_BUILDINGS", "split_buildings"]

#: Datasets of ``realdata/train`` used as change pairs.
DATASETS = ("levir_cd", "dsifn", "oscd", "whu_cd", "pak_houses")

#: The datasets of sub-metre pixels (0.3-0.5 m): what the default's sub-metre route trains and is measured on.
SUB_METRE_DATASETS = ("levir_cd", "pak_houses", "whu_cd")

#: Pairs held out for testing (never trained on, never used to pick a checkpoint or a threshold).
TEST = ("levir_cd/test_1", "levir_cd/test_2", "levir_cd/test_8", "levir_cd/test_10",
        "dsifn/3", "dsifn/7", "oscd/nantes", "oscd/pisa", "whu_cd/000121:lower",
        "pak_houses/test_2", "pak_houses/test_3", "pak_houses/test_4", "pak_houses/test_5",
        "pak_houses/test_6")

#: Pairs used to choose the checkpoint and the thresholds: several per dataset and resolution
#: (0.5 m LEVIR and Pakistani houses, 2 m DSIFN, 10 m Sentinel-2), so that a threshold that
#: suits one dataset cannot pass (see :func:`weipian.learn.calibrate.calibrate`).
VALIDATION = ("levir_cd/test_9", "levir_cd/test_3", "dsifn/8", "oscd/mumbai", "oscd/beirut",
              "pak_houses/val_1", "pak_houses/val_2", "pak_houses/val_3", "pak_houses/val_5")

#: Building tiles kept out of training (the new sets), to measure pasted construction on.
HELD_OUT_BUILDINGS = ("buildings/gf2_mfbfs/937", "buildings/shanghai_google/0_9",
                      "buildings/shanghai_google/8_1")

#: Datasets whose labels mark demolition as well as construction in a way
#: that cannot be told apart (WHU-CD here is mostly demolition and re-roofing).
CONSTRUCTION_UNKNOWN = ("whu_cd",)

#: What the strong change a dataset's labels leave unmarked becomes in its training pairs
#: (see :mod:`weipian.learn.unmarked`): OSCD marks urban change only, so the rest is change but not
#: construction; DSIFN often leaves cleared land unmarked, so the rest is unknown.
UNMARKED_CHANGE = {"oscd": "non_urban", "dsifn": "unknown"}

#: WHU-CD 000121 rows from here down are test, above train.
WHU_SPLIT_ROW = 512


def split_pairs(pairs: list[LabelledPair], *, leave_out: str | None = None):
    """Split pairs into train, validation and test lists.

    Parameters
    ----------
    pairs : list of LabelledPair
        From :func:`weipian.learn.samples.load_change_folder`.
    leave_out : str, optional
        A dataset to remove from training and validation entirely (for
        leave-one-dataset-out runs); all its pairs go to the test list.

    Returns
    -------
    train, validation, test : list of LabelledPair
    """
    train, val, test = [], [], []
    for pair in pairs:
        if pair.dataset == leave_out:
            test.append(pair)
            continue
        if pair.name == "whu_cd/000121":
            r = WHU_SPLIT_ROW
            train.append(pair.crop(slice(0, r), slice(None), ":upper"))
            test.append(pair.crop(slice(r, None), slice(None), ":lower"))
        elif pair.name in TEST:
            test.append(pair)
        elif pair.name in VALIDATION:
            val.append(pair)
        else:
            train.append(pair)
    return train, val, test


def changed_share(pair: LabelledPair) -> float:
    """Share of known pixels labelled changed."""
    known = pair.any_change != 255
    return float((pair.any_change[known] == 1).mean()) if known.any() else 0.0


def split_buildings(tiles: list) -> tuple[list, list]:
    """Building tiles for training and those kept out (:data:`HELD_OUT_BUILDINGS`)."""
    held = [t for t in tiles if t.name in HELD_OUT_BUILDINGS]
    return [t for t in tiles if t.name not in HELD_OUT_BUILDINGS], held
