"""load_checkpoint returns the run: model, config, meta, normalisation and task, not attributes stuck on an MLP."""

import numpy as np

import mlpcli
from mlpcli.trained import TrainedRun


def test_load_checkpoint_returns_the_run(tmp_path):
    cfg = mlpcli.load_config(None, ["training.epochs=3", "data.normalize=standard"])
    r = mlpcli.train(cfg, run_dir=tmp_path / "run")
    run = mlpcli.load_checkpoint(tmp_path / "run" / "last.npz")
    assert isinstance(run, TrainedRun) and isinstance(run.model, mlpcli.MLP)
    assert run.config.training.epochs == 3 and run.meta["epoch"] == 3 and run.task.kind == "classification"
    assert run.normalizer["kind"] == "standard" and not hasattr(run.model, "meta")
    X = np.array([[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(run.params["W1"], r.model.params["W1"])
    np.testing.assert_array_equal(run.predict(X), (r.model.forward(X)[:, 0] > 0.5).astype(int))


def test_forward_records_every_layer_as_the_notes_compute_it():
    net = mlpcli.MLP([3, 4, 2], ["relu", "softmax"], "cross_entropy", dtype="float64")
    rng = np.random.default_rng(0)
    for k in net.names:
        net.params[k][...] = rng.normal(size=net.params[k].shape)
    X = rng.normal(size=(5, 3))
    A1, A2 = net.forward(X, record=True)
    Z1 = X @ net.params["W1"].T + net.params["b1"]
    np.testing.assert_allclose(A1, np.maximum(Z1, 0))
    Z2 = A1 @ net.params["W2"].T + net.params["b2"]
    np.testing.assert_allclose(A2, np.exp(Z2) / np.exp(Z2).sum(1, keepdims=True))
    np.testing.assert_allclose(net.forward(X), A2)
