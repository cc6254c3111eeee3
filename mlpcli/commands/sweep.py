"""``mlp sweep``: a hyperparameter search with Optuna."""

import sys
from pathlib import Path

import typer

from ..cliutil import JSON_OUT, Commands, command, emit_json

commands = Commands()


@commands.command(examples=["mlp sweep configs/mnist.yaml lr.yaml --trials 20",
                           "mlp sweep configs/mnist.yaml lr.yaml --workers 2 --out sweeps/lr --json"])
@command
def sweep(
    config: Path = typer.Argument(..., metavar="CONFIG", help="YAML config every trial starts from."),
    sweep_file: Path = typer.Argument(..., metavar="SWEEP.yaml", help="Sweep file: metric, direction, trials, sampler, pruner, space."),
    trials: int | None = typer.Option(None, "--trials", metavar="N", help="Trials in the sweep (overrides the sweep file's)."),
    workers: int = typer.Option(1, "--workers", metavar="N", help="Processes running trials at once (with --dask local: its workers)."),
    storage: str | None = typer.Option(None, "--storage", metavar="URL", help="Optuna storage URL (default: SWEEP_DIR/study.log)."),
    dask: str | None = typer.Option(None, "--dask", metavar="ADDRESS|local", help="Run trials on a Dask cluster (tcp://HOST:PORT), or on a local one."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Sweep directory (default: sweeps/<config>-<sweep file>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    json_out: bool = JSON_OUT,
):
    """Search hyperparameters with Optuna.

    Each trial is a run directory; sweep.csv and best.yaml sum up; re-run to continue.
    """
    from ..signals import stop_on_signals
    from ..sweep import run_sweep

    with stop_on_signals() as stop:
        result = run_sweep(config, sweep_file, trials=trials, workers=workers, storage=storage, dask=dask, out=out,
                           quiet=quiet, stop=stop)
    summary = result.summary()
    if json_out:
        emit_json(summary)
    elif not quiet:
        b = summary["best"]
        lines = [f"sweep directory: {summary['sweep_dir']}", "trials: " + ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)]
        if b:
            lines += [f"best: trial {b['trial']}, {summary['metric']} {b['value']:.6g}", f"best config: {b['config']}",
                      f"best checkpoint: {b['checkpoint']}"]
        sys.stdout.write("\n".join(lines) + "\n")
