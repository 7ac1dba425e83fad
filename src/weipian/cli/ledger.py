"""``weipian ledger add|verify|status|report|export-training``: the patch ledger (图斑台账)."""

from __future__ import annotations

import click

ledger_opt = click.option(
    "--ledger", "ledger_path", default="ledger.gpkg", show_default=True, envvar="WEIPIAN_LEDGER",
    metavar="PATH|URL",
    help="The ledger: a GeoPackage file, or postgresql://user@host/db for PostGIS "
    "(also WEIPIAN_LEDGER or `ledger =` in the settings file).",
)
who_opt = click.option("--who", default=None, envvar="WEIPIAN_USER",
                       help="Who makes the change [default: WEIPIAN_USER, else the login name].")


@click.group("ledger")
def ledger_cmd():
    """Track patches across batches: field outcomes, cases, rectification, closure."""


@ledger_cmd.command("add")
@click.argument("outdirs", nargs=-1, required=True, type=click.Path())
@ledger_opt
@click.option("--match-share", type=click.FloatRange(0, 1, min_open=True), default=0.3, show_default=True,
              help="Overlap (share of the smaller patch) that makes a patch a repeat of an earlier one.")
@click.option("--match-distance", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Centroid distance (m) that makes a repeat without that overlap.")
@who_opt
def add_cmd(outdirs, ledger_path, match_share, match_distance, who):
    """Ingest the output folders of `weipian run` (one batch each, oldest first)."""
    from ..ledger import Ledger

    for outdir in outdirs:
        with Ledger(ledger_path) as book:  # a new ledger is created by the first batch, in its CRS
            r = book.add_run(outdir, min_share=match_share, max_distance=match_distance, who=who)
        notes = "".join(f"; {n} {k}" for k, n in sorted(r.notes.items()))
        reopened = f"; reopened {', '.join(r.reopened)}" if r.reopened else ""
        click.echo(f"{outdir}: batch {r.batch}: {r.new} new, {r.repeats} repeats{notes}{reopened}")


@ledger_cmd.command("verify")
@click.argument("file", type=click.Path())
@ledger_opt
@who_opt
def verify_cmd(file, ledger_path, who):
    """Import field-verification outcomes (XLSX/CSV/GPKG keyed by patch id)."""
    from ..ledger import Ledger, read_outcomes

    outcomes = read_outcomes(file)
    with Ledger(ledger_path) as book:
        n = book.record_outcomes(outcomes, who=who, source=str(file))
    counts = outcomes["outcome"].value_counts().to_dict()
    click.echo(f"{n} outcomes recorded from {file}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@ledger_cmd.command("status")
@click.argument("patch_ids", nargs=-1, required=True)
@click.option("--set", "new_state", default=None, metavar="STATE",
              help="Move to this state (疑似 已核查 立案 整改中 已整改 销项 合法 不立案, or English names).")
@click.option("--note", default=None, help="Why, recorded with the change.")
@click.option("--expect-version", type=int, default=None,
              help="Refuse the change if the patch is no longer at this version (someone else changed it).")
@ledger_opt
@who_opt
def status_cmd(patch_ids, new_state, note, expect_version, ledger_path, who):
    """Show patches' state and history, or move them to --set STATE (all or none)."""
    from ..ledger import Ledger

    with Ledger(ledger_path) as book:
        if new_state is None:
            for pid in patch_ids:
                state, version = book.state_of(pid)
                click.echo(f"{pid}: {state} (version {version})")
                for row in book.history(pid).itertuples(index=False):
                    change = f"{row.from_state or ''} → {row.to_state}" if row.to_state else ""
                    click.echo(f"  {row.at}  {row.who}  {row.action}  {change}  {row.note or ''}".rstrip())
            return
        versions = book.set_state(list(patch_ids), new_state, who=who, note=note,
                                    expected_version=expect_version)
    for pid, version in versions.items():
        click.echo(f"{pid}: now {new_state} (version {version})")


def _overdue(items) -> dict:
    from ..errors import WeipianError
    from ..ledger.states import normalise_state

    out = {}
    for item in items:
        state, sep, days = str(item).partition("=")
        if not sep or not days.strip().isdigit():
            raise WeipianError(f"--overdue {item!r} is not STATE=DAYS; write e.g. 整改中=90")
        out[normalise_state(state)] = int(days)
    return out


@ledger_cmd.command("report")
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder for ledger_report.xlsx/.html.")
@click.option("--as-of", default=None, metavar="YYYY-MM-DD", help="Count overdue days to this date [today].")
@click.option("--overdue", multiple=True, metavar="STATE=DAYS",
              help="Days a patch may stay in a state (repeatable) [疑似=30 已核查=30 立案=60 整改中=90].")
@ledger_opt
def report_cmd(output, as_of, overdue, ledger_path):
    """Per township and batch: states, 整改率, 违法占耕比, worst ten, expired temporary use, overdue."""
    from ..io import parse_date
    from ..ledger import Ledger, write_ledger_report

    day = parse_date(as_of, source="--as-of") if as_of else None
    with Ledger(ledger_path) as book:
        written = write_ledger_report(book, output, as_of=day, overdue_days=_overdue(overdue))
    t = written["tables"]
    click.echo(f"ledger report written to {written['xlsx']} and {written['html']}: "
               f"{len(t['overdue'])} overdue, {len(t['expired_temporary'])} expired temporary approvals "
               "still occupied")


@ledger_cmd.command("export-training")
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder for the samples.")
@click.option("--batch", "batches", multiple=True, help="Only this batch (repeatable).")
@ledger_opt
def export_training_cmd(output, batches, ledger_path):
    """Write verified patches and their images' paths for `weipian train --verified`."""
    from ..ledger import Ledger, export_training

    with Ledger(ledger_path) as book:
        out = export_training(book, output, batches=list(batches) or None)
    click.echo(f"{sum(out['batches'].values())} verified patches of {len(out['batches'])} batches written; "
               f"train with: weipian train MODEL_DIR --from-model default --verified {out['manifest']}")
