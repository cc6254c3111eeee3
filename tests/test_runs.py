"""The run directory (mlpcli/runs.py): the marker, what may be written and replaced, and metrics.csv."""

import csv
import io
import os

import pytest

from mlpcli.errors import RunDirError
from mlpcli.runs import (
    LOCK,
    MARKER,
    RUN_FILES,
    RunDir,
    check_target,
    csv_line,
    metric_columns,
    metrics_csv,
    read_metrics,
)


def listing(d):
    return sorted(os.listdir(d))


def a_run(d, files=RUN_FILES):
    """A directory as mlp leaves it after a run: the marker and its files."""
    d.mkdir()
    (d / MARKER).write_text("mlpcli run directory\n")
    for f in files:
        (d / f).write_text(f"old {f}")
    return d


def test_new_directory_gets_the_marker_first_and_a_lock(tmp_path):
    rd = RunDir(tmp_path / "a" / "run")
    assert not (tmp_path / "a").exists()  # checking touches nothing
    rd.open()
    assert listing(rd.dir) == sorted([MARKER, LOCK])
    rd.close()


def test_empty_folder_is_adopted_and_a_folder_of_the_users_is_refused_untouched(tmp_path):
    (tmp_path / "empty").mkdir()
    RunDir(tmp_path / "empty").open().close()
    assert MARKER in listing(tmp_path / "empty")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for overwrite in (False, True):
        with pytest.raises(RunDirError, match="not an mlp run directory"):
            RunDir(mine, overwrite=overwrite)
    assert listing(mine) == ["notes.txt"]


def test_a_run_is_not_overwritten_without_overwrite(tmp_path):
    d = a_run(tmp_path / "r")
    with pytest.raises(RunDirError, match="holds a run already.*--overwrite"):
        check_target(d)
    assert (d / "last.npz").read_text() == "old last.npz"


def test_overwrite_replaces_only_mlps_files_and_only_on_open(tmp_path):
    d = a_run(tmp_path / "r")
    (d / "notes.txt").write_text("the user's")
    (d / "best.npz").unlink()
    (d / "best.npz").symlink_to(d / "notes.txt")  # not a file mlp wrote
    rd = RunDir(d, overwrite=True)
    assert (d / "last.npz").exists()  # validating the target deletes nothing
    rd.open()
    assert listing(d) == sorted([MARKER, LOCK, "best.npz", "notes.txt"])
    assert (d / "notes.txt").read_text() == "the user's"
    rd.close()


def test_resuming_the_runs_own_checkpoint_keeps_its_files(tmp_path):
    d = a_run(tmp_path / "r")
    RunDir(d, resume=d / "last.npz").open().close()
    assert (d / "metrics.csv").read_text() == "old metrics.csv"
    with pytest.raises(RunDirError, match="holds a run already"):  # another run's checkpoint does not count
        RunDir(d, resume=tmp_path / "other" / "last.npz")


def test_a_killed_writers_temporary_files_go_and_others_stay(tmp_path):
    d = a_run(tmp_path / "r", files=())
    for name in (".last.npz.123.tmp", ".metrics.csv.9-2.tmp", ".data.npz.1.tmp", "last.npz.123.tmp"):
        (d / name).write_text("x")
    RunDir(d).open().close()
    assert listing(d) == sorted([MARKER, LOCK, ".data.npz.1.tmp", "last.npz.123.tmp"])


def test_a_second_writer_is_locked_out(tmp_path):
    first = RunDir(tmp_path / "r").open()
    try:
        with pytest.raises(RunDirError, match="another training"):
            RunDir(tmp_path / "r", resume=tmp_path / "r" / "last.npz").open()
    finally:
        first.close()


def test_discard_removes_what_the_failed_start_created(tmp_path):
    rd = RunDir(tmp_path / "new").open()
    (tmp_path / "new" / "config.yaml").write_text("x")
    rd.discard()
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    rd = RunDir(tmp_path / "kept").open()
    rd.discard()
    assert listing(tmp_path / "kept") == []  # the folder was there before: it stays, emptied of mlp's marker and lock


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        check_target(tmp_path / "f")


HISTORY = [{"epoch": 1, "train_loss": 0.5, "lr": 0.1, "seconds": 0.25, "train_acc": 0.5},
           {"epoch": 2, "train_loss": 1 / 3, "lr": 0.1, "seconds": 0.5, "train_acc": 0.75, "grad_w1": 2e-7}]


def test_metrics_csv_columns_and_cells():
    assert metric_columns(HISTORY) == ["epoch", "train_loss", "train_acc", "lr", "seconds", "grad_w1"]
    assert metric_columns([]) == ["epoch", "train_loss", "lr", "seconds"]
    assert csv_line({"epoch": 3, "train_loss": 1 / 3, "x": None}, ["epoch", "train_loss", "x", "y"]) == "3,0.333333333,,\n"
    rows = list(csv.DictReader(io.StringIO(metrics_csv(HISTORY))))  # read back with the csv module
    assert rows[0] == {"epoch": "1", "train_loss": "0.5", "train_acc": "0.5", "lr": "0.1", "seconds": "0.25", "grad_w1": ""}
    assert rows[1]["grad_w1"] == "2e-07" and float(rows[1]["train_loss"]) == pytest.approx(1 / 3, rel=1e-9)


def test_read_metrics_round_trip_and_refusals(tmp_path):
    p = tmp_path / "metrics.csv"
    p.write_text(metrics_csv(HISTORY))
    back = read_metrics(p)
    assert back[1] == pytest.approx({"epoch": 2.0, "train_loss": 1 / 3, "train_acc": 0.75, "lr": 0.1, "seconds": 0.5,
                                     "grad_w1": 2e-7}, rel=1e-9)
    assert back[0]["grad_w1"] is None
    for text in ("epoch,train_loss\n1,abc\n", "lr\n0.1\n", "epoch,train_loss\n1,\n", "epoch,train_loss\n\xff\xfe\n"):
        p.write_bytes(text.encode("latin-1"))
        with pytest.raises(RunDirError, match="not a metrics.csv"):
            read_metrics(p)
