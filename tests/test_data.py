import numpy as np
import pytest

import mlpcli
from mlpcli import data as data_mod
from mlpcli.data import load_data
from mlpcli.errors import DataError


def npy_cfg(tmp_path, X, y, *extra, Xte=None, yte=None, layers=None):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    ov = [f"data.train.x={tmp_path / 'x.npy'}", f"data.train.y={tmp_path / 'y.npy'}", "data.name=npy"]
    if Xte is not None:
        np.save(tmp_path / "xt.npy", Xte)
        np.save(tmp_path / "yt.npy", yte)
        ov += [f"data.test.x={tmp_path / 'xt.npy'}", f"data.test.y={tmp_path / 'yt.npy'}"]
    return mlpcli.load_config(None, [*ov, *extra] + ([f"model.layers={layers}"] if layers else []))


def test_xor_and_regression_shapes():
    ds = load_data(mlpcli.load_config(None, ["data.repeat=3"]))
    assert ds.train.X.shape == (12, 2) and ds.test.X.shape == (4, 2) and ds.task.kind == "classification"
    cfg = mlpcli.load_config(None, ["data.name=regression", "model.layers=[2,3]", "loss=squared_error"])
    ds = load_data(cfg)
    assert ds.train.X.shape == (800, 2) and ds.test.y.shape == (200, 3) and ds.task.kind == "regression"
    x, y = np.asarray(ds.train.X, dtype=float), ds.train.y
    np.testing.assert_allclose(y, np.stack([x[:, 0] ** 2, x[:, 1] ** 2, 2 * x[:, 0] * x[:, 1]], 1), rtol=1e-5, atol=1e-7)
    assert np.abs(x).max() <= 0.5
    assert np.array_equal(load_data(cfg).train.X, ds.train.X)  # seeded


def test_standardisation_is_fitted_on_the_training_split_only(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, size=(200, 4))
    Xte = rng.normal(50, 1, size=(50, 4))  # very different: must not leak into the statistics
    cfg = npy_cfg(tmp_path, X, rng.integers(0, 3, 200), "data.normalize=standard", "data.validation_split=0.25",
                  "loss=cross_entropy", Xte=Xte, yte=rng.integers(0, 3, 50), layers="[4, 3]")
    ds = load_data(cfg)
    assert len(ds.train) == 150 and len(ds.val) == 50
    np.testing.assert_allclose(ds.train.X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.train.X.std(0), 1, atol=1e-4)
    assert ds.test.X[:].mean() > 5  # test inputs standardised with the training statistics


def test_npz_and_float_targets_mean_regression(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((10, 2)), y=np.linspace(0, 1, 10))
    cfg = mlpcli.load_config(None, ["data.name=npy", f"data.train={tmp_path / 'd.npz'}", "model.layers=[2,1]",
                                    "loss=squared_error"])
    ds = load_data(cfg)
    assert ds.task.kind == "regression" and ds.train.X.shape == (10, 2)


@pytest.mark.parametrize("X,y,layers,extra,match", [
    (np.ones((5, 3)), np.zeros(5, int), "[2, 2]", [], "3 features but model.layers\\[0\\] is 2"),
    (np.ones((5, 2)), np.array([0, 1, 2, 3, 4]), "[2, 3]", ["loss=cross_entropy"], "range over \\[0, 4\\]"),
    (np.array([[1.0, np.nan]] * 4), np.zeros(4, int), "[2, 2]", [], "NaN or infinite"),
    (np.ones((5, 2)), np.zeros(4, int), "[2, 2]", [], "5 inputs but 4 targets"),
    (np.ones((5, 2)), np.full(5, 0.5), "[2, 3]", ["loss=cross_entropy"], "labels are floats"),
])
def test_data_checks_run_before_training(tmp_path, X, y, layers, extra, match):
    with pytest.raises(DataError, match=match):
        load_data(npy_cfg(tmp_path, X, y, *extra, layers=layers))


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    np.save(tmp_path / "y.npy", np.zeros(4, int))
    cfg = mlpcli.load_config(None, ["data.name=npy", f"data.train.x={tmp_path / 'x.npy'}", f"data.train.y={tmp_path / 'y.npy'}"])
    with pytest.raises(DataError, match="object"):
        load_data(cfg)


def test_memory_mapped_path_gives_the_same_training(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)).astype(np.float32), rng.integers(0, 2, 64)
    cfg = npy_cfg(tmp_path, X, y, "data.normalize=standard", "training.epochs=3", "training.batch_size=8",
                  "loss=cross_entropy", layers="[3, 5, 2]")
    a = mlpcli.train(cfg)
    monkeypatch.setattr(data_mod, "MATERIALIZE_LIMIT", 0)  # force batches gathered from the memmap
    ds = load_data(cfg)
    assert isinstance(ds.train.X, data_mod.LazyInputs) and isinstance(ds.train.X.raw, np.memmap)
    b = mlpcli.train(cfg)
    for k in a.model.names:
        np.testing.assert_allclose(a.model.params[k], b.model.params[k], rtol=1e-6)


def test_image_inputs_are_flattened_and_label_columns_squeezed(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((30, 4, 4)).astype(np.float32)  # (n, h, w) images
    y = rng.integers(0, 3, (30, 1))  # labels as a column, as from a CSV
    ds = load_data(npy_cfg(tmp_path, X, y, "loss=cross_entropy", layers="[16, 3]"))
    assert ds.train.X.shape == (30, 16) and ds.train.y.shape == (30,)
    np.testing.assert_array_equal(ds.train.X[5], X[5].ravel())
