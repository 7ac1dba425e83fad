"""The ``weipian`` command group: logging, error reporting, subcommands."""

from __future__ import annotations

import logging
import os
import sys
import warnings

import click

from .._version import __version__
from ..errors import WeipianError, WeipianWarning


class WeipianGroup(click.Group):
    """Turn weipian errors into one-line messages with exit code 2."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except WeipianError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


def load_settings(path, commands: dict) -> dict:
    """Read a TOML settings file into click's ``default_map``.

    Top-level keys apply to every command that has the option; a table such as
    ``[run]`` applies to one command. Keys are option names with ``_`` or
    ``-`` (``min_area`` or ``min-area``). The file is data: nothing in it is
    evaluated.

    Raises
    ------
    WeipianError
        If the file cannot be read or parsed, or names an unknown option.
    """
    from ..settings import load_toml

    data = load_toml(path, hint="check --config")

    def params_of(cmd):
        names = {p.name for p in cmd.params if p.name}
        for sub in getattr(cmd, "commands", {}).values():  # a group: its subcommands' options
            names |= params_of(sub)
        return names

    def norm(key):
        key = str(key).replace("-", "_")
        return {"ledger": "ledger_path"}.get(key, key)

    defaults = {name: {} for name in commands}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in commands:
                raise WeipianError(f"{path}: [{key}] is not a command; use one of {', '.join(commands)}")
            for k, v in value.items():
                if norm(k) not in params_of(commands[key]):
                    raise WeipianError(f"{path}: [{key}] {k} is not an option of weipian {key}; "
                                       f"use one of {', '.join(sorted(params_of(commands[key])))}")
                defaults[key][norm(k)] = v
        else:
            users = [n for n, c in commands.items() if norm(key) in params_of(c)]
            if not users:
                raise WeipianError(f"{path}: {key} is not an option of any command; check the name")
            for n in users:
                defaults[n].setdefault(norm(key), value)
    for name, cmd in commands.items():  # a group's defaults go to each subcommand that has the option
        if isinstance(cmd, click.Group):
            flat = defaults[name]
            defaults[name] = {sub_name: {k: v for k, v in flat.items() if k in params_of(sub)}
                              for sub_name, sub in cmd.commands.items()}
    return defaults


@click.group(cls=WeipianGroup)
@click.version_option(__version__, prog_name="weipian")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--config", type=click.Path(), default=None,
              help="Settings file (TOML): top-level option defaults, or per-command tables like [run].")
@click.pass_context
def main(ctx, verbose, quiet, config):
    """weipian: find, outline and judge new construction between two epochs (卫片执法)."""
    if config:
        ctx.default_map = load_settings(config, main.commands)
    # GDAL's block cache defaults to 5 % of RAM; windows are read about once,
    # so a modest cache keeps memory bounded by the window size.
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    level = logging.ERROR if quiet else max(10, 30 - 10 * verbose)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"verbosity": verbose, "quiet": quiet}

    def show(message, category, filename, lineno, file=None, line=None):
        if not quiet:
            click.echo(f"Warning: {message}", err=True)

    if issubclass(WeipianWarning, Warning):
        warnings.showwarning = show


from .batch import batch_cmd  # noqa: E402
from .detect import detect_cmd  # noqa: E402
from .export import export_cmd  # noqa: E402
from .farmland import farmland_cmd  # noqa: E402
from .judge import judge_cmd  # noqa: E402
from .ledger import ledger_cmd  # noqa: E402
from .run import run_cmd  # noqa: E402
from .train import average_models_cmd, train_cmd  # noqa: E402

main.add_command(batch_cmd)
main.add_command(detect_cmd)
main.add_command(export_cmd)
main.add_command(farmland_cmd)
main.add_command(judge_cmd)
main.add_command(ledger_cmd)
main.add_command(run_cmd)
main.add_command(train_cmd)
main.add_command(average_models_cmd)


if __name__ == "__main__":
    main()
