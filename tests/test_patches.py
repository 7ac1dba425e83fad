import numpy as np
import pytest
from affine import Affine

from weipian.patches import label_patches, patch_table, patches_to_frame


def basic_mask():
    mask = np.zeros((10, 12), bool)
    mask[1:4, 6:9] = True  # 9 px, first pixel (1, 6)
    mask[2:5, 1:3] = True  # 6 px, first pixel (2, 1)
    mask[5, 5] = mask[6, 6] = True  # diagonal pair: one patch with 8-connectivity
    mask[8:10, 9:12] = True  # 6 px touching the edge
    return mask


def test_label_order_is_raster_order_of_first_pixel():
    labels, n = label_patches(basic_mask())
    assert n == 4
    assert labels[1, 6] == 1 and labels[2, 1] == 2 and labels[5, 5] == 3 and labels[8, 9] == 4
    assert labels[6, 6] == 3  # 8-connected across the diagonal


def test_min_pixels_drops_small_and_renumbers():
    labels, n = label_patches(basic_mask(), min_pixels=6)
    assert n == 3
    assert labels[5, 5] == 0
    assert labels[8, 9] == 3


def test_patch_table_areas_and_scores():
    transform = Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0)  # 2 m pixels
    labels, n = label_patches(basic_mask(), min_pixels=6)
    score = np.zeros((10, 12))
    score[1:4, 6:9] = 5.0
    table = patch_table(labels, n, transform=transform, score=score)
    areas = [g.area for g in table["geometry"]]
    assert areas == [36.0, 24.0, 24.0]  # pixels x 4 m²
    assert list(table["pixels"]) == [9, 6, 6]
    assert table["score"][0] == pytest.approx(5.0)
    assert table["geometry"][0].bounds == (1012.0, 4992.0, 1018.0, 4998.0)


def test_empty_mask():
    labels, n = label_patches(np.zeros((5, 5), bool))
    table = patch_table(labels, n, transform=Affine.identity())
    assert n == 0 and len(table["geometry"]) == 0
    frame = patches_to_frame(table, "EPSG:4547")
    assert len(frame) == 0


def test_extra_properties():
    labels, n = label_patches(basic_mask())
    table = patch_table(labels, n, transform=Affine.identity(),
                        extra_properties={"double": lambda lab, k: np.arange(k) * 2})
    assert list(table["double"]) == [0, 2, 4, 6]
