"""--log tensorboard: the event files read back with TensorBoard's own reader."""

from pathlib import Path

import numpy as np
import pytest

import mlpcli
from mlpcli.tblogger import tag

pytest.importorskip("tensorboard")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    run = tmp_path_factory.mktemp("tb") / "run"
    cfg = mlpcli.load_config(None, ["model.layers=[2,8,8,1]", "model.activation=relu", "training.epochs=5",
                                    "data.validation_split=0.25", "data.repeat=4", "output.log=[tensorboard]"])
    result = mlpcli.train(cfg, run_dir=run)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    return result, events


def test_scalars_per_epoch_are_the_rows(logged):
    result, events = logged
    tags = events.Tags()["scalars"]
    assert {"loss/train", "loss/val", "acc/train", "acc/val", "lr", "seconds"} <= set(tags)
    assert {"diagnostics/grad_norm_W1", "diagnostics/update_ratio_W3", "diagnostics/dead_2"} <= set(tags)
    for t, column in (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("lr", "lr"),
                      ("diagnostics/grad_norm_W1", "grad_norm_W1")):
        got = events.Scalars(t)
        assert [e.step for e in got] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose([e.value for e in got], [r[column] for r in result.history], rtol=1e-6)


def test_a_weight_histogram_per_layer_and_epoch(logged):
    result, events = logged
    assert set(events.Tags()["histograms"]) == {"weights/W1", "weights/W2", "weights/W3"}
    last = events.Histograms("weights/W2")[-1]
    W2 = result.model.params["W2"]
    assert last.step == 5 and len(events.Histograms("weights/W2")) == 5
    h = last.histogram_value
    assert h.num == W2.size and sum(h.bucket) == W2.size
    assert h.min == pytest.approx(W2.min(), rel=1e-6) and h.max == pytest.approx(W2.max(), rel=1e-6)
    counts, edges = np.histogram(W2.astype(np.float64), bins=len(h.bucket))  # an independent count
    assert list(h.bucket) == counts.tolist() and list(h.bucket_limit) == pytest.approx(edges[1:].tolist())


def test_the_resolved_config_as_text(logged):
    result, events = logged
    (event,) = events.Tensors("config/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert "layers:" in text and "- 8" in text and "tensorboard" in text
    assert text == "```yaml\n" + (Path(result.run_dir) / "config.yaml").read_text() + "```"  # the run's own file


def test_tags_group_splits_and_diagnostics():
    assert [tag(c) for c in ("train_loss", "val_acc", "lr", "grad_norm_W2", "dead_1", "grad_norm", "w1_norm")] == \
        ["loss/train", "acc/val", "lr", "diagnostics/grad_norm_W2", "diagnostics/dead_1", "grad_norm", "w1_norm"]
