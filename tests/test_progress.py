"""The progress display in pseudo-terminals 80 and 100 columns wide, in logs, and on Ctrl-C."""

import io
import re
import signal
import sys

import pytest

from mlpcli.progress import PlainProgress, fit, format_row

from .conftest import ROOT, run_in_pty

CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n")
SLOW = ["--set", "data.n_samples=20000", "--set", "data.validation_split=0.1", "--set", "training.batch_size=16"]


def segments(out: str) -> list[str]:
    """What the terminal shows between cursor movements: each piece must fit on one line."""
    return [s for s in CONTROL.split(re.sub(r"\x1b\[[0-9;]*m", "", out)) if s]  # colours are not movements


def test_fit_drops_fields_by_priority():
    fields = [(0, "epoch 3/10"), (2, "lr 0.1"), (1, "loss 0.5000"), (3, "12,000 samples/s")]
    assert fit(fields, 100) == "epoch 3/10  lr 0.1  loss 0.5000  12,000 samples/s"
    assert fit(fields, 34) == "epoch 3/10  lr 0.1  loss 0.5000"
    assert fit(fields, 24) == "epoch 3/10  loss 0.5000"
    assert fit(fields, 4) == "epoc"  # never wider than asked


def test_epoch_line_has_four_significant_digits():
    row = {"epoch": 3, "train_loss": 3.2241e-05, "train_acc": 1.0, "val_loss": 0.123456, "lr": 0.05, "seconds": 0.5}
    assert format_row(row, 10) == "epoch 3/10  train_loss 3.224e-05  val_loss 0.1235  train_acc 1.000  lr 0.05  0.5s"


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("cols", [80, 100])
def test_progress_fits_the_terminal(tmp_path, cols):
    code, out = run_in_pty([sys.executable, "-m", "mlpcli", "train", str(ROOT / "configs/regression.yaml"), "--out",
                            str(tmp_path / "r"), "--set", "training.epochs=4", "--json", *SLOW], cols=cols)
    assert code == 0, out
    shown = segments(out)
    assert max(map(len, shown)) <= cols and not any("…" in s for s in shown), [s for s in shown if len(s) > cols]
    assert any(s.startswith("epoch 1/4 ") and "batch " in s for s in shown)  # the live line
    assert any(s.startswith("epoch 4/4  train_loss") for s in shown)  # the last epoch's line
    assert "done: 4 epochs" in out


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_ctrl_c_leaves_no_stale_bar(tmp_path):
    # Ctrl-C once the first epoch is in metrics.csv, so the bar has been drawn however slow start-up is
    metrics = tmp_path / "r" / "metrics.csv"
    script = ("import os, signal, sys, threading, time\n"
              "def interrupt():\n"
              f"    while not (os.path.exists({str(metrics)!r}) and open({str(metrics)!r}).read().count(chr(10)) >= 2):\n"
              "        time.sleep(0.05)\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "threading.Thread(target=interrupt, daemon=True).start()\n"
              "from mlpcli.cli import main\nsys.argv = ['mlp', *sys.argv[1:]]\nmain()\n")
    code, out = run_in_pty([sys.executable, "-c", script, "train", str(ROOT / "configs/regression.yaml"), "--out",
                            str(tmp_path / "r"), "--set", "training.epochs=1000", *SLOW], cols=80)
    assert code == 128 + signal.SIGINT, out
    after_bar = out[out.rindex("━"):]  # the last drawing of the bar ...
    assert "\x1b[2K" in after_bar or "\x1b[1A" in after_bar  # ... is erased before the final message
    assert "stopped by SIGINT" in out.splitlines()[-1]


def test_logs_throttle_epoch_lines_but_metrics_csv_has_every_epoch(tmp_path):
    from mlpcli.callbacks import Callback  # noqa: F401 - the progress is a callback
    from mlpcli.config import load_config
    from mlpcli.progress import PlainProgress
    from mlpcli.trainer import train

    stream = io.StringIO()
    cfg = load_config(ROOT / "configs/xor.yaml", ["training.epochs=400"])
    train(cfg, [PlainProgress(stream)], run_dir=tmp_path / "r")
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("epoch ")]
    assert lines[0].startswith("epoch 1/400 ") and lines[-1].startswith("epoch 400/400 ") and len(lines) < 50
    assert len((tmp_path / "r" / "metrics.csv").read_text().splitlines()) == 401


def fake_trainer(**kw):
    """The attributes PlainProgress reads from a trainer."""
    from types import SimpleNamespace

    data = SimpleNamespace(train=[0] * 120, val=[0] * 30, describe_task=lambda: "task: classification, 3 classes (a, b, c)")
    t = SimpleNamespace(model=SimpleNamespace(layers=[4, 8, 3]), data=data, n_batches=4, batch_size=32, epoch=0, batch=0,
                        run=SimpleNamespace(dir="/runs/x"), cfg=SimpleNamespace(training=SimpleNamespace(epochs=5)),
                        stop_reason="epochs")
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def row(epoch):
    return {"epoch": epoch, "train_loss": 1 / epoch, "train_acc": 0.5, "lr": 0.1, "seconds": 0.25}


def test_plain_log_lines(monkeypatch):
    import mlpcli.progress as progress

    clock = iter([0.0, 0.0, 0.1, 0.2, 1.5, 1.6, 1.7, 9.0])  # perf_counter at: init, start, epochs 1-5, end
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = io.StringIO()
    p = progress.PlainProgress(out)
    t = fake_trainer()
    p.on_train_start(t)
    for e in range(1, 6):
        t.epoch = e
        p.on_epoch_end(t, row(e))
    assert "epoch 5/5" in out.getvalue()  # the last epoch's line is out before anything the end prints
    p.on_train_end(t)
    assert out.getvalue().splitlines() == [
        "training [4, 8, 3] on 120 samples (val 30), 4 batches of 32, 5 epochs, task: classification, 3 classes (a, b, c), "
        "run dir /runs/x",
        "epoch 1/5  train_loss 1.000  train_acc 0.5000  lr 0.1  0.25s",  # the first line at once
        "epoch 3/5  train_loss 0.3333  train_acc 0.5000  lr 0.1  0.25s",  # a second after the previous line
        "epoch 5/5  train_loss 0.2000  train_acc 0.5000  lr 0.1  0.25s",  # the last always
        "done: 5 epochs in 9.0s (all epochs done)",
    ]


def test_resume_and_early_stop_are_said_and_a_pending_epoch_is_flushed():
    out = io.StringIO()
    p = PlainProgress(out)
    t = fake_trainer(epoch=2, batch=3, run=None, stop_reason="early_stopping")
    p.on_train_start(t)
    p.on_epoch_end(t, row(3))
    p.on_epoch_end(t, row(4))  # within the second: held back ...
    t.epoch = 4
    p.on_train_end(t)  # ... and shown as the last epoch's line
    lines = out.getvalue().splitlines()
    assert "resuming after epoch 2, batch 3" in lines[0] and "run dir" not in lines[0]
    assert lines[1].startswith("epoch 3/5 ") and lines[2].startswith("epoch 4/5 ")
    assert lines[3].startswith("done: 4 epochs in ") and lines[3].endswith("(stopped early)")


def test_make_progress_picks_lines_off_a_terminal(monkeypatch):
    from mlpcli.progress import RichProgress, make_progress

    assert make_progress(quiet=True) == []
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert [type(c) for c in make_progress()] == [PlainProgress]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert [type(c) for c in make_progress()] == [RichProgress]
