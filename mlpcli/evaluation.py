"""What ``mlp eval``, ``predict``, ``gradcheck`` and ``inspect`` do, as library functions."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from .config import load_config, validate
from .data import check_finite, load_array, load_data, load_for_model, prepare_inputs
from .dataset import target_units
from .errors import DataError
from .losses import targets_for
from .memory import check_allocation
from .metrics import class_probabilities, predicted_classes
from .model import MLP, split_report
from .preprocess import TablePreprocessor
from .safeio import resolved
from .task import needs_data
from .trained import load_checkpoint
from .yamlfile import apply_overrides, override_keys


def data_config_for(net, data_config=None, overrides=()):
    """The checkpoint's config with the data section (and seed) of ``data_config`` if given."""
    merged = net.config.to_dict()
    source = f"{net.meta.get('config_source', 'checkpoint config')}"
    if data_config is not None:
        d = load_config(data_config, overrides)
        merged["data"], merged["seed"], source = d.to_dict()["data"], d.seed, str(data_config)
    elif overrides:
        keys = set(override_keys(overrides))
        if "data.test" in keys and "data.test_fraction" not in keys:
            merged["data"].pop("test_fraction", None)  # a test file replaces the split the run held out
        apply_overrides(merged, overrides)
    merged["training"]["epochs"] = 0  # evaluation trains nothing (and a step network is fine)
    merged["model"]["init"] = {"name": "xavier"}
    return validate(merged, source)


def evaluate_checkpoint(path, data_config=None, split="test", overrides=()) -> dict:
    net = load_checkpoint(path)
    cfg = data_config_for(net, data_config, overrides)
    ds = load_data(cfg, normalizer=net.normalizer, task=net.task)  # the task decided in training
    s = ds.split(split)
    t0 = time.perf_counter()
    unscale = target_units(net.normalizer)
    metrics, cm, A = split_report(net.model, s.X, s.y, net.task, unscale)
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not np.isfinite(v)]
    if bad or not np.isfinite(A).all():
        raise DataError(f"{ds.source}: the {split} split gives a non-finite {', '.join(bad) or 'output'} with this "
                        f"checkpoint (inputs too large for {net.dtype.name}?)")
    seconds = time.perf_counter() - t0
    report = {"metrics": metrics, "seconds": seconds, "task": net.task.kind, "checkpoint": resolved(net.path),
              "scaled_target": unscale is not None}
    if cm is not None:
        report["confusion_matrix"], report["classes"] = cm, list(net.task.classes)
    return report


def outputs(net, X, chunk=8192, source="inputs") -> np.ndarray:
    """The network's outputs (n, k) for every row of X, a block at a time; never non-finite (values
    too large for the network's dtype are bad input, not results)."""
    with np.errstate(over="ignore", invalid="ignore"):
        A = np.concatenate([np.asarray(net.forward(np.asarray(X[i : i + chunk])), np.float64).reshape(-1, net.layers[-1])
                            for i in range(0, len(X), chunk)])
    if not np.isfinite(A).all():
        raise DataError(f"{source}: the network's outputs are not finite for some inputs (values too large for "
                        f"{net.dtype.name}?)")
    return A


