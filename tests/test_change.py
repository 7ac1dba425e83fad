import numpy as np
import pytest
from scipy import ndimage

from weipian.raster.classic import detect_change
from weipian.raster.difference import change_magnitude, cva_otsu
from weipian.raster.morphology import clean_mask, grow_mask
from weipian.raster.radiometry import apply_normalisation, fit_normalisation
from weipian.raster.register import apply_shift, estimate_shift
from weipian.raster.surface import built_surface
from weipian.testing.scenes import SPECTRA

ROLES4 = {"blue": 0, "green": 1, "red": 2, "nir": 3}


def _texture(shape, seed):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), 2)


@pytest.mark.parametrize("shift", [(0.4, -0.7), (1.5, 0.0), (-1.2, 1.3), (0.0, 0.0)])
def test_estimate_shift_recovers_known_shift(shift):
    big = _texture((300, 300), 1)
    moved = np.real(np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(big), shift)))
    ref, mov = big[20:276, 20:276], moved[20:276, 20:276]
    dy, dx = estimate_shift(ref, mov)
    assert dy == pytest.approx(-shift[0], abs=0.06)
    assert dx == pytest.approx(-shift[1], abs=0.06)


def test_estimate_shift_is_gain_invariant():
    big = _texture((300, 300), 2)
    moved = np.real(np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(big), (0.8, -0.3))))
    dy, dx = estimate_shift(big[20:276, 20:276], 3.0 * moved[20:276, 20:276] + 100)
    assert (dy, dx) == pytest.approx((-0.8, 0.3), abs=0.06)


def test_estimate_shift_of_constant_image_is_zero():
    assert estimate_shift(np.ones((64, 64)), np.ones((64, 64))) == (0.0, 0.0)


def test_apply_shift_undoes_shift():
    img = _texture((64, 64), 3)
    moved = ndimage.shift(img, (1.0, -2.0), order=1, mode="nearest")
    back = apply_shift(moved, (-1.0, 2.0))
    assert np.abs(back - img)[5:-5, 5:-5].max() < 1e-5


def test_normalisation_recovers_gain_despite_large_change():
    rng = np.random.default_rng(5)
    before = rng.uniform(500, 3000, (4, 100, 100)).astype(np.float32)
    gain = np.array([1.2, 0.9, 1.1, 0.8])
    offset = np.array([100.0, -50.0, 30.0, 200.0])
    after = before * gain[:, None, None] + offset[:, None, None]
    after += rng.normal(0, 5, after.shape)
    after[:, :35, :] = rng.uniform(3000, 6000, (4, 35, 100))  # 35 % real change
    g, o, share = fit_normalisation(before, after, np.ones((100, 100), bool))
    assert g == pytest.approx(gain, rel=0.01)
    assert o == pytest.approx(offset, abs=15)
    assert 0.55 < share < 0.7
    restored = apply_normalisation(after, g, o)
    assert np.median(np.abs(restored - before)[:, 50:]) < 10


def test_change_magnitude_in_noise_units():
    rng = np.random.default_rng(6)
    before = rng.normal(1000, 1, (2, 200, 200))
    after = before + rng.normal(0, 10, before.shape)
    after[:, 10, 10] += 200
    magnitude, noise = change_magnitude(before, after, np.ones((200, 200), bool))
    assert noise == pytest.approx([10, 10], rel=0.1)
    assert np.median(magnitude) == pytest.approx(1.0, rel=0.25)
    assert magnitude[10, 10] > 15


def _pixel(name):
    return np.asarray(SPECTRA[name], np.float32)[:, None, None] * 10000


@pytest.mark.parametrize("name", ["concrete", "blue_steel", "white", "red_tile", "dark", "new_road"])
def test_built_surfaces(name):
    assert built_surface(_pixel(name), ROLES4)[0, 0]


@pytest.mark.parametrize("name", ["crop", "grass", "forest", "soil", "stubble", "dry_grass", "water"])
def test_not_built_surfaces(name):
    assert not built_surface(_pixel(name), ROLES4)[0, 0]


def _scene(before_name, after_name, square=None):
    """A 60 x 60 scene of one surface; ``square`` = (surface, r0, r1) painted in the after."""
    rng = np.random.default_rng(7)
    before = np.broadcast_to(_pixel(before_name), (4, 60, 60)).copy()
    after = np.broadcast_to(_pixel(after_name), (4, 60, 60)).copy()
    if square:
        name, r0, r1 = square
        after[:, r0:r1, r0:r1] = _pixel(name)
    before += rng.normal(0, 40, before.shape)
    after += rng.normal(0, 40, after.shape)
    return before.astype(np.float32), after.astype(np.float32)


def test_new_concrete_roof_on_crop_is_flagged():
    before, after = _scene("crop", "crop", ("concrete", 20, 32))
    result = detect_change(before, after, ROLES4)
    truth = np.zeros((60, 60), bool)
    truth[20:32, 20:32] = True
    assert (result.mask & truth).sum() >= 0.9 * truth.sum()
    assert (result.mask & ~truth).sum() <= 0.2 * truth.sum()


def test_harvest_is_not_construction_but_is_change():
    before, after = _scene("crop", "soil")
    # a quarter of the scene harvested: the noise estimate needs a majority unchanged
    before[:, :45] = after[:, :45] + np.random.default_rng(9).normal(0, 40, (4, 45, 60))
    assert not detect_change(before, after, ROLES4).mask.any()
    assert detect_change(before, after, ROLES4, target="any").mask[46:].mean() > 0.9


def test_demolition_to_rubble_is_not_construction():
    before, after = _scene("concrete", "concrete")
    rng = np.random.default_rng(8)
    after[:, :, 30:] = _pixel("rubble") * rng.uniform(0.8, 1.2, (1, 60, 30))
    assert not detect_change(before, after, ROLES4).mask.any()


def test_unknown_target():
    before, after = _scene("crop", "crop")
    with pytest.raises(ValueError, match="target was 'x'"):
        detect_change(before, after, ROLES4, target="x")


def test_callable_target():
    before, after = _scene("crop", "crop", ("white", 10, 30))
    result = detect_change(before, after, ROLES4, target=lambda b, a, r, sig, p: (sig, {}))
    assert result.mask[15:25, 15:25].all()


def test_invalid_pixels_never_flagged():
    before, after = _scene("crop", "crop", ("white", 10, 30))
    valid = np.ones((60, 60), bool)
    valid[:, :20] = False
    result = detect_change(before, after, ROLES4, valid=valid)
    assert not result.mask[:, :20].any()
    assert result.mask[15:25, 22:28].all()


def test_clean_mask_removes_speckle_keeps_blocks():
    mask = np.zeros((20, 20), bool)
    mask[2, 2] = True
    mask[10:16, 10:16] = True
    out = clean_mask(mask)
    assert not out[2, 2]
    assert out[10:16, 10:16].all()


def test_grow_mask_respects_allowed():
    mask = np.zeros((5, 5), bool)
    mask[2, 2] = True
    allowed = np.zeros((5, 5), bool)
    allowed[2, 3] = True
    out = grow_mask(mask, allowed, 2)
    assert out.sum() == 2 and out[2, 3]


def test_cva_otsu_finds_strong_change():
    before = np.zeros((1, 20, 20), np.float32)
    after = before.copy()
    after[0, 5:10, 5:10] = 100
    assert cva_otsu(before, after).sum() == 25
