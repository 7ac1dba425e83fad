import numpy as np
import pandas as pd
import pytest

from weipian.stats import township_stats


def constructed():
    """Two townships; farmland areas chosen so the ratios are easy to check by hand."""
    return pd.DataFrame({
        "township": ["甲", "甲", "甲", "乙", "乙", "丙"],
        "township_code": ["1", "1", "1", "2", "2", "3"],
        "label": ["violation", "government_project", "approved", "temporary_use", "violation",
                  "approved"],
        "area_m2": [100.0, 200.0, 300.0, 400.0, 50.0, 70.0],
        "farmland_m2": [60.0, 100.0, 240.0, 180.0, 20.0, 0.0],
    })


def test_hand_computed_ratios():
    s = township_stats(constructed()).set_index("township")
    # 甲: illegal = 60 + 100 = 160 of 400 -> 40 %; deducted: 60 / (400 - 100) = 20 %
    assert s.loc["甲", "farmland_m2"] == 400
    assert s.loc["甲", "farmland_illegal_m2"] == 160
    assert s.loc["甲", "ratio"] == pytest.approx(0.40)
    assert s.loc["甲", "ratio_deducted"] == pytest.approx(0.20)
    # 乙: 20 of 200 -> 10 %: under 15 %, over 8 %
    assert s.loc["乙", "ratio"] == pytest.approx(0.10)
    assert not s.loc["乙", "over_line"] and s.loc["乙", "over_strict_line"]
    # 丙: no farmland taken: no ratio
    assert np.isnan(s.loc["丙", "ratio"])
    # total: 180 of 600 -> 30 %; deducted 80 / 500 = 16 %
    assert s.loc["合计", "ratio"] == pytest.approx(0.30)
    assert s.loc["合计", "ratio_deducted"] == pytest.approx(0.16)
    assert s.loc["合计", "patches"] == 6 and s.loc["合计", "patches_violation"] == 2
    assert s.loc["甲", "area_government_project_m2"] == 200


def test_ranked_worst_first_total_last():
    s = township_stats(constructed())
    assert list(s.township) == ["甲", "乙", "丙", "合计"]
    assert list(s["rank"]) == [1, 2, 3, 0]


def test_stricter_line_is_settable():
    s = township_stats(constructed(), line=0.5, strict_line=0.35).set_index("township")
    assert not s.loc["甲", "over_line"] and s.loc["甲", "over_strict_line"]
