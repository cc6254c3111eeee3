"""``mlp init``, ``mlp schema`` and ``mlp data mnist``: getting a config and data to train on."""

import sys
from pathlib import Path

import typer

from ..cliutil import Commands, command, emit_json, fail

commands = Commands()
data = Commands()  # the commands of `mlp data`


@commands.command(examples=["mlp init", "mlp init my-mnist.yaml --data mnist"])
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
    from ..starter import starter_config

    if path.exists() and not force:
        fail(f"{path}: exists already (use --force to overwrite)")
    from ..checkpoint import atomic_write_text

    text = starter_config(dataset, target)
    atomic_write_text(path, text)
    sys.stderr.write(f"wrote {path}; train it with: mlp train {path}\n")


@commands.command(examples=["mlp schema > mlp.schema.json"])
@command
def schema():
    """Print the config's JSON Schema.

    For editors: the YAML language server completes keys and flags mistakes with it.
    """
    from ..config import json_schema

    emit_json(json_schema())


@data.command("mnist", examples=["mlp data mnist", "mlp data mnist --from ~/Downloads/mnist --out data/mnist"])
@command
def data_mnist(
    out: Path = typer.Option(Path("data/mnist"), "--out", "-o", metavar="DIR", help="Directory for the four .npy files."),
    src: Path | None = typer.Option(None, "--from", metavar="DIR", help="Directory with the official IDX files (plain or .gz); default: download."),
):
    """Download (or convert) MNIST into four .npy files.

    Train/test images and labels, verified by SHA-256.
    """
    from ..mnist import convert

    convert(str(out), str(src) if src else None, report=lambda s: sys.stderr.write(s + "\n"))
    sys.stderr.write(f"train with: mlp train configs/mnist.yaml --set data.path={out}\n")
