import numpy as np
import pytest
from affine import Affine

from weipian.patches import assemble_pieces, mask_to_patches, min_pixels_for, tile_pieces


def basic_mask():
    mask = np.zeros((10, 12), bool)
    mask[1:4, 6:9] = True  # 9 px, first pixel (1, 6)
    mask[2:5, 1:3] = True  # 6 px, first pixel (2, 1)
    mask[5, 5] = mask[6, 6] = True  # diagonal pair: one patch with 8-connectivity
    mask[8:10, 9:12] = True  # 6 px touching the edge
    return mask


def test_order_is_raster_order_of_first_pixel_and_diagonals_join():
    table = mask_to_patches(basic_mask(), transform=Affine.identity())
    assert list(table["pixels"]) == [9, 6, 2, 6]
    assert list(table["first"]) == [1 * 12 + 6, 2 * 12 + 1, 5 * 12 + 5, 8 * 12 + 9]


def test_min_pixels_drops_small_patches():
    table = mask_to_patches(basic_mask(), transform=Affine.identity(), min_pixels=6)
    assert list(table["pixels"]) == [9, 6, 6]


def test_areas_bounds_and_scores_in_map_units():
    transform = Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0)  # 2 m pixels
    score = np.zeros((10, 12))
    score[1:4, 6:9] = 5.0
    table = mask_to_patches(basic_mask(), transform=transform, min_pixels=6, score=score)
    assert [g.area for g in table["geometry"]] == [36.0, 24.0, 24.0]  # pixels x 4 m²
    assert table["score"][0] == pytest.approx(5.0)
    assert table["score"][1] == 0.0
    assert table["geometry"][0].bounds == (1012.0, 4992.0, 1018.0, 4998.0)


def test_empty_mask_gives_no_patches():
    table = mask_to_patches(np.zeros((5, 5), bool), transform=Affine.identity())
    assert len(table["geometry"]) == 0


def test_patch_split_by_a_seam_is_joined_and_counted_whole():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 2:6] = True  # 8 px straddling the seam at column 4
    whole = mask_to_patches(mask, transform=Affine.identity(), min_pixels=8)
    parts = [tile_pieces(mask[:, c:c + 4], np.zeros((6, 4)), transform=Affine.translation(c, 0),
                         row_off=0, col_off=c, width=8, min_pixels=8) for c in (0, 4)]
    joined = assemble_pieces(parts, min_pixels=8)
    assert list(joined["pixels"]) == [8] == list(whole["pixels"])
    assert joined["geometry"][0].equals(whole["geometry"][0])


def test_min_pixels_for_converts_square_metres_once():
    assert min_pixels_for(50.0, 4.0) == 12
    assert min_pixels_for(50.0, 0.25) == 200
    assert min_pixels_for(10.0, 100.0) == 1


@pytest.mark.parametrize("kind", ["polygons", "raster"])
def test_user_masks_remove_patches(small_batch, tmp_path, kind):
    """--mask-after as polygons or as a raster: no patch is found where the user masked the image."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    import weipian

    found = weipian.detect(small_batch["before"], small_batch["after"])
    assert len(found)
    with rasterio.open(small_batch["after"]) as src:
        left, bottom, right, top = src.bounds
        profile, shape = src.profile, src.shape
    west = box(left, bottom, (left + right) / 2, top)
    if kind == "polygons":
        mask = tmp_path / "mask.gpkg"
        gpd.GeoDataFrame(geometry=[west], crs=found.crs).to_file(mask)
    else:
        mask = tmp_path / "mask.tif"
        data = np.zeros(shape, np.uint8)
        data[:, : shape[1] // 2] = 1
        profile.update(count=1, dtype="uint8", nodata=None)
        with rasterio.open(mask, "w", **profile) as dst:
            dst.write(data, 1)
    masked = weipian.detect(small_batch["before"], small_batch["after"], mask_after=mask)
    assert not masked.geometry.intersects(west.buffer(-2)).any()
    east = found[~found.geometry.intersects(west)]
    assert len(masked) >= len(east) > 0
