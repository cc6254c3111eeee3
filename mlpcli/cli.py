"""``mlp``: the command line, a thin layer over the library.

Each command parses its arguments, calls the package's API and formats the result. Errors
are values: every ``MLPError`` is caught once here and becomes one line on stderr and its
exit code (SPEC §4). NumPy, pydantic and Rich's progress are imported inside the commands,
so ``mlp --help`` starts fast. The core commands live here; the others (init, schema, plot,
compare, sweep, export, data) in ``mlpcli/commands/``, added to the same app below.
"""

import sys
from pathlib import Path

import typer
import typer.core

from . import __version__
from .clihelp import Typer, examples_epilog
from .cliutil import CHECKPOINT, JSON_OUT, SET, command, emit_json, fail, gate_failed, require_finite
from .commands import export, runs, setup, sweep
from .loggers import LOGGERS


class OneLineErrors(typer.core.TyperGroup):
    """Usage errors (a missing argument, a bad option value) as one line on stderr and exit 2,
    like every other bad input, instead of click's usage block."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        vendored = getattr(typer.core, "_click", None)  # typer >= 0.20 vendors click
        if vendored is None:
            import click as vendored
        click = vendored.exceptions
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.NoArgsIsHelpError as e:
            e.show()
            sys.exit(e.exit_code)
        except click.ClickException as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None and isinstance(e, click.UsageError) else ""
            sys.stderr.write(f"mlp: error: {' '.join(e.format_message().split())}{hint}\n")
            sys.exit(e.exit_code)
        except typer.Abort:
            sys.stderr.write("mlp: aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = Typer(cls=OneLineErrors, add_completion=True, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
            help="Train multilayer perceptrons in pure NumPy from YAML configs.",
            epilog=examples_epilog(["mlp init my.yaml && mlp train my.yaml", "mlp eval runs/xor --json",
                                    "mlp COMMAND --help"]))
data_app = Typer(no_args_is_help=True, help="Prepare datasets.")
app.add_typer(data_app, name="data")


def version_callback(value: bool):
    if value:
        sys.stdout.write(f"mlp {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Print the version and exit."),
):
    """Train multilayer perceptrons in pure NumPy from YAML configs."""


# ---------------------------------------------------------------------------- train
LOG = typer.Option([], "--log", metavar="|".join(LOGGERS), help=f"Log the run to {' or '.join(LOGGERS)} (repeatable; "
                   "as --set output.log=[...]; needs its extra).")


@app.command(examples=["mlp train configs/xor.yaml",
                      "mlp train configs/mnist.yaml --set optimizer.lr=0.05 --out runs/lr005",
                      "mlp train configs/xor.yaml --json --quiet > summary.json",
                      "mlp train --resume runs/xor --more 100"])
@command
def train(
    config: Path | None = typer.Argument(None, metavar="CONFIG", help="YAML config file (with --resume: optional, and only epochs, early stopping, output and checkpoint cadence may differ)."),
    set_: list[str] = SET,
    out: Path | None = typer.Option(None, "--out", "-o", metavar="DIR", help="Run directory (default: output.dir, or runs/<config>-<time>)."),
    resume: Path | None = typer.Option(None, "--resume", metavar="RUN_DIR|CKPT", help="Continue a run (its last.npz, or the checkpoint given) with its saved config, in its directory unless --out."),
    epochs: int | None = typer.Option(None, "--epochs", min=0, metavar="N", help="Train N epochs in all (with --resume: the new total)."),
    more: int | None = typer.Option(None, "--more", min=1, metavar="N", help="With --resume: train N epochs past the checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run already in the run directory."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    json_out: bool = JSON_OUT,
    plot: bool = typer.Option(False, "--plot", help="Write the plots into RUN_DIR/plots at the end (needs the plot extra)."),
    threads: int | None = typer.Option(None, "--threads", min=1, metavar="N", help="BLAS threads (as --set training.threads=N; default: follow the free cores)."),
    log: list[str] = LOG,
):
    """Train a network from a YAML config.

    Writes the resolved config, metrics.csv, last.npz and best.npz into a run directory.
    """
    from .config import load_config
    from .progress import make_progress
    from .signals import stop_on_signals
    from .trainer import train as run_training

    if unknown := [n for n in log if n not in LOGGERS]:
        fail(f"--log: unknown logger {unknown[0]!r} (valid: {', '.join(LOGGERS)})")
    set_ = [*set_, *([f"training.threads={threads}"] if threads else []), *([f"output.log=[{','.join(log)}]"] if log else [])]
    if resume is not None:
        from .resume import plan_resume

        plan = plan_resume(resume, config, set_, epochs, more)
        if plan.nothing_to_do:
            from .runs import check_target

            check_target(out or Path(plan.checkpoint).parent, resume=plan.checkpoint, overwrite=overwrite)  # refused as a training would be
            sys.stderr.write(f"mlp: nothing to do: {plan.nothing_to_do}\n")
            if json_out:
                from .safeio import resolved

                emit_json({"run_dir": resolved(Path(plan.checkpoint).parent), "epochs_run": plan.done, "nothing_to_do": plan.nothing_to_do})
            return
        cfg, resume = plan.cfg, Path(plan.checkpoint)
    elif config is None:
        fail("give the CONFIG to train, or --resume RUN_DIR to continue a run")
    elif more is not None:
        fail("--more N continues a run: use it with --resume RUN_DIR (or --epochs N for a new run)")
    else:
        cfg = load_config(config, [*set_, *([f"training.epochs={epochs}"] if epochs is not None else [])])
    if plot:  # a missing matplotlib is found now, not after the training
        from .plots import check_matplotlib

        check_matplotlib()
    # a resumed run continues in its own directory unless --out says otherwise
    run_dir = out or (resume.parent if resume else None) or cfg.output.dir or default_run_dir(cfg)
    callbacks = make_progress(quiet)
    try:
        with stop_on_signals() as stop:
            result = run_training(cfg, callbacks, run_dir=run_dir, resume=resume, overwrite=overwrite, stop=stop)
    finally:
        for cb in callbacks:
            close = getattr(cb, "close", None)
            if close:
                close()
    summary = result.summary()
    if plot:
        from .plots import plot_run

        summary["plots"] = plot_run(result.run_dir)
    if json_out:
        emit_json(summary)
    elif not quiet:
        print_summary(summary, cfg)


def default_run_dir(cfg) -> Path:
    import time

    from .config import config_name

    return Path("runs") / f"{config_name(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"


def print_summary(summary: dict, cfg) -> None:
    from .display import number
    from .metrics import HEADLINE

    lines = [f"run directory: {summary['run_dir']}", why_stopped(summary, cfg)]
    for split, m in summary["metrics"].items():  # the headline numbers; --json and mlp eval have every one
        vals = "  ".join(f"{k} {number(v)}" for k, v in m.items() if isinstance(v, float) and k in HEADLINE)
        lines.append(f"{split:5s} ({m['n_samples']} samples): {vals}")
    sys.stdout.write("\n".join(lines) + "\n")


def why_stopped(summary: dict, cfg) -> str:
    """Why training stopped, in words."""
    n, best, reason = summary["epochs_run"], summary.get("best_epoch"), summary["stop_reason"]
    es = cfg.training.early_stopping
    if reason == "early_stopping" and es is not None and best is not None:
        kept = f"restored the weights of epoch {best}" if es.restore_best else f"kept the last weights (the best epoch was {best})"
        return f"stopped early at epoch {n}: {es.monitor} did not improve for {n - best} epochs; {kept}"
    if reason == "grad_tol":
        return f"stopped at epoch {n}: the gradient norm fell below training.grad_tol {cfg.training.grad_tol:g}"
    return f"trained all {n} epochs" + (f"; best epoch {best}" if best else "")


# ---------------------------------------------------------------------------- eval
@app.command("eval", examples=["mlp eval runs/mnist --min-accuracy 0.98",
                               "mlp eval runs/xor/best.npz --split train --json",
                               "mlp eval runs/mnist --data other.yaml --set data.path=data/other"])
@command
def eval_(
    checkpoint: Path = CHECKPOINT,
    data: Path | None = typer.Option(None, "--data", metavar="CONFIG", help="Config whose data section to evaluate on (default: the checkpoint's)."),
    set_: list[str] = typer.Option([], "--set", "-s", metavar="KEY=VALUE", help="Override a key of the --data config (repeatable)."),
    split: str = typer.Option("test", "--split", metavar="[test|train|val]", help="Which split of the data."),
    json_out: bool = JSON_OUT,
    min_accuracy: float | None = typer.Option(None, "--min-accuracy", metavar="X", help="Exit 1 when accuracy is below X (classification)."),
    min_r2: float | None = typer.Option(None, "--min-r2", metavar="X", help="Exit 1 when R^2 is below X (regression)."),
):
    """Evaluate a trained network on a split of its data.

    Loss and accuracy (or mse, mae, r2); --min-accuracy and --min-r2 gate a CI job (exit 1).
    """
    from .evaluation import evaluate_checkpoint

    if split not in ("test", "train", "val"):
        fail(f"--split must be test, train or val (got {split!r})")
    require_finite(min_accuracy=min_accuracy, min_r2=min_r2)
    if min_accuracy is not None and not 0 <= min_accuracy <= 1:  # 95 for 95% would be a gate that always fails
        percent = f"; {min_accuracy:g}% is {min_accuracy / 100:g}" if 1 < min_accuracy <= 100 else ""
        fail(f"--min-accuracy is a fraction of the samples, between 0 and 1 (got {min_accuracy:g}{percent})")
    report = evaluate_checkpoint(checkpoint, data, split, set_)
    m = report["metrics"]
    failed = None
    if min_accuracy is not None:
        if "accuracy" not in m:
            fail("--min-accuracy needs a classification checkpoint; use --min-r2 for regression")
        if m["accuracy"] < min_accuracy:
            failed = f"accuracy {m['accuracy']:.4f} is below --min-accuracy {min_accuracy}"
    if min_r2 is not None:
        if "r2" not in m:
            fail("--min-r2 needs a regression checkpoint; use --min-accuracy for classification")
        if m["r2"] < min_r2:
            failed = f"r2 {m['r2']:.4f} is below --min-r2 {min_r2}"
    if json_out:
        emit_json({**m, "split": split, "checkpoint": report["checkpoint"], **({"passed": failed is None} if (min_accuracy is not None or min_r2 is not None) else {})})
    else:
        from .evaluation import print_report

        print_report(report, split)
    if failed:
        gate_failed(failed)


# ---------------------------------------------------------------------------- predict
@app.command(examples=["mlp predict runs/mnist images.npy --out classes.npy",
                      "mlp predict runs/xor/best.npz points.npy --proba"])
@command
def predict(
    checkpoint: Path = CHECKPOINT,
    inputs: Path = typer.Argument(..., metavar="INPUT", help="Inputs: .npy shaped (n, n_in) (images (n, h, w) are flattened), "
                                  "or a table (.csv, .tsv, .csv.gz, .parquet) for a model trained on one."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="FILE", help="Write predictions to this .csv or .npy (default: print them)."),
    proba: bool = typer.Option(False, "--proba", help="Write the network's outputs (one probability column per class) instead of classes."),
    keep: list[str] = typer.Option([], "--keep", metavar="COL", help="Table column to carry into the output, e.g. an identifier (repeatable)."),
    json_out: bool = JSON_OUT,
):
    """Predict classes (or values) for new inputs.

    The inputs are preprocessed as at training time; a table model writes class names (or
    values in the target's units) as CSV.
    """
    from .evaluation import predict_file, write_predictions

    pred = predict_file(checkpoint, inputs, proba, keep)
    n = len(pred.array)
    rate = f"{n / max(pred.seconds, 1e-9):,.0f} samples/s"
    if out is not None:
        write_predictions(out, pred)
        sys.stderr.write(f"wrote {n} predictions ({', '.join(pred.columns)}) to {out} ({rate})\n")
    if json_out:
        from .safeio import resolved

        summary = {"n_samples": n, "out": resolved(out) if out else None, "columns": list(pred.columns), "classes": pred.classes,
                   "samples_per_second": n / max(pred.seconds, 1e-9)}
        if out is None:
            summary["predictions"] = {k: v.tolist() for k, v in pred.columns.items()}
        emit_json(summary)
    elif out is None and not pred.table:
        import numpy as np

        np.savetxt(sys.stdout, pred.array.reshape(n, -1), fmt="%d" if pred.array.dtype.kind in "iu" else "%.6g")
    elif out is None:
        write_predictions("-", pred)


# ---------------------------------------------------------------------------- gradcheck
@app.command(examples=["mlp gradcheck configs/mnist.yaml",
                      "mlp gradcheck runs/xor/best.npz --tol 1e-7 --json",
                      "mlp gradcheck configs/regression.yaml --data --samples 16"])
@command
def gradcheck(
    target: Path | None = typer.Argument(None, metavar="CONFIG|RUN_DIR|CKPT", help="Config (.yaml), run directory or checkpoint (.npz); default: the built-in defaults."),
    set_: list[str] = SET,
    eps: float = typer.Option(1e-6, "--eps", metavar="E", help="Central-difference step."),
    tol: float = typer.Option(1e-6, "--tol", metavar="T", help="Largest relative error accepted per tensor."),
    data: bool = typer.Option(False, "--data", help="Use the first samples of the config's data instead of a random batch."),
    samples: int = typer.Option(8, "--samples", metavar="N", help="Batch size of the check."),
    max_entries: int = typer.Option(64, "--max-entries", metavar="N", help="Entries checked per tensor (a seeded sample of larger ones)."),
    json_out: bool = JSON_OUT,
):
    """Check backprop against finite differences.

    Central differences in float64, per parameter tensor; exit 1 when any tensor exceeds --tol.
    """
    from .evaluation import run_gradcheck

    require_finite(eps=eps, tol=tol)
    if eps <= 0 or tol <= 0 or samples < 1 or max_entries < 1:
        fail("--eps, --tol, --samples and --max-entries must be positive")
    checks, source = run_gradcheck(target, set_, eps, data, samples, max_entries)
    worst = max(c.rel_error for c in checks)
    passed = worst <= tol
    if json_out:
        emit_json({"passed": passed, "tol": tol, "eps": eps, "max_rel_error": worst, "source": source,
                   "tensors": [c.as_dict() for c in checks]})
    else:
        from rich.table import Table

        from .safeio import stdout_console

        console = stdout_console()
        console.print(f"gradient check of {source} (eps {eps:g}, tol {tol:g}), float64", markup=False)
        t = Table()
        for col in ("tensor", "shape", "checked", "relative error", "max |a - n|", ""):
            t.add_column(col, justify="right" if col not in ("tensor", "") else "left")
        for c in checks:
            ok = c.rel_error <= tol
            t.add_row(c.name, "x".join(map(str, c.shape)), str(c.checked), f"{c.rel_error:.2e}", f"{c.max_abs_diff:.2e}",
                      "ok" if ok else "FAIL")
        from .display import print_table

        print_table(t)
    if not passed:
        gate_failed(f"relative error {worst:.3e} exceeds --tol {tol:g}")


# ---------------------------------------------------------------------------- inspect
@app.command(examples=["mlp inspect runs/mnist", "mlp inspect runs/xor/last.npz --json"])
@command
def inspect(
    checkpoint: Path = CHECKPOINT,
    json_out: bool = JSON_OUT,
):
    """Show a checkpoint: layers, parameters, epoch, metrics, config."""
    from .evaluation import describe_checkpoint

    info = describe_checkpoint(checkpoint)
    if json_out:
        emit_json(info)
        return
    import yaml

    lines = [f"checkpoint {info['checkpoint']}", f"  network    {info['network']}", f"  parameters {info['n_params']:,}",
             f"  epoch      {info['epoch']} (step {info['step']}{', mid-epoch at batch ' + str(info['batch']) if info['batch'] else ''})",
             f"  task       {info['task_description']}"]
    from .diagnostics import COLUMN, summary_lines

    for k, v in (info.get("metrics") or {}).items():
        if k == "epoch" or COLUMN.fullmatch(k):
            continue
        lines.append(f"  {k:10s} {v:.6g}" if isinstance(v, float) else f"  {k:10s} {v}")
    lines += summary_lines(info["diagnostics"], info.get("metrics") or {})
    lines.append("  arrays     " + ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in info["arrays"].items()))
    lines.append("config:")
    lines.append("  " + yaml.safe_dump(info["config"], sort_keys=False).rstrip().replace("\n", "\n  "))
    sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- the other commands (mlpcli/commands/)
setup.commands.register(app)
runs.commands.register(app)
sweep.commands.register(app)
export.commands.register(app)
setup.data.register(data_app)


def main():
    """Console entry point."""
    import gc
    import os

    # mlp's config models use no pydantic plugin, and looking for plugins reads the entry points of
    # every installed distribution: about 3% of a short run's start-up (PYDANTIC_DISABLE_PLUGINS= keeps them)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # Start-up (NumPy's and pydantic's imports, the config's models) makes long-lived objects and next to
    # no garbage: a collection every 700 allocations walked them for ~2.5% of a one-epoch run
    gc.set_threshold(50_000, 10, 10)
    try:
        app()
    finally:
        # the interpreter's collections at exit walk every object still alive: frozen, they are left to the
        # OS as the process ends (~4.5% of a one-epoch run; mlp closes its files itself)
        gc.freeze()


if __name__ == "__main__":
    main()
