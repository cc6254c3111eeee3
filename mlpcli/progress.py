"""Training progress on stderr, as callbacks: a Rich progress bar on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time

from .callbacks import Callback


def format_row(row: dict, epochs: int) -> str:
    parts = [f"epoch {int(row['epoch'])}/{epochs}"]
    for k in ("train_loss", "train_acc", "train_mse", "val_loss", "val_acc", "val_mse"):
        if row.get(k) is not None:
            parts.append(f"{k} {row[k]:.4f}")
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['seconds']:.3g}s")
    return "  ".join(parts)


class PlainProgress(Callback):
    """One line per epoch on stderr, for logs and CI; --quiet for none."""

    order = 100

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def on_train_start(self, trainer):
        self.t0 = time.perf_counter()
        t = trainer
        d = t.data
        msg = (f"training {t.model.layers} on {len(d.train)} samples"
               + (f" (val {len(d.val)})" if d.val is not None else "")
               + f", {t.n_batches} batches of {t.batch_size}, {t.cfg.training.epochs} epochs"
               + (f", run dir {t.run.dir}" if t.run else ""))
        if t.epoch:
            msg += f"; resuming after epoch {t.epoch}" + (f", batch {t.batch}" if t.batch else "")
        print(f"{msg}; {d.describe_task()}", file=self.stream, flush=True)

    def on_epoch_end(self, trainer, row):
        print(format_row(row, trainer.cfg.training.epochs), file=self.stream, flush=True)

    def on_train_end(self, trainer):
        seconds = time.perf_counter() - self.t0
        print(f"done: {trainer.epoch} epochs ({trainer.stop_reason}) in {seconds:.1f}s", file=self.stream, flush=True)


class RichProgress(PlainProgress):
    """A live progress bar: epoch, batch, loss, accuracy, learning rate, samples/s, ETA."""

    def on_train_start(self, trainer):
        self.t0 = time.perf_counter()
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(bar_width=24), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=self.console,
        )
        t = trainer
        self.total_epochs = t.cfg.training.epochs
        self.console.print(t.data.describe_task(), markup=False)
        self.progress.start()
        self.task = self.progress.add_task("train", total=max(1, self.total_epochs * t.n_batches),
                                           completed=t.epoch * t.n_batches + t.batch, epoch="", stats="")
        self.last, self.t0, self.samples0 = 0.0, time.perf_counter(), t.step * t.batch_size

    def _update(self, t, epoch_done=False):
        now = time.perf_counter()
        p = t.running
        seen = max(p.seen, 1)
        metric = f"acc {p.metric_sum / seen:.4f}" if t.classification else f"mse {p.metric_sum / seen:.4g}"
        speed = (t.step * t.batch_size - self.samples0) / max(now - self.t0, 1e-9)
        epoch = t.epoch if epoch_done else t.epoch + 1
        batch = t.n_batches if epoch_done else t.batch
        stats = (f"batch {batch}/{t.n_batches}  loss {p.loss_sum / seen:.4f}  {metric}  "
                 f"lr {t.sched.lr if not epoch_done else t.history[-1]['lr']:.3g}  {speed:,.0f} samples/s")
        self.progress.update(self.task, completed=t.epoch * t.n_batches + (0 if epoch_done else t.batch),
                             epoch=f"{epoch}/{self.total_epochs}", stats=stats)

    def on_batch_end(self, trainer, loss):
        now = time.perf_counter()
        if now - self.last >= 0.1:  # a refresh costs far more than a batch; ten a second is plenty
            self.last = now
            self._update(trainer)

    def on_epoch_end(self, trainer, row):
        self._update(trainer, epoch_done=True)
        self.progress.console.print(format_row(row, self.total_epochs))

    def on_train_end(self, trainer):
        self.close()
        super().on_train_end(trainer)

    def on_abort(self, trainer, reason):
        self.close()

    def close(self):
        if getattr(self, "progress", None) is not None:
            self.progress.stop()
            self.progress = None


def make_progress(quiet: bool = False) -> list:
    """The progress callbacks for ``mlp train``: none with --quiet, a bar on a terminal, else lines."""
    if quiet:
        return []
    return [RichProgress() if sys.stderr.isatty() else PlainProgress()]
