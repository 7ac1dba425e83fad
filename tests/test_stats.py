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
        "key_project": [False, True, False, False, False, False],
    })


def test_hand_computed_ratios():
    s = township_stats(constructed()).set_index("township")
    # 甲: illegal = 60 + 100 = 160 of 400 -> 40 %; deducted (the project is a key project):
    # 60 / (400 - 100) = 20 %
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


def test_only_key_projects_are_deducted():
    p = constructed()
    p["key_project"] = False  # the government project of 甲 is not a key project
    s = township_stats(p).set_index("township")
    assert s.loc["甲", "farmland_government_m2"] == 100
    assert s.loc["甲", "farmland_key_project_m2"] == 0
    assert s.loc["甲", "ratio_deducted"] == pytest.approx(s.loc["甲", "ratio"]) == pytest.approx(0.40)
    assert township_stats(p.drop(columns="key_project")).set_index("township").loc[
        "甲", "ratio_deducted"] == pytest.approx(0.40)


def test_basic_farmland_classes_and_facility_agriculture():
    p = constructed()
    p["basic_farmland_m2"] = [30.0, 0.0, 100.0, 0.0, 5.0, 0.0]
    p["farmland_0101_m2"] = [60.0, 0.0, 40.0, 0.0, 0.0, 0.0]
    p["farmland_0103_m2"] = [0.0, 100.0, 200.0, 180.0, 20.0, 0.0]
    extra = pd.DataFrame({"township": ["甲"], "township_code": ["1"], "label": ["not_construction"],
                          "area_m2": [500.0], "farmland_m2": [500.0], "key_project": [False],
                          "basic_farmland_m2": [500.0], "farmland_0101_m2": [500.0],
                          "farmland_0103_m2": [0.0]})
    s = township_stats(pd.concat([p, extra], ignore_index=True)).set_index("township")
    # facility agriculture is not new construction: 甲 as before
    assert s.loc["甲", "farmland_m2"] == 400 and s.loc["甲", "ratio"] == pytest.approx(0.40)
    assert s.loc["甲", "patches_not_construction"] == 1
    assert s.loc["甲", "basic_farmland_m2"] == 130 and s.loc["甲", "basic_farmland_illegal_m2"] == 30
    assert s.loc["甲", "farmland_0101_m2"] == 100 and s.loc["甲", "farmland_0103_m2"] == 300
    assert s.loc["甲", "farmland_0102_m2"] == 0
    assert s.loc["合计", "basic_farmland_illegal_m2"] == 35


def test_a_cjk_font_installed_after_matplotlib_listed_its_fonts_is_found(monkeypatch):
    # matplotlib caches its font list on first use; make browser installs fonts-noto-cjk after that
    from matplotlib import font_manager

    from weipian import stats

    if not any("CJK" in p for p in font_manager.findSystemFonts()):
        pytest.skip("no CJK font file on this machine")
    stats.cjk_font()  # where the fonts are listed now (or added by an earlier call), drop their files
    cjk_files = {f.fname for f in font_manager.fontManager.ttflist if f.name in stats.CJK_FONTS}
    listed = [f for f in font_manager.fontManager.ttflist if f.fname not in cjk_files]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", listed)
    stats._add_unlisted_system_fonts.cache_clear()
    try:
        assert stats.cjk_font() in stats.CJK_FONTS
    finally:
        stats._add_unlisted_system_fonts.cache_clear()