def print_report(report: dict, split: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    from .display import number, print_table
    from .safeio import stdout_console

    console = stdout_console()
    m = report["metrics"]
    console.print(f"{split} split: {m['n_samples']} samples", markup=False, soft_wrap=True)
    t = Table()
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in m.items():
        if isinstance(v, float):
            t.add_row(k, number(v))
    print_table(t)
    if report.get("scaled_target"):
        console.print("loss: the training objective, on the standardised target (data.normalize_target); "
                      "mse, rmse, mae: in the target's own units", markup=False)
    cm = report.get("confusion_matrix")
    if cm is not None and len(cm) <= 20:
        names, per_class = report["classes"], m["per_class"]
        console.print("confusion matrix (rows: true class, columns: predicted) and each class's precision, recall, F1", markup=False, soft_wrap=True)
        c = Table()
        c.add_column("class")
        for name in names:  # class names come from the user's data: text, never markup
            c.add_column(escape(name), justify="right")
        for col in ("precision", "recall", "f1", "support"):
            c.add_column(col, justify="right")
        for i, row in enumerate(cm):
            pc = per_class[names[i]]
            c.add_row(escape(names[i]), *[f"[bold]{v}[/]" if i == j else str(v) for j, v in enumerate(row)],
                      *(number(pc[k]) for k in ("precision", "recall", "f1")), str(pc["support"]))
        print_table(c)


def read_inputs(net, path):
    """Inputs for ``predict``: a numeric .npy, images flattened, width and values checked."""
    X = load_array(path)
    if X.ndim == 1:
        X = X.reshape(-1, 1) if net.layers[0] == 1 else X.reshape(1, -1)
    elif X.ndim > 2:
        X = X.reshape(len(X), -1)
    if X.shape[1] != net.layers[0]:
        raise DataError(f"{path}: inputs have {X.shape[1]} features but the network expects {net.layers[0]}")
    check_finite(X, "inputs", str(path))
    return prepare_inputs(X, net.normalizer, net.dtype, source=str(path), name="inputs", lazy=False)


@dataclass
class Predictions:
    """What ``mlp predict`` writes: ``array`` for .npy, ``columns`` (name -> values) for .csv."""

    array: np.ndarray
    columns: dict
    seconds: float
    classes: list | None = None
    table: bool = False  # predictions for a table: printed as CSV with a header


def predict_file(checkpoint, inputs, proba=False, keep=()) -> Predictions:
    net = load_checkpoint(checkpoint)
    if proba and not net.task.classification:
        raise DataError(f"{net.path}: --proba gives class probabilities, but this model does {net.task.kind} "
                        "(it predicts values); leave out --proba")
    if net.normalizer.get("kind") == "table":
        return predict_table(net, inputs, proba, keep)
    if keep:
        raise DataError(f"{inputs}: --keep carries table columns, but this model was trained on arrays")
    X = read_inputs(net, inputs)
    t0 = time.perf_counter()
    A = outputs(net, X, source=str(inputs)).astype(net.dtype)
    pred = class_probabilities(A) if proba else predicted_classes(A) if net.task.classification else A
    seconds = time.perf_counter() - t0
    flat = pred.reshape(len(pred), -1)
    if proba:  # one column per class, named by class (arrays' classes are 0, 1, ...)
        columns = {f"proba_{i}": flat[:, i] for i in range(flat.shape[1])}
    else:
        columns = {"prediction" if flat.shape[1] == 1 else f"prediction_{i}": flat[:, i] for i in range(flat.shape[1])}
    return Predictions(pred, columns, seconds)


def predict_table(net, path, proba=False, keep=()) -> Predictions:
    """Predictions for a table: the target in class names or original units, ``--proba`` one column
    per class, ``--keep`` columns carried through unchanged."""
    from .table import SUFFIXES, read_table

    pre = TablePreprocessor(net.normalizer, net.task)
    if not str(path).lower().endswith(SUFFIXES):
        raise DataError(f"{path}: this model was trained on a table; give a table ({', '.join(SUFFIXES)})")
    d = net.config.data
    text, numeric = pre.column_types()
    # --keep columns are read as text, so they are written back as they are in the file ('0.0' stays '0.0');
    # one that is also a numeric input is read a second time, as text
    table = read_table(path, text=text + [k for k in keep if k not in numeric], numeric=numeric,
                       skip=[c for c in d.drop if c not in keep], **d.reading())  # dropped columns are not read, unless kept
    pre.check_columns(table)
    for name in keep:
        table.column(name)
    twice = [k for k in keep if k in numeric]
    kept = read_table(path, text=twice, usecols=twice, **d.reading()) if twice else table
    bad = pre.incomplete_rows(table)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        col = next(c["name"] for c in pre.spec["columns"] if c["fill"] is None and table.columns[c["name"]].missing[row])
        raise DataError(f"{path}:{table.line(row)}: column {col!r} is missing a value, and the model was trained with "
                        f"data.missing: drop (set mean/median/most_frequent to impute)")
    X = pre.transform(table, net.dtype)
    t0 = time.perf_counter()
    A = outputs(net, X, source=str(path))
    seconds = time.perf_counter() - t0
    names = pre.target_names
    columns = {f"true_{name}" if name in names else name: np.asarray((kept if name in twice else table).columns[name].text(), dtype=object)
               for name in keep}
    decoded = pre.decode(A)
    if net.task.classification:  # the task decided in training
        classes = list(net.task.classes)
        columns[names[0]] = decoded
        if proba:
            P = class_probabilities(A)
            columns.update({f"proba_{c}": P[:, i] for i, c in enumerate(classes)})
            return Predictions(P, columns, seconds, classes, table=True)
        return Predictions(decoded.astype(str), columns, seconds, classes, table=True)
    columns.update({n: decoded[:, i] for i, n in enumerate(names)})
    return Predictions(decoded[:, 0] if len(names) == 1 else decoded, columns, seconds, table=True)


def write_predictions(out, pred: Predictions) -> None:
    """Predictions to ``out``: .csv (a header, one row per input) or .npy; ``-`` is CSV on stdout."""
    import csv
    import io
    import sys

    from .checkpoint import atomic_write

    out = str(out)
    if out.lower().endswith(".npy"):
        atomic_write(out, lambda f: np.lib.format.write_array(f, pred.array, allow_pickle=False))
        return
    if out != "-" and not out.lower().endswith(".csv"):
        raise DataError(f"{out}: --out must end in .csv or .npy")

    def write(f):
        text = io.TextIOWrapper(f, encoding="utf-8", newline="") if out != "-" else f
        w = csv.writer(text, lineterminator="\n")
        w.writerow(pred.columns)
        cols = [_cells(v) for v in pred.columns.values()]
        w.writerows(zip(*cols, strict=True))
        text.flush()
        if out != "-":
            text.detach()

    if out == "-":
        write(sys.stdout)
    else:
        atomic_write(out, write)


def _cells(values: np.ndarray) -> list:
    if values.dtype.kind == "f":
        return [f"{v:.7g}" for v in values.tolist()]
    return values.tolist()


def run_gradcheck(target, overrides, eps, use_data, samples, max_entries):
    from .gradient_check import gradcheck, random_batch

    if target is not None and (str(target).endswith(".npz") or os.path.isdir(target)):
        net = load_checkpoint(target)
        cfg = data_config_for(net, None, overrides)
        norm, task = net.normalizer, net.task
    else:
        cfg, norm, task = load_config(target, overrides), None, None
        if needs_data(cfg):  # auto widths or the task's head: the data decides them
            cfg = load_for_model(cfg)[0]
        net = MLP.from_config(cfg.model_copy(update={"training": cfg.training.model_copy(update={"epochs": 0})}))
    check_allocation(samples * sum(net.layers) * 8 * 6, f"--samples {samples:,}: a batch of that many samples")
    if use_data:
        ds = load_data(cfg, normalizer=norm, task=task)
        X = np.asarray(ds.train.X[:samples], dtype=np.float64)
        y = targets_for(ds.train.y[:samples], cfg.loss, net.layers[-1], np.float64)
    else:
        X, y = random_batch(net.layers, cfg.loss, samples, seed=cfg.seed)
    return gradcheck(net, X, y, eps=eps, max_entries=max_entries, seed=cfg.seed), str(target or "defaults")


def describe_checkpoint(path) -> dict:
    from .diagnostics import summary

    net = load_checkpoint(path)
    meta = net.meta
    inactive = ((meta.get("callbacks") or {}).get("diagnostics") or {}).get("inactive", {})
    return {
        "checkpoint": resolved(net.path), "network": repr(net), "layers": net.layers,
        "activations": [repr(g) for g in net.activations], "loss": net.loss.name, "n_params": net.n_params,
        "epoch": meta.get("epoch", 0), "step": meta.get("step", 0), "batch": meta.get("batch", 0),
        **{"task": net.task.kind, "task_description": net.task.describe()},
        **{k: v for k, v in net.task.to_dict().items() if k != "kind"}, "metrics": meta.get("metrics") or {},
        "normalizer": (net.normalizer or {}).get("kind", "none"), "saved_at": meta.get("saved_at"),
        "mlpcli_version": meta.get("mlpcli_version"),
        "diagnostics": summary(meta.get("metrics") or {}, net.layers, [g.name for g in net.activations], inactive),
        "arrays": {k: list(v.shape) for k, v in net.arrays.items()}, "config": net.config.to_dict(),
    }
