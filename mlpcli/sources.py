"""The built-in datasets by config name, each registered with its parameter model: ``xor``,
``regression`` (synthetic, seeded), ``mnist`` and ``npy`` (arrays from files). A loader
``(params, rng) -> ((X_train, y_train), (X_test, y_test) | None)`` returns raw arrays;
``data.load_data`` checks, splits and normalises them. The ``table`` dataset is in tabledata.py.
"""

import os

import numpy as np
from pydantic import Field, field_validator, model_validator

from .data import load_array, load_xy
from .dataset import DATASETS
from .errors import DataError
from .registry import Params
from .sections import AbsPath, Section, also, check_name, field_error


class XorParams(Params):
    repeat: int = Field(1, ge=1, description="copies of the four points in the training set")
    noise: float = Field(0.0, ge=0, description="std of Gaussian noise on the training inputs")


def _xor(d, rng):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    Xtr, ytr = np.tile(X, (d.repeat, 1)), np.tile(y, d.repeat)
    if d.noise:
        Xtr = Xtr + rng.normal(0.0, d.noise, size=Xtr.shape)
    return (Xtr, ytr), (X, y)


REGRESSION_FUNCTIONS = ("quadratic", "sine", "linear")


class RegressionParams(Params):
    function: str = Field("quadratic", description="quadratic (2 inputs -> x1^2, x2^2, 2 x1 x2), sine (1 -> 1), linear (3 -> 1)",
                          json_schema_extra={"enum": list(REGRESSION_FUNCTIONS)})
    n_samples: int = Field(1000, ge=2, description="number of samples (train + test)")
    noise: float = Field(0.0, ge=0, description="std of Gaussian noise on the targets")
    x_scale: float = Field(20.0, gt=0, description="inputs x in [-10, 10] are divided by x_scale (the notes' lab: 20)")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="fraction of samples in the test split")

    @field_validator("function")
    @classmethod
    def _function(cls, v):
        return check_name("regression function", v, REGRESSION_FUNCTIONS)


def _regression(d, rng):
    n = d.n_samples
    if d.function == "quadratic":  # the notes' lab: (x1^2, x2^2, 2 x1 x2)
        x = rng.uniform(-10, 10, size=(n, 2)) / d.x_scale
        y = np.stack([x[:, 0] ** 2, x[:, 1] ** 2, 2 * x[:, 0] * x[:, 1]], axis=1)
    elif d.function == "sine":
        x = rng.uniform(-10, 10, size=(n, 1)) / d.x_scale
        y = np.sin(2 * np.pi * x)
    else:  # linear: y = x . w + 0.5 with fixed weights
        x = rng.uniform(-10, 10, size=(n, 3)) / d.x_scale
        y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.5
    if d.noise:
        y = y + rng.normal(0.0, d.noise, size=y.shape)
    n_test = max(1, int(round(n * d.test_fraction)))
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


class MnistParams(Params):
    path: AbsPath = Field("data/mnist", description="directory with train_images.npy, train_labels.npy, test_images.npy, "
                                                     "test_labels.npy (uint8 (N, 28, 28) or (N, 784); write it with: mlp data mnist)")

    def source(self) -> str:
        return self.path


def _mnist(d, rng):
    root = d.path
    names = ["train_images", "train_labels", "test_images", "test_labels"]
    missing = [n for n in names if not os.path.exists(os.path.join(root, n + ".npy"))]
    if missing:
        raise DataError(f"{root}: no MNIST here (missing {', '.join(m + '.npy' for m in missing)}); "
                        f"create it with: mlp data mnist --out {root}")
    arrays = [load_array(os.path.join(root, n + ".npy")) for n in names]
    out = []
    for X, y, n in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        if X.ndim == 3 and X.shape[1:] == (28, 28):
            X = X.reshape(len(X), 784)
        if X.ndim != 2 or X.shape[1] != 784:
            raise DataError(f"{root}/{n}_images.npy: shape {X.shape}; expected (N, 28, 28) or (N, 784)")
        out.append((X, y))
    return out[0], out[1]


class XY(Section):
    x: AbsPath = Field(description="Path of the inputs (.npy), or of an .npz holding x and y.")
    y: AbsPath | None = Field(None, description="Path of the targets (.npy); omitted for an .npz.")

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, v):
        return {"x": v} if isinstance(v, str) else v


class NpyParams(Params):
    train: XY | None = Field(None, description="training data: {x: X.npy, y: Y.npy} or an .npz path with arrays x, y; "
                             "integer y is classification, float y regression", json_schema_extra=also({"type": "string"}))
    test: XY | None = Field(None, description="test data, as train", json_schema_extra=also({"type": "string"}))

    @model_validator(mode="after")
    def _needs_train(self):
        if self.train is None:
            raise field_error("missing", "dataset 'npy' needs data.train: {x: PATH.npy, y: PATH.npy} or an .npz path", at="train")
        return self

    def source(self) -> str:
        return self.train.x


def _npy(d, rng):
    train = load_xy(d.train, "data.train")
    test = load_xy(d.test, "data.test") if d.test is not None else None
    return train, test


DATASETS.register("xor", _xor, XorParams, "the four points of the XOR truth table")
DATASETS.register("regression", _regression, RegressionParams, "synthetic regression, seeded (the notes' lab)")
DATASETS.register("mnist", _mnist, MnistParams, "MNIST digits from .npy files")
DATASETS.register("npy", _npy, NpyParams, "your arrays: integer y is classification, float y regression")
