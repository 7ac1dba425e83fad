"""Property-based tests (hypothesis) with a bounded number of examples."""

import datetime as dt
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from shapely.geometry import box

from weipian.deliver.lists import export_patches
from weipian.deliver.tables import neutralise, safe_filename
from weipian.errors import DateError
from weipian.io import parse_date
from weipian.learn.inputs import epoch_channels, robust_levels
from weipian.raster.register import apply_shift, estimate_shift

ROLES = {"blue": 0, "green": 1, "red": 2, "nir": 3}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def epochs(draw):
    rows = draw(st.integers(1, 40))
    cols = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32]))
    elements = (st.floats(0, 1e4, width=32, allow_nan=False) if dtype == np.float32
                else st.integers(0, np.iinfo(dtype).max))
    before = draw(arrays(dtype, (4, rows, cols), elements=elements))
    after = draw(st.one_of(st.just(before.copy()), arrays(dtype, (4, rows, cols), elements=elements)))
    valid = draw(arrays(bool, (rows, cols)))
    return before.astype(np.float32), after.astype(np.float32), valid


@FAST
@given(epochs())
def test_model_inputs_are_finite_and_bounded_for_any_image(data):
    before, _, valid = data
    levels = robust_levels(before, valid)
    assert np.all(levels[:, 1] > levels[:, 0])
    channels = epoch_channels(before, ROLES, levels, 2.0)
    assert channels.shape == (6,) + before.shape[1:]
    assert np.isfinite(channels).all()
    assert channels[:4].min() >= -0.5 and channels[:4].max() <= 1.5


@FAST
@given(arrays(np.float32, st.tuples(st.integers(1, 50), st.integers(1, 50)),
              elements=st.floats(-1e3, 1e3, width=32, allow_nan=False)))
def test_estimate_shift_is_bounded(image):
    dy, dx = estimate_shift(image, image[::-1].copy(), max_shift=3)
    assert np.isfinite([dy, dx]).all() and abs(dy) <= 3.5 and abs(dx) <= 3.5


@FAST
@given(arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(1, 20)),
              elements=st.floats(0, 100, width=32, allow_nan=False)),
       st.floats(-3, 3), st.floats(-3, 3))
def test_shift_keeps_values_in_range(image, dy, dx):
    out = apply_shift(image, (dy, dx))
    assert out.shape == image.shape
    assert out.min() >= image.min() - 1e-3 and out.max() <= image.max() + 1e-3


@FAST
@given(st.text(max_size=30))
def test_parse_date_only_raises_date_error(text):
    try:
        assert isinstance(parse_date(text), dt.date)
    except DateError:
        pass


@FAST
@given(st.dates(dt.date(1950, 1, 1), dt.date(2150, 12, 31)))
def test_parse_date_round_trips(date):
    for text in (date.isoformat(), f"{date.year}/{date.month}/{date.day}",
                 f"{date.year}年{date.month}月{date.day}日", date.strftime("%Y%m%d")):
        assert parse_date(text) == date


@FAST
@given(st.text(max_size=40))
def test_file_names_are_safe(text):
    name = safe_filename(text)
    assert name and "/" not in name and "\\\\" not in name and ".." not in name
    assert not any(ord(ch) < 32 for ch in name)


@FAST
@given(st.text(max_size=40))
def test_cells_never_start_a_formula(text):
    cell = neutralise(text)
    assert not (isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_kml_is_well_formed_for_any_attribute(tmp_path, text):
    frame = gpd.GeoDataFrame({"patch_id": [text or "x"], "label": ["violation"], "label_zh": [text],
                              "reason": [text], "area_m2": [1.0], "area_mu": [0.0],
                              "township": [text]}, geometry=[box(452000, 2500000, 452010, 2500010)],
                             crs="EPSG:4547")
    export_patches(frame, tmp_path, formats=("kml",))
    ET.parse(tmp_path / "patches.kml")  # raises on malformed XML
