import numpy as np
import pytest

from weipian.legality import LABELS_ZH, RULES, classify


def table(**columns):
    n = len(columns["area_m2"])
    base = {k: np.zeros(n) for k in ("approved_m2", "temporary_valid_m2", "temporary_expired_m2",
                                      "government_m2", "farmland_m2", "reserve_m2")}
    base.update({k: np.asarray(v, float) if k.endswith("m2") else np.asarray(v, object)
                 for k, v in columns.items()})
    return base


def test_rule_order_and_labels():
    t = table(area_m2=[100, 100, 100, 100, 100],
              approved_m2=[60, 10, 0, 0, 0],
              temporary_valid_m2=[60, 80, 0, 0, 0],
              temporary_valid_end=["2025-06-01"] * 5,
              government_m2=[60, 60, 90, 0, 0],
              farmland_m2=[0, 0, 0, 70, 0],
              temporary_expired_m2=[0, 0, 0, 0, 100],
              temporary_expired_end=["", "", "", "", "2024-05-01"])
    labels, reasons = classify(t)
    assert list(labels) == ["approved", "temporary_use", "government_project", "violation", "violation"]
    assert reasons[0] == "60 % in 批准用地"
    assert reasons[1] == "80 % in 临时用地, valid to 2025-06-01"
    assert "90 % in 政府投资项目" in reasons[2]
    assert reasons[3] == "not approved; 70 % on 耕地"
    assert "expired 临时用地" in reasons[4] and "2024-05-01" in reasons[4]


def test_min_share_boundary():
    t = table(area_m2=[100, 100], approved_m2=[50, 49.9])
    labels, _ = classify(t, min_share=0.5)
    assert list(labels) == ["approved", "violation"]
    labels, _ = classify(t, min_share=0.8)
    assert list(labels) == ["violation", "violation"]


def test_reason_names_feature():
    t = table(area_m2=[200], approved_m2=[150], approved_name=["粤府土审[2023]101号"])
    _, reasons = classify(t)
    assert reasons[0] == "75 % in 批准用地 粤府土审[2023]101号"


def test_partial_approval_is_stated():
    t = table(area_m2=[100], approved_m2=[20], reserve_m2=[80], reserve_name=["储备地块01"])
    labels, reasons = classify(t)
    assert labels[0] == "violation"
    assert reasons[0] == "only 20 % in 批准用地; 80 % on 储备地 储备地块01"


def test_custom_rules():
    def big_is_approved(t, share):
        hit = np.asarray(t["area_m2"]) > 150
        return hit, np.where(hit, "big", "")

    labels, reasons = classify(table(area_m2=[100, 200]), rules={"approved": big_is_approved})
    assert list(labels) == ["violation", "approved"] and reasons[1] == "big"


def test_bad_min_share():
    with pytest.raises(ValueError, match="min_share should be in"):
        classify(table(area_m2=[1]), min_share=0)


def test_every_label_has_chinese():
    assert set(LABELS_ZH) == set(RULES) | {"violation"}
