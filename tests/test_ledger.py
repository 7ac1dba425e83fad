"""The patch ledger on both back ends: ingest, matching, states, outcomes, report, training export.

Every test that takes ``ledger_location`` runs once on a GeoPackage file and
once on a PostgreSQL + PostGIS database started from the Debian packages.
Areas are of axis-aligned boxes in EPSG:4547 metres, so they are checked by hand.
"""

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from weipian.errors import InputFileError, WeipianError
from weipian.ledger import ConflictError, Ledger, TransitionError, export_training, read_outcomes
from weipian.ledger.report import ledger_tables
from weipian.ledger.states import TRANSITIONS

X0, Y0 = 452000.0, 2500000.0


def b(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def batch_frame(batch, rows, after="2024-06-20"):
    """Judged patches: rows of (serial, geometry, label, township, farmland_m2, temporary_expired_m2)."""
    records = []
    for serial, geom, label, town, farm, expired in rows:
        records.append({"patch_id": f"440305-{batch}-{serial:06d}", "label": label, "reason": "r",
                        "evidence_category": "违法", "township": town, "township_code": "440305001",
                        "area_m2": geom.area, "farmland_m2": farm, "basic_farmland_m2": 0.0,
                        "temporary_expired_m2": expired, "key_project": False,
                        "before_date": "2024-03-01", "after_date": after})
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=[r[1] for r in rows], crs="EPSG:4547")


def first_batch():
    return batch_frame("2024Q2", [
        (1, b(0, 0, 20, 20), "violation", "南山街道", 400.0, 0.0),       # 400 m²
        (2, b(100, 0, 110, 10), "violation", "南山街道", 100.0, 0.0),    # 100 m²
        (3, b(200, 0, 230, 10), "violation", "西丽街道", 0.0, 300.0),    # 300 m², expired temporary use
        (4, b(300, 0, 320, 10), "approved", "西丽街道", 200.0, 0.0),     # 200 m²
    ])


def second_batch():
    return batch_frame("2024Q3", [
        (1, b(4, 0, 24, 20), "violation", "南山街道", 400.0, 0.0),       # 80 % over patch 1
        (2, b(103, 0, 113, 10), "violation", "南山街道", 100.0, 0.0),    # 70 % over patch 2
        (3, b(200, 0, 230, 10), "violation", "西丽街道", 0.0, 300.0),    # patch 3 again
        (4, b(900, 900, 910, 910), "violation", "西丽街道", 50.0, 0.0),  # new
    ], after="2024-09-20")


def walk(ledger, pid, *states, who="李工"):
    for s in states:
        ledger.set_state(pid, s, who=who)


def test_add_match_repeat_and_reopen(ledger_location):
    with Ledger(ledger_location) as ledger:  # no ledger yet: the first batch creates it
        with pytest.raises(InputFileError, match="no ledger here yet"):
            ledger.patches()
        r = ledger.add_patches(first_batch(), batch="2024Q2")
        assert ledger.crs == "EPSG:4547"
        assert (r.new, r.repeats) == (4, 0)
        p1 = "440305-2024Q2-000001"
        walk(ledger, p1, "已核查", "立案", "整改中", "已整改")
        r = ledger.add_patches(second_batch(), batch="2024Q3")
        assert (r.new, r.repeats) == (1, 3)
        assert r.reopened == [p1]
        frame = ledger.patches().set_index("patch_id")
        assert frame.loc[p1, "state"] == "整改中"  # reopened
        q1 = frame.loc["440305-2024Q3-000001"]
        assert q1["state"] == "重复" and q1["repeat_of"] == p1
        assert q1["match_note"].startswith("上期已整改，图斑仍在，重新打开 (matches 440305-2024Q2-000001, overlap 80 %")
        assert frame.loc["440305-2024Q3-000002", "match_note"].startswith("上期已下发未核查")
        assert frame.loc["440305-2024Q3-000004", "state"] == "疑似"
        history = ledger.history(p1)
        assert list(history["action"]) == ["added", "state", "state", "state", "state", "reopened"]
        assert history["note"].iloc[-1] == "still present in batch 2024Q3 as 440305-2024Q3-000001"
        assert set(history["who"]) >= {"李工"}
        # a third batch matching the repeat resolves to the case it belongs to
        third = batch_frame("2024Q4", [(1, b(4, 0, 24, 20), "violation", "南山街道", 400.0, 0.0)],
                            after="2024-12-20")
        ledger.add_patches(third, batch="2024Q4")
        assert ledger.patches(batch="2024Q4")["repeat_of"].iloc[0] == p1
        with pytest.raises(WeipianError, match="batch 2024Q2 is already in the ledger"):
            ledger.add_patches(first_batch(), batch="2024Q2")
        assert len(ledger.patches()) == 9


