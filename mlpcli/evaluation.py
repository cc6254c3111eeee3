"""What ``mlp eval``, ``predict``, ``gradcheck`` and ``inspect`` do, as library functions."""

from __future__ import annotations

import os
import time

import numpy as np

from .checkpoint import load_checkpoint
from .config import load_config, validate
from .data import check_finite, load_array, load_data, prepare_inputs
from .errors import DataError
from .losses import targets_for
from .metrics import predicted_classes
from .model import MLP, evaluate
from .yamlfile import apply_overrides


def data_config_for(net, data_config=None, overrides=()):
    """The checkpoint's config with the data section (and seed) of ``data_config`` if given."""
    merged = net.config.to_dict()
    source = f"{net.meta.get('config_source', 'checkpoint config')}"
    if data_config is not None:
        d = load_config(data_config, overrides)
        merged["data"], merged["seed"], source = d.to_dict()["data"], d.seed, str(data_config)
    elif overrides:
        apply_overrides(merged, overrides)
    merged["training"]["epochs"] = 0  # evaluation trains nothing (and a step network is fine)
    merged["model"]["init"] = {"name": "xavier"}
    return validate(merged, source)


def evaluate_checkpoint(path, data_config=None, split="test", overrides=()) -> dict:
    net = load_checkpoint(path)
    cfg = data_config_for(net, data_config, overrides)
    ds = load_data(cfg, normalizer=net.normalizer)
    s = ds.split(split)
    classification = ds.task == "classification"
    t0 = time.perf_counter()
    result = evaluate(net, s.X, s.y, ds.task, confusion=classification)
    seconds = time.perf_counter() - t0
    metrics, cm = result if classification else (result, None)
    report = {"metrics": metrics, "seconds": seconds, "task": ds.task, "checkpoint": net.path}
    if classification:
        report["confusion_matrix"] = cm
        with np.errstate(invalid="ignore", divide="ignore"):
            report["per_class_accuracy"] = np.where(cm.sum(1) > 0, np.diag(cm) / np.maximum(cm.sum(1), 1), np.nan)
    return report


def print_report(report: dict, split: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    m = report["metrics"]
    console.print(f"{split} split: {m['n_samples']} samples", markup=False)
    t = Table()
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in m.items():
        if k != "n_samples":
            t.add_row(k, f"{v:.6f}")
    console.print(t)
    cm = report.get("confusion_matrix")
    if cm is not None and len(cm) <= 20:
        console.print("confusion matrix (rows: true class, columns: predicted)", markup=False)
        c = Table()
        c.add_column("class")
        for j in range(len(cm)):
            c.add_column(str(j), justify="right")
        c.add_column("accuracy", justify="right")
        for i, row in enumerate(cm):
            acc = report["per_class_accuracy"][i]
            c.add_row(str(i), *[f"[bold]{v}[/]" if i == j else str(v) for j, v in enumerate(row)],
                      "-" if np.isnan(acc) else f"{acc:.4f}")
        console.print(c)


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
    return prepare_inputs(X, net.normalizer, net.dtype)


def predict_file(checkpoint, inputs, proba=False):
    net = load_checkpoint(checkpoint)
    X = read_inputs(net, inputs)
    t0 = time.perf_counter()
    A = net.forward(X)
    pred = A if (proba or net.task == "regression") else predicted_classes(A)
    return pred, time.perf_counter() - t0


def run_gradcheck(target, overrides, eps, use_data, samples, max_entries):
    from .gradient_check import gradcheck, random_batch

    if target is not None and (str(target).endswith(".npz") or os.path.isdir(target)):
        net = load_checkpoint(target)
        cfg = data_config_for(net, None, overrides)
        norm = net.normalizer
    else:
        cfg = load_config(target, overrides)
        cfg_eval = cfg.model_copy(update={"training": cfg.training.model_copy(update={"epochs": 0})})
        net, norm = MLP.from_config(cfg_eval), None
    if use_data:
        ds = load_data(cfg, normalizer=norm)
        X = np.asarray(ds.train.X[:samples], dtype=np.float64)
        y = targets_for(ds.train.y[:samples], cfg.loss, net.layers[-1], np.float64)
    else:
        X, y = random_batch(net.layers, cfg.loss, samples, seed=cfg.seed)
    return gradcheck(net, X, y, eps=eps, max_entries=max_entries, seed=cfg.seed), str(target or "defaults")


def describe_checkpoint(path) -> dict:
    net = load_checkpoint(path)
    meta = net.meta
    return {
        "checkpoint": os.path.abspath(net.path), "network": repr(net), "layers": net.layers,
        "activations": [repr(g) for g in net.activations], "loss": net.loss.name, "n_params": net.n_params,
        "epoch": meta.get("epoch", 0), "step": meta.get("step", 0), "batch": meta.get("batch", 0),
        "task": meta.get("task", net.task), "metrics": meta.get("metrics") or {},
        "normalizer": (net.normalizer or {}).get("kind", "none"), "saved_at": meta.get("saved_at"),
        "mlpcli_version": meta.get("mlpcli_version"),
        "arrays": {k: list(v.shape) for k, v in net.arrays.items()}, "config": net.config.to_dict(),
    }
