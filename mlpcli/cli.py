"""``mlp``: the command line, a thin layer over the library.

Each command parses its arguments, calls the package's API and formats the result. Errors
are values: every ``MLPError`` is caught once here and becomes one line on stderr and its
exit code (SPEC §4). NumPy, pydantic and Rich's progress are imported inside the commands,
so ``mlp --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import typer
import typer.core

from . import __version__
from .clihelp import Typer, examples_epilog


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

SET_HELP = "Override a config key, value parsed as YAML (repeatable): --set optimizer.lr=0.05"
SET = typer.Option([], "--set", "-s", metavar="KEY=VALUE", help=SET_HELP)


def fail(message: str, code: int = 2):
    """One line on stderr (one per error when a config has several), then exit with ``code``."""
    lines = [" ".join(line.split()) for line in str(message).splitlines()]
    sys.stderr.write("".join(f"mlp: error: {line}\n" for line in lines if line) or "mlp: error:\n")
    raise typer.Exit(code)


def require_finite(**options) -> None:
    """Numbers given on the command line are finite: ``--min-accuracy nan`` is bad usage, not a gate."""
    import math

    for name, value in options.items():
        if value is not None and not math.isfinite(value):
            fail(f"--{name.replace('_', '-')} must be a finite number (got {value})")


def gate_failed(message: str):
    """A CI gate was not met: one line on stderr, exit 1."""
    sys.stderr.write(f"mlp: gate failed: {message}\n")
    raise typer.Exit(1)


CHECKPOINT = typer.Argument(..., metavar="RUN_DIR|CKPT",
                            help="Run directory (its best.npz, else last.npz) or a checkpoint .npz written by mlp train.")
JSON_OUT = typer.Option(False, "--json", help="Print one JSON object on stdout (logs stay on stderr).")


def command(fn):
    """Turn library errors into one stderr line and the exit code of their type."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import MLPError

        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a full stdout (/dev/full) fails here, not at interpreter exit
            return result
        except MLPError as e:
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            sys.stderr.write("mlp: interrupted\n")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except OSError as e:  # the environment failed: a full disk or stdout, a missing or read-only place
            from .safeio import os_reason

            if e.filename is None:
                _silence_stdout()
            fail(f"{e.filename or '<stdout>'}: {os_reason(e)}")
        except MemoryError:
            fail("out of memory (the network or the data is too large for this machine; try smaller model.layers "
                 "or training.batch_size)")

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of unwritable output cannot fail."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def emit_json(obj) -> None:
    """One strict JSON object on stdout: NaN and infinities, which JSON has no words for, become null."""
    text = json.dumps(_strict(obj), indent=2, default=_json_default, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _strict(o):
    import math

    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if type(o).__module__ == "numpy":
        return _strict(_json_default(o))
    return o


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


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
):
    """Train a network from a YAML config.

    Writes the resolved config, metrics.csv, last.npz and best.npz into a run directory.
    """
    from .config import load_config
    from .progress import make_progress
    from .signals import stop_on_signals
    from .trainer import train as run_training

    set_ = [*set_, *([f"training.threads={threads}"] if threads else [])]
    if resume is not None:
        from .resume import plan_resume

        plan = plan_resume(resume, config, set_, epochs, more)
        if plan.nothing_to_do:
            from .runs import check_target

            check_target(out or Path(plan.checkpoint).parent, resume=plan.checkpoint, overwrite=overwrite)  # refused as a training would be
            sys.stderr.write(f"mlp: nothing to do: {plan.nothing_to_do}\n")
            if json_out:
                emit_json({"run_dir": str(Path(plan.checkpoint).parent), "epochs_run": plan.done, "nothing_to_do": plan.nothing_to_do})
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

    lines = [f"run directory: {summary['run_dir']}", why_stopped(summary, cfg)]
    for split, m in summary["metrics"].items():
        vals = "  ".join(f"{k} {number(v)}" for k, v in m.items() if isinstance(v, float))
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
        summary = {"n_samples": n, "out": str(out) if out else None, "columns": list(pred.columns), "classes": pred.classes,
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


# ---------------------------------------------------------------------------- inspect / init / schema
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
    for k, v in (info.get("metrics") or {}).items():
        if k == "epoch":
            continue
        lines.append(f"  {k:10s} {v:.6g}" if isinstance(v, float) else f"  {k:10s} {v}")
    lines.append("  arrays     " + ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in info["arrays"].items()))
    lines.append("config:")
    lines.append("  " + yaml.safe_dump(info["config"], sort_keys=False).rstrip().replace("\n", "\n  "))
    sys.stdout.write("\n".join(lines) + "\n")