def test_matching_settings(ledger_location):
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2")
        r = ledger.add_patches(second_batch(), batch="2024Q3", min_share=0.9, max_distance=1.0)
        # only patch 3 (identical) still matches
        assert (r.new, r.repeats) == (3, 1)


def test_transitions_are_checked(ledger_location):
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2")
        pid = "440305-2024Q2-000002"
        with pytest.raises(TransitionError, match="cannot go from 疑似 to 销项; allowed from 疑似: 已核查, 合法, 不立案"):
            ledger.set_state(pid, "销项")
        with pytest.raises(WeipianError, match="unknown state '完成'"):
            ledger.set_state(pid, "完成")
        with pytest.raises(WeipianError, match="no patch 'nope'"):
            ledger.set_state("nope", "已核查")
        # all or none: the second id is illegal, so the first does not move either
        with pytest.raises(TransitionError):
            ledger.set_state([pid, "440305-2024Q2-000001"], "立案")
        assert ledger.state_of(pid) == ("疑似", 1)
        versions = ledger.set_state(pid, "verified", who="王工", note="外业")  # English alias
        assert versions == {pid: 2}
        with pytest.raises(ConflictError, match="changed by someone else"):
            ledger.set_state(pid, "立案", expected_version=1)
        ledger.set_state(pid, "立案", expected_version=2)
        assert ledger.state_of(pid) == ("立案", 3)


def test_every_state_is_reachable_only_by_listed_moves():
    from weipian.ledger.states import STATES, check_transition

    for a in STATES:
        for c in STATES:
            if c in TRANSITIONS[a]:
                check_transition("p", a, c)
            else:
                with pytest.raises(TransitionError):
                    check_transition("p", a, c)


def test_verify_imports_all_or_nothing(ledger_location, tmp_path):
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2")
        bad = pd.DataFrame({"图斑编号": ["440305-2024Q2-000001", "440305-2024Q2-000009", "x-1"],
                            "核查结果": ["真实新增", "实地未变化", "拆了"]})
        bad.to_excel(tmp_path / "bad.xlsx", index=False)
        with pytest.raises(InputFileError, match=r"unknown outcome values \['拆了'\]"):
            read_outcomes(tmp_path / "bad.xlsx")
        bad["核查结果"] = ["真实新增", "实地未变化", "非建设"]
        bad.to_excel(tmp_path / "bad.xlsx", index=False)
        outcomes = read_outcomes(tmp_path / "bad.xlsx")
        with pytest.raises(WeipianError, match="patch ids not in the ledger: 440305-2024Q2-000009, x-1"):
            ledger.record_outcomes(outcomes, source="bad.xlsx")
        assert ledger.patches()["outcome"].isna().all()  # nothing half-imported
        good = pd.DataFrame({"patch_id": ["440305-2024Q2-000001", "440305-2024Q2-000002"],
                             "outcome": ["真实新增", "no_change"], "举证类别": ["违法", "非新增"],
                             "照片": ["IMG_1.jpg;IMG_2.jpg", ""], "核查人": ["张三", "张三"],
                             "核查时间": ["2024/7/1", "2024-07-02"]})
        good.to_csv(tmp_path / "good.csv", index=False, encoding="gbk")
        n = ledger.record_outcomes(read_outcomes(tmp_path / "good.csv"), who="李工", source="good.csv")
        assert n == 2
        frame = ledger.patches().set_index("patch_id")
        row = frame.loc["440305-2024Q2-000001"]
        assert (row["state"], row["outcome"], row["outcome_category"], row["photos"]) == (
            "已核查", "真实新增", "违法", "IMG_1.jpg;IMG_2.jpg")
        assert (row["verified_by"], row["verified_at"]) == ("张三", "2024-07-01")
        assert frame.loc["440305-2024Q2-000002", "outcome"] == "实地未变化"
        assert ledger.history("440305-2024Q2-000001")["action"].iloc[-1] == "verified"


