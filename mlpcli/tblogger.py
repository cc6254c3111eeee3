"""``--log tensorboard``: event files in RUN_DIR/tensorboard (README "Loggers").

Per epoch: every number of the row (losses and metrics as ``loss/train``, ``loss/val``, ...,
the learning rate, diagnostics under ``diagnostics/``) and a histogram of each layer's
weights; at the start, the resolved config as text. Written with TensorBoard's own event
writer and protocol buffers (the ``tensorboard`` extra; neither TensorFlow nor PyTorch is needed).
"""

from __future__ import annotations

import time

import numpy as np

from .errors import ConfigError
from .hooks import Callback
from .loggers import require, scalars

BINS = 30
FLUSH_SECONDS = 5  # TensorBoard's writer writes its queue in the background at least this often


def tag(column: str) -> str:
    """A metrics.csv column as a TensorBoard tag: ``train_loss`` -> ``loss/train``, diagnostics grouped."""
    from .diagnostics import COLUMN

    split, _, metric = column.partition("_")
    if split in ("train", "val") and metric:
        return f"{metric}/{split}"
    return f"diagnostics/{column}" if COLUMN.fullmatch(column) else column


class TensorBoardLogger(Callback):
    order, key = 94, "tensorboard"  # after the checkpoints (90), before MLflow (96) copies its files

    def __init__(self, trainer):
        writer = require("tensorboard.summary.writer.event_file_writer", "tensorboard")
        self.pb = require("tensorboard.compat.proto.summary_pb2", "tensorboard")
        self.event_pb = require("tensorboard.compat.proto.event_pb2", "tensorboard")
        if trainer.run is None:
            raise ConfigError("output.log: tensorboard writes into the run directory; train with one (--out DIR)")
        self.make_writer, self.writer = writer.EventFileWriter, None

    def on_train_start(self, trainer):
        from .runs import config_yaml

        self.writer = self.make_writer(trainer.run.path("tensorboard"), flush_secs=FLUSH_SECONDS)
        text = "```yaml\n" + config_yaml(trainer.config_dict) + "```"  # the run's config.yaml
        self.write(self.pb.Summary(value=[text_value("config", text)]), trainer.epoch)

    def on_epoch_end(self, trainer, row):
        step = int(row["epoch"])
        values = [self.pb.Summary.Value(tag=tag(k), simple_value=v) for k, v in scalars(row).items()]
        values += [self.pb.Summary.Value(tag=f"weights/W{i}", histo=histogram(W))
                   for i, W in enumerate(trainer.model.W, start=1)]
        self.write(self.pb.Summary(value=values), step)  # queued: written within FLUSH_SECONDS, and at the end

    def write(self, summary, step):
        self.writer.add_event(self.event_pb.Event(summary=summary, step=step, wall_time=time.time()))

    def close(self, *_):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    on_train_end = on_abort = close


def text_value(name: str, text: str):
    """A Summary value TensorBoard's text plugin shows (a string tensor; markdown rendered)."""
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text.encode()],
                                    tensor_shape=tensor_shape_pb2.TensorShapeProto())
    return summary_pb2.Summary.Value(tag=f"{name}/text_summary", metadata=meta, tensor=tensor)


def histogram(W: np.ndarray):
    """A layer's weights as TensorBoard's HistogramProto (``BINS`` equal buckets over their range)."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    w = np.asarray(W, dtype=np.float64).ravel()
    lo, hi = float(w.min()), float(w.max())
    counts, edges = np.histogram(w, bins=BINS, range=(lo, hi))  # the range given: no second min/max pass
    return HistogramProto(min=lo, max=hi, num=float(w.size), sum=float(w.sum()), sum_squares=float(np.dot(w, w)),
                          bucket_limit=edges[1:].tolist(), bucket=counts.tolist())