@app.command(examples=["mlp init", "mlp init my-mnist.yaml --data mnist"])
@command
def init(
    path: Path = typer.Argument(Path("mlp.yaml"), metavar="PATH", help="Where to write the config."),
    dataset: str = typer.Option("xor", "--data", metavar="NAME|FILE", help="Starter for: xor, regression, mnist, npy, or your table (.csv, .tsv, .csv.gz, .parquet)."),
    target: str | None = typer.Option(None, "--target", metavar="COL", help="With a table: the column to predict."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Write a commented starter config.

    Every key with its value, its default and what it means.
    """
    from .starter import starter_config

    if path.exists() and not force:
        fail(f"{path}: exists already (use --force to overwrite)")
    from .checkpoint import atomic_write_text

    text = starter_config(dataset, target)
    atomic_write_text(path, text)
    sys.stderr.write(f"wrote {path}; train it with: mlp train {path}\n")


@app.command(examples=["mlp schema > mlp.schema.json"])
@command
def schema():
    """Print the config's JSON Schema.

    For editors: the YAML language server completes keys and flags mistakes with it.
    """
    from .config import json_schema

    emit_json(json_schema())


@app.command(examples=["mlp plot runs/mnist", "mlp plot runs/xor --out figures", "mlp plot sweeps/mnist-lr",
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
        from .compare import plot_comparison

        sys.stdout.write(f"{plot_comparison(run_dirs, out or Path('.'))}\n")
        return
    if len(run_dirs) != 1:
        fail(f"mlp plot takes one run directory (got {len(run_dirs)}); add --compare to overlay several runs' curves")
    run_dir = run_dirs[0]
    from .plots import plot_run
    from .sweepplot import is_sweep_dir, plot_sweep

    for p in (plot_sweep if is_sweep_dir(run_dir) else plot_run)(run_dir, out):
        sys.stdout.write(f"{p}\n")


@app.command(examples=["mlp compare runs/lr01 runs/lr005", "mlp compare runs/* --json"])
@command
def compare(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR...", help="Run directories written by mlp train."),
    json_out: bool = JSON_OUT,
):
    """Compare runs side by side.

    The config keys in which they differ, epochs and best epoch, the final train/val/test
    metrics and the seconds spent training.
    """
    from .compare import compare_runs, comparison_table
    from .display import number, print_table

    report = compare_runs(run_dirs)
    if json_out:
        emit_json({"differences": report["differences"],
                   "runs": [{k: v for k, v in r.items() if k not in ("config", "history")} for r in report["runs"]]})
    else:
        print_table(comparison_table(report, number))


# ---------------------------------------------------------------------------- sweep
@app.command(examples=["mlp sweep configs/mnist.yaml lr.yaml --trials 20",
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
    from .signals import stop_on_signals
    from .sweep import run_sweep

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


# ---------------------------------------------------------------------------- export
@app.command(examples=["mlp export runs/mnist --format onnx --out mnist.onnx",
                      "mlp export runs/xor/best.npz --format onnx --json"])
@command
def export(
    checkpoint: Path = CHECKPOINT,
    format_: str = typer.Option("onnx", "--format", metavar="[onnx]", help="Model format: onnx (ONNX opset 17; needs the onnx extra)."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="FILE", help="Output file (default: the checkpoint's name with .onnx; RUN_DIR/model.onnx for a run directory)."),
    json_out: bool = JSON_OUT,
):
    """Export a checkpoint as an ONNX model (opset 17).

    The model runs without mlpcli: onnxruntime or any other ONNX runtime.

    The graph takes the raw inputs (normalisation and table encoding are in it) and gives
    probabilities and label for classification, predictions in the target's units for regression.
    """
    if format_ != "onnx":
        fail(f"--format must be onnx (got {format_!r})")
    from .onnx_export import export_onnx
    from .trained import load_checkpoint

    if out is None:
        out = (checkpoint / "model.onnx") if checkpoint.is_dir() else checkpoint.with_suffix(".onnx")
    info = export_onnx(load_checkpoint(checkpoint), out)
    if json_out:
        emit_json(info)
    else:
        sys.stderr.write(f"wrote {out} (ONNX opset {info['opset']}, {info['bytes']:,} bytes): {info['doc']}\n")


# ---------------------------------------------------------------------------- data
@data_app.command("mnist", examples=["mlp data mnist", "mlp data mnist --from ~/Downloads/mnist --out data/mnist"])
@command
def data_mnist(
    out: Path = typer.Option(Path("data/mnist"), "--out", "-o", metavar="DIR", help="Directory for the four .npy files."),
    src: Path | None = typer.Option(None, "--from", metavar="DIR", help="Directory with the official IDX files (plain or .gz); default: download."),
):
    """Download (or convert) MNIST into four .npy files.

    Train/test images and labels, verified by SHA-256.
    """
    from .mnist import convert

    convert(str(out), str(src) if src else None, report=lambda s: sys.stderr.write(s + "\n"))
    sys.stderr.write(f"train with: mlp train configs/mnist.yaml --set data.path={out}\n")


def main():
    """Console entry point."""
    import os

    # mlp's config models use no pydantic plugin, and looking for plugins reads the entry points of
    # every installed distribution: about 3% of a short run's start-up (PYDANTIC_DISABLE_PLUGINS= keeps them)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()


if __name__ == "__main__":
    main()
