"""Training progress on stderr, as callbacks: a Rich progress bar on a terminal, one plain line per epoch otherwise.

Both fit the terminal: fields are dropped or shortened by priority rather than cut or
wrapped. On long runs the epoch lines are throttled (every epoch is still in metrics.csv).
"""

from __future__ import annotations

import sys
import time

from .callbacks import Callback
from .display import number

LINE_EVERY = 1.0  # seconds between two epoch lines at most (the first and the last are always shown)
REASONS = {"epochs": "all epochs done", "early_stopping": "stopped early", "grad_tol": "gradient norm below grad_tol"}


def fit(fields: list[tuple[int, str]], width: int, sep: str = "  ") -> str:
    """The fields joined by ``sep``, dropping those of the lowest priority (largest number)
    until the line fits ``width`` columns."""
    kept = list(fields)
    while len(kept) > 1 and len(sep.join(t for _, t in kept)) > width:
        kept.remove(max(kept, key=lambda f: f[0]))
    return sep.join(t for _, t in kept)[:max(width, 1)]


def row_fields(row: dict, epochs: int) -> list[tuple[int, str]]:
    """(priority, text) of an epoch line: epoch first, then losses, metrics, lr, seconds."""
    fields = [(0, f"epoch {int(row['epoch'])}/{epochs}")]
    for k, prio in (("train_loss", 1), ("val_loss", 2), ("train_acc", 3), ("val_acc", 4), ("train_mse", 3),
                    ("val_mse", 4), ("train_r2", 5), ("val_r2", 5)):
        if row.get(k) is not None:
            fields.append((prio, f"{k} {number(row[k])}"))
    fields.append((6, f"lr {row['lr']:.4g}"))
    fields.append((7, f"{row['seconds']:.3g}s"))
    return fields


def format_row(row: dict, epochs: int, width: int = 1 << 16) -> str:
    return fit(row_fields(row, epochs), width)


class PlainProgress(Callback):
    """One line per epoch on stderr (at most one a second on long runs), for logs and CI; --quiet for none."""

    order = 100

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.t0 = self.last_line = time.perf_counter()
        self.pending = None

    def width(self) -> int:
        return 1 << 16  # logs are not wrapped

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_train_start(self, trainer):
        self.t0 = time.perf_counter()
        self.last_line = self.t0 - LINE_EVERY
        t = trainer
        d = t.data
        fields = [(0, f"training {t.model.layers} on {len(d.train)} samples" + (f" (val {len(d.val)})" if d.val is not None else "")),
                  (2, f"{t.n_batches} batches of {t.batch_size}"), (1, f"{t.cfg.training.epochs} epochs")]
        if t.epoch:
            fields.append((1, f"resuming after epoch {t.epoch}" + (f", batch {t.batch}" if t.batch else "")))
        fields.append((2, d.describe_task()))
        if t.run:  # in logs always; on a narrow terminal the summary names it at the end
            fields.append((3, f"run dir {t.run.dir}"))
        self.write(fit(fields, self.width(), ", "))

    def on_epoch_end(self, trainer, row):
        now = time.perf_counter()
        last = int(row["epoch"]) >= trainer.cfg.training.epochs
        if now - self.last_line >= LINE_EVERY or last:
            self.write(format_row(row, trainer.cfg.training.epochs, self.width()))
            self.last_line, self.pending = now, None
        else:
            self.pending = row  # shown at the end if it turns out to be the last

    def flush_pending(self, trainer):
        if self.pending is not None:
            self.write(format_row(self.pending, trainer.cfg.training.epochs, self.width()))
            self.pending = None

    def on_train_end(self, trainer):
        self.flush_pending(trainer)
        seconds = time.perf_counter() - self.t0
        self.write(f"done: {trainer.epoch} epochs in {seconds:.1f}s ({REASONS.get(trainer.stop_reason, trainer.stop_reason)})")


class RichProgress(PlainProgress):
    """A live line under the epoch lines: epoch, the bar of this epoch's batches and its counter,
    loss, accuracy, learning rate, samples/s and the run's ETA, shortened to the terminal's width.
    It is transient: Ctrl-C or the end leaves no stale bar behind."""

    BAR = 20

    def width(self) -> int:
        return self.console.width - 1  # the last column would wrap on some terminals

    def write(self, text: str) -> None:
        if getattr(self, "progress", None) is None:
            super().write(text)
        else:  # above the live line
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def on_train_start(self, trainer):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(TextColumn("{task.fields[head]}", markup=False), BarColumn(bar_width=self.BAR),
                                 TextColumn("{task.fields[tail]}", markup=False), console=self.console, transient=True,
                                 auto_refresh=False)
        self.progress.start()
        super().on_train_start(trainer)
        t = trainer
        self.total_epochs = t.cfg.training.epochs
        self.task = self.progress.add_task("train", total=max(1, t.n_batches), completed=t.batch, head="", tail="")
        self.last, self.t_start, self.samples0 = 0.0, time.perf_counter(), t.step * t.batch_size
        self.steps0 = t.epoch * t.n_batches + t.batch

    def _update(self, t, epoch_done=False):
        now = time.perf_counter()
        p = t.running
        seen = max(p.seen, 1)
        epoch = t.epoch if epoch_done else t.epoch + 1
        batch = t.n_batches if epoch_done else t.batch
        elapsed = max(now - self.t_start, 1e-9)
        speed = (t.step * t.batch_size - self.samples0) / elapsed
        done_steps = t.epoch * t.n_batches + (0 if epoch_done else t.batch)
        left = self.total_epochs * t.n_batches - done_steps
        rate = (done_steps - self.steps0) / elapsed
        eta = _clock(left / rate) if rate > 0 else "?"
        head = f"epoch {epoch}/{self.total_epochs}"
        metric = f"{'acc' if t.classification else 'mse'} {number(p.metric())}"  # mse in the target's units
        lr = t.sched.lr if not epoch_done else t.history[-1]["lr"]
        tail = fit([(0, f"batch {batch}/{t.n_batches}"), (1, f"loss {number(p.loss_sum / seen)}"), (3, metric),
                    (2, f"eta {eta}"), (4, f"lr {lr:.4g}"), (5, f"{speed:,.0f} samples/s"), (6, f"elapsed {_clock(elapsed)}")],
                   self.width() - len(head) - self.BAR - 2)
        self.progress.update(self.task, completed=batch, head=head, tail=tail, refresh=True)

    def on_batch_end(self, trainer, loss):
        now = time.perf_counter()
        if now - self.last >= 0.1:  # a refresh costs far more than a batch; ten a second is plenty
            self.last = now
            self._update(trainer)

    def on_epoch_end(self, trainer, row):
        self._update(trainer, epoch_done=True)  # the bar first, so it never lags the epoch line
        super().on_epoch_end(trainer, row)

    def on_train_end(self, trainer):
        self.flush_pending(trainer)
        self.close()
        super().on_train_end(trainer)

    def on_abort(self, trainer, reason):
        self.close()

    def close(self):
        if getattr(self, "progress", None) is not None:
            self.progress.stop()  # transient: the live line is erased
            self.progress = None


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def make_progress(quiet: bool = False) -> list:
    """The progress callbacks for ``mlp train``: none with --quiet, a bar on a terminal, else lines."""
    if quiet:
        return []
    return [RichProgress() if sys.stderr.isatty() else PlainProgress()]
