from hypothesis import given, settings
from hypothesis import strategies as st

from weipian.engine.windows import tile_windows


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 700), width=st.integers(1, 700), size=st.integers(1, 800),
       halo=st.integers(0, 40))
def test_cores_tile_the_image_exactly(height, width, size, halo):
    tiles = tile_windows(height, width, size, halo=halo)
    covered = 0
    for t in tiles:
        core, read = t.core, t.read
        covered += core.width * core.height
        assert read.col_off <= core.col_off and read.row_off <= core.row_off
        assert read.col_off + read.width >= core.col_off + core.width
        assert read.row_off + read.height >= core.row_off + core.height
        assert 0 <= read.col_off and read.col_off + read.width <= width
        assert 0 <= read.row_off and read.row_off + read.height <= height
        # the halo is complete wherever the image allows
        assert core.col_off - read.col_off == min(halo, core.col_off)
        r, c = t.inner
        assert r.stop - r.start == core.height and c.stop - c.start == core.width
    assert covered == height * width
    assert len({t.key for t in tiles}) == len(tiles)


def test_single_window():
    assert len(tile_windows(100, 50, None)) == 1
    assert len(tile_windows(100, 50, 5000)) == 1
