"""``mlp plot`` and ``mlp compare``: looking at finished runs."""

import sys
from pathlib import Path

import typer

from ..cliutil import JSON_OUT, Commands, command, emit_json, fail

commands = Commands()


@commands.command(examples=["mlp plot runs/mnist", "mlp plot runs/xor --out figures", "mlp plot sweeps/mnist-lr",
                           "mlp plot --compare runs/lr01 runs/lr005 --out figures"])
@command
def plot(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR|CKPT...", help="Run directory written by mlp train, or one of its checkpoints (plotted instead of best.npz); several with --compare."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Directory for the PNGs (default RUN_DIR/plots; with --compare the current directory)."),
    compare: bool = typer.Option(False, "--compare", help="Overlay the runs' learning curves in one PNG, compare_learning_curves.png."),
):
    """Write PNG plots of a run (or of a sweep).

    Learning curves, weights, confusion matrix, decision boundary, predictions. Of a sweep
    directory: sweep.png (metric per trial, best so far, metric against each parameter).
    """
    if compare:
        from ..compare import plot_comparison

        sys.stdout.write(f"{plot_comparison(run_dirs, out or Path('.'))}\n")
        return
    if len(run_dirs) != 1:
        fail(f"mlp plot takes one run directory (got {len(run_dirs)}); add --compare to overlay several runs' curves")
    run_dir = run_dirs[0]
    from ..plots import plot_run
    from ..sweepplot import is_sweep_dir, plot_sweep

    for p in (plot_sweep if is_sweep_dir(run_dir) else plot_run)(run_dir, out):
        sys.stdout.write(f"{p}\n")


@commands.command(examples=["mlp compare runs/lr01 runs/lr005", "mlp compare runs/* --json"])
@command
def compare(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR...", help="Run directories written by mlp train."),
    json_out: bool = JSON_OUT,
):
    """Compare runs side by side.

    The config keys in which they differ, epochs and best epoch, the final train/val/test
    metrics and the seconds spent training.
    """
    from ..compare import compare_runs, comparison_table
    from ..display import number, print_table

    report = compare_runs(run_dirs)
    if json_out:
        emit_json({"differences": report["differences"],
                   "runs": [{k: v for k, v in r.items() if k not in ("config", "history")} for r in report["runs"]]})
    else:
        print_table(comparison_table(report, number))
