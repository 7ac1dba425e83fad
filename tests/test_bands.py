import pytest

from weipian.bands import parse_band_list, resolve_band_roles
from weipian.errors import BandError


def test_defaults_by_count():
    assert resolve_band_roles(4) == {"blue": 0, "green": 1, "red": 2, "nir": 3}
    assert resolve_band_roles(3) == {"red": 0, "green": 1, "blue": 2}


def test_explicit_list_wins_over_descriptions():
    roles = resolve_band_roles(4, bands="nir,red,green,blue", descriptions=("blue", "green", "red", "nir"))
    assert roles == {"nir": 0, "red": 1, "green": 2, "blue": 3}


def test_descriptions_used():
    roles = resolve_band_roles(5, descriptions=("coastal", "B02", "B03", "B04", "B08"))
    assert roles == {"blue": 1, "green": 2, "red": 3, "nir": 4}


def test_skip_band():
    assert parse_band_list("red,green,blue,-") == ("red", "green", "blue", None)


def test_more_bands_without_names_is_an_error():
    with pytest.raises(BandError, match="name them with --bands"):
        resolve_band_roles(6, source="x.tif")


def test_unknown_name():
    with pytest.raises(BandError, match="unknown band name 'swir'"):
        parse_band_list("blue,green,red,swir")


def test_wrong_count():
    with pytest.raises(BandError, match="names 3 bands but the file has 4"):
        resolve_band_roles(4, bands="red,green,blue", source="x.tif")


def test_missing_visible_band():
    with pytest.raises(BandError, match="no blue"):
        resolve_band_roles(3, bands="red,green,nir")
