import datetime as dt

import numpy as np
import pytest
from conftest import write_tif

from weipian.errors import (
    BandError,
    CRSMissingError,
    DateError,
    InputFileError,
    NoOverlapError,
    OutputExistsError,
    RasterError,
)
from weipian.io import acquisition_date, atomic_path, check_output, parse_date, read_pair


@pytest.mark.parametrize("text", ["2024-06-01", "2024/6/1", "2024.6.1", "2024年6月1日", "2024年6月1",
                                  "20240601", "2024:06:01 10:20:30", 45444, "45444", 45444.0,
                                  dt.date(2024, 6, 1), dt.datetime(2024, 6, 1, 8)])
def test_parse_date_forms(text):
    assert parse_date(text) == dt.date(2024, 6, 1)


@pytest.mark.parametrize("text", ["June", "2024-13-01", "", "1.5", True])
def test_parse_date_rejects(text):
    with pytest.raises(DateError, match="YYYY-MM-DD"):
        parse_date(text, source="--after-date")


def test_acquisition_date_from_tags():
    assert acquisition_date({"TIFFTAG_DATETIME": "2024:06:20 00:00:00"}) == dt.date(2024, 6, 20)
    assert acquisition_date({"ACQUISITION_DATE": "2024-03-15"}) == dt.date(2024, 3, 15)
    assert acquisition_date({}) is None


def _pair(tmp_path, **after_kwargs):
    data = np.full((4, 20, 20), 1000, np.uint16)
    b = write_tif(tmp_path / "b.tif", data)
    a = write_tif(tmp_path / "a.tif", data, **after_kwargs)
    return b, a


def test_read_pair_same_grid(tmp_path):
    b, a = _pair(tmp_path, tags={"ACQUISITION_DATE": "2024-06-20"})
    before, after = read_pair(b, a)
    assert before.data.shape == (4, 20, 20) and after.date == dt.date(2024, 6, 20)
    assert before.roles == {"blue": 0, "green": 1, "red": 2, "nir": 3}


def test_read_pair_reprojects_after(tmp_path):
    from affine import Affine

    data = np.arange(4 * 40 * 40, dtype=np.uint16).reshape(4, 40, 40) % 500 + 100
    b = write_tif(tmp_path / "b.tif", data)
    # the same pixels at half the resolution, shifted by one coarse pixel
    coarse = data[:, ::2, ::2]
    a = write_tif(tmp_path / "a.tif", coarse,
                  transform=Affine(2.0, 0, 452000.0, 0, -2.0, 2508000.0))
    before, after = read_pair(b, a)
    assert after.data.shape == before.data.shape
    assert after.valid.all()


def test_nodata_honoured(tmp_path):
    data = np.full((4, 10, 10), 1000, np.uint16)
    data[:, :3] = 0
    b = write_tif(tmp_path / "b.tif", data, nodata=0)
    a = write_tif(tmp_path / "a.tif", np.full((4, 10, 10), 900, np.uint16))
    before, after = read_pair(b, a)
    assert not before.valid[:3].any() and before.valid[3:].all()


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="nope.tif: file not found"):
        read_pair(tmp_path / "nope.tif", tmp_path / "nope.tif")


def test_not_a_raster(tmp_path):
    p = tmp_path / "text.tif"
    p.write_text("hello")
    with pytest.raises(RasterError, match="text.tif: not a readable raster"):
        read_pair(p, p)


def test_truncated_geotiff(tmp_path):
    data = np.random.default_rng(0).integers(1, 4000, (4, 256, 256)).astype(np.uint16)
    b = write_tif(tmp_path / "b.tif", data)
    raw = b.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(RasterError, match="cut.tif"):
        read_pair(b, cut)


def test_no_crs(tmp_path):
    b, a = _pair(tmp_path, crs=None)
    with pytest.raises(CRSMissingError, match="a.tif: the raster has no CRS"):
        read_pair(b, a)


def test_no_overlap(tmp_path):
    from affine import Affine

    b, a = _pair(tmp_path, transform=Affine(1.0, 0, 462000.0, 0, -1.0, 2508000.0))
    with pytest.raises(NoOverlapError, match="does not overlap"):
        read_pair(b, a)


def test_unknown_band_names(tmp_path):
    b, a = _pair(tmp_path)
    with pytest.raises(BandError, match="unknown band name"):
        read_pair(b, a, bands="blue,green,red,swir")


def test_check_output(tmp_path):
    p = tmp_path / "x.gpkg"
    p.write_text("")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output(p, overwrite=False)
    assert check_output(p, overwrite=True) == p


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"
