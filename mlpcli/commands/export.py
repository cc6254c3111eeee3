"""``mlp export``: a checkpoint as an ONNX model."""

import sys
from pathlib import Path

import typer

from ..cliutil import CHECKPOINT, JSON_OUT, Commands, command, emit_json, fail

commands = Commands()


@commands.command(examples=["mlp export runs/mnist --format onnx --out mnist.onnx",
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
    from ..onnx_export import export_onnx
    from ..trained import load_checkpoint

    if out is None:
        out = (checkpoint / "model.onnx") if checkpoint.is_dir() else checkpoint.with_suffix(".onnx")
    info = export_onnx(load_checkpoint(checkpoint), out)
    if json_out:
        emit_json(info)
    else:
        sys.stderr.write(f"wrote {out} (ONNX opset {info['opset']}, {info['bytes']:,} bytes): {info['doc']}\n")
