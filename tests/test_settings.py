"""Settings objects: short forms, the CLI and the settings file build the same objects; run.json records them."""

import json

import pytest
from click.testing import CliRunner

import weipian
from weipian.cli.main import main
from weipian.settings import (
    ChangeParams,
    DeliverSettings,
    DetectSettings,
    Execution,
    JudgeSettings,
    LayerParams,
    read_settings,
    resolve,
)


def test_short_forms_fill_the_objects_they_belong_to():
    detect, judge, deliver, execution = resolve(
        {"min_area": 80, "threshold": 0.6, "farmland_where": "DLBM = '0101'", "chips": False,
         "workers": 2, "after_date": "2024-06-20"},
        detect=None, judge=None, deliver=None, execution=None)
    assert detect == DetectSettings(min_area=80, params=ChangeParams(threshold=0.6), after_date="2024-06-20")
    assert judge == JudgeSettings(after_date="2024-06-20",
                                  layer_params=LayerParams(farmland_where="DLBM = '0101'"))
    assert deliver == DeliverSettings(chips=False)
    assert execution == Execution(workers=2)


def test_a_short_form_wins_over_the_object():
    (detect,) = resolve({"threshold": 0.7}, detect=DetectSettings(min_area=10, params=ChangeParams(threshold=0.2,
                                                                                                    model="m")))
    assert detect.min_area == 10 and detect.params == ChangeParams(model="m", threshold=0.7)


def test_an_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="unexpected option.*min_aera"):
        resolve({"min_aera": 80}, detect=None)
    with pytest.raises(TypeError, match="unexpected option.*chips"):
        weipian.detect("b.tif", "a.tif", chips=False)  # a delivery setting given to detection


@pytest.mark.parametrize("make, message", [
    (lambda: DetectSettings(min_area=-1), "min_area"),
    (lambda: JudgeSettings(min_share=0), "min_share"),
    (lambda: DeliverSettings(encoding="latin-1"), "encoding"),
    (lambda: Execution(workers=0), "workers"),
])
def test_out_of_range_values_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_settings_file_and_cli_build_the_same_objects_and_run_json_records_them(small_batch, tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('min_area = 80.0\nthreshold = 0.6\nname_field = ["townships=name"]\n'
                   '[run]\nchips = false\nencoding = "GBK"\nwindow_size = 256\nworkers = 1\n',
                   encoding="utf-8")
    expected = read_settings(cfg, "run")
    assert expected["detect"].min_area == 80.0 and expected["detect"].params.threshold == 0.6
    assert expected["judge"].layer_params.name_fields == {"townships": "name"}
    assert expected["deliver"] == DeliverSettings(chips=False, encoding="GBK")
    assert expected["execution"] == Execution(window_size=256, workers=1)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["--config", str(cfg), "run", str(small_batch["before"]),
                                       str(small_batch["after"]), "--layers", str(small_batch["farmland"].parent),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))["settings"]
    for step in ("detect", "judge", "deliver"):
        assert record[step] == expected[step].to_dict()
    assert {k: v for k, v in record["execution"].items() if k not in ("work_dir", "progress")} == {
        k: v for k, v in expected["execution"].to_dict().items() if k not in ("work_dir", "progress")}


def test_python_objects_and_short_forms_give_the_same_patches(small_batch, tmp_path):
    layers = small_batch["farmland"].parent
    short = weipian.run(small_batch["before"], small_batch["after"], layers=layers, output=tmp_path / "a",
                        min_area=120.0, min_share=0.4, chips=False, window_size=256)
    objects = weipian.run(small_batch["before"], small_batch["after"], layers=layers, output=tmp_path / "b",
                          detect=DetectSettings(min_area=120.0), judge=JudgeSettings(min_share=0.4),
                          deliver=DeliverSettings(chips=False), execution=Execution(window_size=256))
    assert len(short) and short["area_m2"].min() >= 120.0
    assert short.drop(columns="geometry").equals(objects.drop(columns="geometry"))
    assert short.geometry.equals(objects.geometry)
