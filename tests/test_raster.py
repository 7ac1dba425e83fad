import numpy as np
import pytest
from scipy import ndimage

from weipian.raster.difference import change_magnitude, cva_otsu
from weipian.raster.morphology import clean_mask, grow_mask
from weipian.raster.radiometry import apply_normalisation, fit_normalisation
from weipian.raster.register import apply_shift, estimate_shift

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