def test_outcomes_file_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_outcomes(tmp_path / "none.xlsx")
    pd.DataFrame({"id_no": ["a"], "结果": ["真实新增"]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(InputFileError, match="no patch_id or outcome column.*columns present: id_no, 结果"):
        read_outcomes(tmp_path / "x.csv")
    pd.DataFrame({"patch_id": ["a"], "outcome": ["真实新增"], "核查时间": ["下周"]}).to_csv(
        tmp_path / "y.csv", index=False)
    with pytest.raises(InputFileError, match="row 2: '下周' is not a date"):
        read_outcomes(tmp_path / "y.csv")


def test_report_tables_by_hand(ledger_location, tmp_path):
    from weipian.ledger import write_ledger_report

    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2")
        walk(ledger, "440305-2024Q2-000001", "已核查", "立案", "整改中", "已整改")  # 400 m² rectified
        walk(ledger, "440305-2024Q2-000002", "已核查", "立案")                      # 100 m² filed
        walk(ledger, "440305-2024Q2-000003", "已核查", "立案", "整改中")            # 300 m² filed
        ledger.add_patches(second_batch(), batch="2024Q3")  # reopens patch 1
        ledger.set_state("440305-2024Q2-000001", "已整改")
        tables = ledger_tables(ledger.patches(), ledger.batches(), as_of=dt.date.today())
        rect = tables["rectification"].set_index(["batch", "township"])
        # 南山 2024Q2: filed 1 and 2 (500 m²), rectified 1 (400 m²)
        row = rect.loc[("2024Q2", "南山街道")]
        assert (row["filed"], row["rectified"]) == (2, 1)
        assert row["rate_count"] == pytest.approx(0.5) and row["rate_area"] == pytest.approx(0.8)
        # 西丽 2024Q2: filed 3 (300 m²), none rectified
        assert rect.loc[("2024Q2", "西丽街道"), "rate_area"] == 0
        assert rect.loc[("2024Q2", "合计"), "rate_area"] == pytest.approx(400 / 800)
        worst = tables["worst"]
        assert list(worst["township"]) == ["西丽街道", "南山街道"] and list(worst["rank"]) == [1, 2]
        ratio = tables["ratio"].set_index(["batch", "township"])
        # 2024Q2: illegal farmland 400 + 100 of 700 (the approved patch's 200 is legal)
        assert ratio.loc[("2024Q2", "合计"), "ratio"] == pytest.approx(500 / 700)
        # 2024Q3: repeats left out, only the new patch (50 m² illegal of 50)
        assert ratio.loc[("2024Q3", "合计"), "ratio"] == pytest.approx(1.0)
        expired = tables["expired_temporary"]
        assert list(expired["patch_id"]) == ["440305-2024Q3-000003"]
        by_state = tables["by_state"].set_index(["batch", "township"])
        assert by_state.loc[("2024Q3", "合计"), "n_重复"] == 3
        assert by_state.loc[("2024Q2", "合计"), "area_已整改"] == pytest.approx(400)
        # overdue: 30 days after today every 疑似 (limit 30) is not yet overdue; 31 days after, it is
        later = tables_as_of(ledger, dt.date.today() + dt.timedelta(days=31))
        assert set(later["overdue"]["patch_id"]) == {"440305-2024Q2-000004", "440305-2024Q3-000004"}
        assert tables_as_of(ledger, dt.date.today() + dt.timedelta(days=29))["overdue"].empty
        tight = ledger_tables(ledger.patches(), ledger.batches(), as_of=dt.date.today() + dt.timedelta(days=2),
                              overdue_days={"立案": 1})
        assert list(tight["overdue"]["patch_id"]) == ["440305-2024Q2-000002"]
        written = write_ledger_report(ledger, tmp_path / "rep")
    from openpyxl import load_workbook

    wb = load_workbook(written["xlsx"])
    assert wb.sheetnames == ["状态统计", "整改率", "违法占耕比", "整改率最低十街道", "到期未收回临时用地", "超期图斑"]
    page = written["html"].read_text(encoding="utf-8")
    assert "整改率（按面积）" in page and "西丽街道" in page and "80.0%" in page


def tables_as_of(ledger, day):
    return ledger_tables(ledger.patches(), ledger.batches(), as_of=day)


def test_export_training(ledger_location, tmp_path):
    from weipian.learn.verified import outcome_of
    from weipian.ledger.training import read_training_manifest

    before, after = tmp_path / "b.tif", tmp_path / "a.tif"
    with Ledger(ledger_location, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2", before_image=str(before), after_image=str(after))
        with pytest.raises(InputFileError, match="no verified patches"):
            export_training(ledger, tmp_path / "t")
        ledger.record_outcomes(pd.DataFrame({
            "patch_id": ["440305-2024Q2-000001", "440305-2024Q2-000004"], "outcome": ["真实新增", "非建设"],
            "category": [None, None], "photos": [None, None], "verified_by": [None, None],
            "verified_at": [None, None]}))
        with pytest.raises(InputFileError, match="images of verified batches not found"):
            export_training(ledger, tmp_path / "t")
        before.write_bytes(b"")
        after.write_bytes(b"")
        out = export_training(ledger, tmp_path / "t")
    assert out["batches"] == {"2024Q2": 2}
    rows = read_training_manifest(out["manifest"])
    layer = gpd.read_file(rows[0]["patches"])
    assert list(outcome_of(layer["verified"])) == ["new_construction", "not_construction"]
    assert layer.area.iloc[0] == pytest.approx(400)


def test_geopackage_ledger_opens_in_gdal(tmp_path):
    import pyogrio

    path = tmp_path / "l.gpkg"
    with Ledger(path, crs="EPSG:4547") as ledger:
        ledger.add_patches(first_batch(), batch="2024Q2")
    frame = pyogrio.read_dataframe(path, layer="ledger_patches")
    assert frame.crs.to_epsg() == 4547
    assert sorted(frame.area.round(3)) == [100.0, 200.0, 300.0, 400.0]
    assert "ledger_history" in pyogrio.list_layers(path)[:, 0]


def test_no_ledger_and_newer_schema(tmp_path):
    with Ledger(tmp_path / "none.gpkg") as ledger, pytest.raises(InputFileError, match="no ledger here yet"):
        ledger.batches()
    assert not (tmp_path / "none.gpkg").exists()  # reading made no file
    path = tmp_path / "l.gpkg"
    Ledger(path, crs="EPSG:4547").close()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(WeipianError, match="schema 99 was written by a newer weipian"):
        Ledger(path)
    (tmp_path / "junk.gpkg").write_text("junk")
    with pytest.raises(InputFileError, match="not a ledger GeoPackage"):
        Ledger(tmp_path / "junk.gpkg")


def make_schema1_ledger(location):
    """A ledger as schema 1 wrote it: no version, photos or outcome_category columns."""
    from weipian.ledger.backend import GeoPackageBackend, backend_for
    from weipian.ledger.schema import create_statements

    backend = backend_for(location)
    conn = backend.connect()
    with backend.transaction(conn):
        backend.register_srs(conn, "EPSG:4547")
        for statement in create_statements(backend.types, version=1):
            conn.execute(statement)
        if isinstance(backend, GeoPackageBackend):
            backend.register_tables(conn, "ledger_patches", ("ledger_meta", "ledger_batches", "ledger_history"))
        run = lambda sql, params=(): conn.execute(backend.sql(sql), params)  # noqa: E731
        for k, v in (("schema_version", "1"), ("srid", "4547"), ("created_at", "2024-01-01"),
                     ("created_by", "old")):
            run("INSERT INTO ledger_meta VALUES (?, ?)", (k, v))
        run("INSERT INTO ledger_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("2024Q1", "", "2024-03-20", "", "", "", 1, "2024-04-01", "old"))
        geom = backend.geom_values(np.array([b(0, 0, 10, 10)], dtype=object))[0]
        run("INSERT INTO ledger_patches (patch_id, batch, label, area_m2, state, state_since, minx, miny, "
            f"maxx, maxy, geom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {backend.geom_placeholder()})",
            ("440305-2024Q1-000001", "2024Q1", "violation", 100.0, "立案", "2024-04-01T00:00:00+00:00",
             X0, Y0, X0 + 10, Y0 + 10, geom))
    conn.close()


def test_older_ledger_is_migrated_after_a_backup(ledger_location):
    make_schema1_ledger(ledger_location)
    with Ledger(ledger_location) as ledger:
        assert ledger.migrated_from == 1 and ledger.schema_version == 2
        assert ledger.backup
        assert ledger.state_of("440305-2024Q1-000001") == ("立案", 1)
        ledger.set_state("440305-2024Q1-000001", "整改中")
        backup = ledger.backup
        if ledger.backend.kind == "postgis":
            rows = ledger.conn.execute(f"SELECT count(*) FROM {backup}.ledger_patches").fetchone()
            meta = ledger.conn.execute(f"SELECT value FROM {backup}.ledger_meta WHERE key = 'schema_version'")
            assert rows[0] == 1 and meta.fetchone()[0] == "1"
    if not ledger_location.startswith("postgresql"):
        import sqlite3

        with sqlite3.connect(backup) as conn:
            assert conn.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()[0] == "1"
            assert conn.execute("SELECT state FROM ledger_patches").fetchone()[0] == "立案"
    with Ledger(ledger_location) as ledger:  # opened again: nothing more to migrate
        assert ledger.migrated_from is None


def test_cli_ledger_commands(tmp_path, runner):
    from weipian.cli.main import main
    from weipian.workflows import write_patches

    for batch, frame in (("2024Q2", first_batch()), ("2024Q3", second_batch())):
        out = tmp_path / batch
        out.mkdir()
        write_patches(frame, out / "patches.gpkg")
        (out / "run.json").write_text(f'{{"judge": {{"batch": "{batch}"}}, "inputs": {{}}}}', encoding="utf-8")
    settings = tmp_path / "weipian.toml"
    settings.write_text(f'ledger = "{tmp_path / "台账.gpkg"}"\n', encoding="utf-8")
    cfg = ["--config", str(settings)]
    r = runner.invoke(main, [*cfg, "ledger", "add", str(tmp_path / "2024Q2"), str(tmp_path / "2024Q3"),
                             "--who", "李工"])
    assert r.exit_code == 0, r.output
    assert "batch 2024Q2: 4 new, 0 repeats" in r.output and "batch 2024Q3: 1 new, 3 repeats" in r.output
    r = runner.invoke(main, [*cfg, "ledger", "status", "440305-2024Q3-000004", "--set", "已核查"])
    assert r.exit_code == 0 and "now 已核查 (version 2)" in r.output
    r = runner.invoke(main, [*cfg, "ledger", "status", "440305-2024Q3-000004", "--set", "销项"])
    assert r.exit_code == 2 and "allowed from 已核查: 立案, 合法, 不立案" in r.output
    r = runner.invoke(main, [*cfg, "ledger", "status", "440305-2024Q3-000004"])
    assert "已核查 (version 2)" in r.output and "added" in r.output
    pd.DataFrame({"图斑编号": ["440305-2024Q2-000001"], "核查结果": ["真实新增"]}).to_excel(
        tmp_path / "v.xlsx", index=False)
    r = runner.invoke(main, [*cfg, "ledger", "verify", str(tmp_path / "v.xlsx")])
    assert r.exit_code == 0 and "1 outcomes recorded" in r.output, r.output
    r = runner.invoke(main, [*cfg, "ledger", "report", "-o", str(tmp_path / "rep"), "--overdue", "整改中=5"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "ledger_report.xlsx").exists() and (tmp_path / "rep" / "ledger_report.html").exists()
    r = runner.invoke(main, [*cfg, "ledger", "report", "-o", str(tmp_path / "rep2"), "--overdue", "整改中"])
    assert r.exit_code == 2 and "is not STATE=DAYS" in r.output
    r = runner.invoke(main, ["ledger", "status", "x", "--ledger", str(tmp_path / "none.gpkg")])
    assert r.exit_code == 2 and "no ledger here yet" in r.output


def test_a_failed_first_add_leaves_no_ledger(ledger_location):
    bad = first_batch()
    bad.loc[1, "patch_id"] = bad.loc[0, "patch_id"]
    with Ledger(ledger_location) as ledger:
        with pytest.raises(WeipianError, match="patch ids given twice: 440305-2024Q2-000001"):
            ledger.add_patches(bad, batch="2024Q2")
        other = first_batch().to_crs("+proj=tmerc +lon_0=114.2 +k=1 +x_0=500000 +ellps=GRS80")
        with pytest.raises(WeipianError, match="needs a CRS with an EPSG code"):
            ledger.add_patches(other, batch="2024Q2")
    with Ledger(ledger_location) as ledger:
        with pytest.raises(InputFileError, match="no ledger here yet"):
            ledger.batches()
        ledger.add_patches(first_batch(), batch="2024Q2")
        assert len(ledger.patches()) == 4
