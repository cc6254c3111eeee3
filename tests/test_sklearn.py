"""mlpcli.sklearn: scikit-learn's own estimator checks, its tools (Pipeline, GridSearchCV,
cross_val_score), and scikit-learn's MLP as the reference for the alpha -> l2 mapping."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from mlpcli.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# small networks and few epochs through the estimators' own parameters keep the checks fast
CHECKED = [MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, random_state=0),
           MLPRegressor((8,), max_iter=100, learning_rate_init=0.01, random_state=0)]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")  # lets check_array_api_input run (NumPy namespace) instead of skipping
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=60, learning_rate_init=0.02, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 10.0]}, cv=3).fit(X, y)
    assert grid.best_params_["mlpclassifier__alpha"] == 1e-4  # a huge penalty flattens the network
    assert grid.cv_results_["mean_test_score"][0] > grid.cv_results_["mean_test_score"][1]
    assert grid.score(X, y) > 0.9


def test_fitted_attributes_follow_scikit_learn(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((7, 5), max_iter=5, random_state=1).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert [c.shape for c in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]  # (in, out), as scikit-learn
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    assert clf.n_iter_ == len(clf.loss_curve_) == 5 and clf.n_layers_ == 4 and clf.out_activation_ == "softmax"
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-12)
    # the probabilities are the forward pass of coefs_/intercepts_ written out by hand
    A = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1], strict=True):
        A = np.maximum(A @ W + b, 0)
    Z = A @ clf.coefs_[-1] + clf.intercepts_[-1]
    np.testing.assert_allclose(P, np.exp(Z) / np.exp(Z).sum(1, keepdims=True), rtol=1e-10)
    assert set(clf.predict(X)) <= set(clf.classes_)


def test_binary_classifier_has_one_logistic_output(iris):
    X, y = iris
    clf = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y == 2)
    assert clf.coefs_[-1].shape == (4, 1) and clf.out_activation_ == "logistic"
    assert clf.predict_proba(X).shape == (150, 2) and clf.predict(X).dtype == bool


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("batch_size", [10, 200])
def test_alpha_is_scikit_learns_penalty(batch_size):
    """mlpcli's loss and gradients with l2 = alpha / batch_size equal scikit-learn's on a batch."""
    X, y = make_regression(40, 3, n_targets=2, random_state=0)
    alpha = 0.7
    reg = MLPRegressor((5,), activation="tanh", alpha=alpha, batch_size=batch_size, max_iter=1, random_state=0).fit(X, y)
    net = reg._network()  # noqa: SLF001 - the fitted network inside the estimator
    B = min(batch_size, 40)  # scikit-learn's batch_size is clipped to n_samples too
    assert net.l2 == reg._state[1]["config"]["l2"] == pytest.approx(alpha / B)  # noqa: SLF001 - its training state
    X, y = X[:B], y[:B]
    ref = SkMLPRegressor(hidden_layer_sizes=(5,), activation="tanh", alpha=alpha, max_iter=1).fit(X, y)  # for its _backprop
    ref.coefs_, ref.intercepts_ = [c.copy() for c in reg.coefs_], [b.copy() for b in reg.intercepts_]
    acts = [X] + [None] * (ref.n_layers_ - 1)
    deltas = [None] * (ref.n_layers_ - 1)
    cg = [np.empty_like(c) for c in ref.coefs_]
    ig = [np.empty_like(b) for b in ref.intercepts_]
    ref_loss, cg, ig = ref._backprop(X, y, None, acts, deltas, cg, ig)  # noqa: SLF001 - scikit-learn's backprop: the reference
    loss, grads = net.loss_and_gradients(X, y)
    # scikit-learn's squared loss is also averaged over the 2 outputs (its gradient is not): compare gradients
    for i in range(2):
        np.testing.assert_allclose(grads[f"W{i + 1}"].T, cg[i], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads[f"b{i + 1}"], ig[i], rtol=1e-10, atol=1e-12)
    pen = 0.5 * alpha / len(X) * sum(float((c**2).sum()) for c in reg.coefs_)
    assert loss - pen == pytest.approx(2 * (ref_loss - pen), rel=1e-10)


def test_partial_fit_continues_exactly_like_fit(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(6,), batch_size=32, random_state=3)
    full = MLPClassifier(max_iter=3, **kw).fit(X, y)
    inc = MLPClassifier(**kw)
    for _ in range(3):
        inc.partial_fit(X, y, classes=[0, 1, 2])
    assert inc.n_iter_ == 3 and inc.t_ == full.t_ == 3 * 5
    for a, b in zip(inc.coefs_ + inc.intercepts_, full.coefs_ + full.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)  # the optimiser's state carried over: bit for bit
    np.testing.assert_array_equal(inc.loss_curve_, full.loss_curve_)
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)


def test_warm_start_keeps_weights_and_counts_on(iris):
    X, y = iris
    clf = MLPClassifier((5,), max_iter=4, warm_start=True, random_state=0, learning_rate_init=0.01).fit(X, y)
    first = clf.loss_curve_[-1]
    clf.fit(X, y)
    assert clf.n_iter_ == 8 and len(clf.loss_curve_) == 8
    assert clf.loss_curve_[4] < first + 0.05  # started where it stopped, not from a fresh network
    cold = MLPClassifier((5,), max_iter=4, random_state=0, learning_rate_init=0.01)
    assert cold.fit(X, y).fit(X, y).n_iter_ == 4


def test_early_stopping_restores_the_best_validation_epoch():
    X, y = make_regression(300, 4, noise=5.0, random_state=0)
    reg = MLPRegressor((16,), early_stopping=True, n_iter_no_change=3, max_iter=500, learning_rate_init=0.05,
                       random_state=0).fit(X, y / 50)
    assert reg.n_iter_ < 500 and len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == min(reg.validation_scores_)
    assert reg.score(X, y / 50) > 0.9


def test_config_keys_by_name():
    X, y = make_regression(60, 2, random_state=0)
    reg = MLPRegressor((4,), max_iter=2, random_state=0,
                       config={"schedule.name": "cosine", "training.dtype": "float32", "model": {"init": "he"}})
    reg.fit(X, y)
    cfg = reg._state[1]["config"]  # noqa: SLF001 - the estimator's training state
    assert cfg["schedule"]["name"] == "cosine" and cfg["model"]["init"]["name"] == "he"
    assert reg.predict(X).dtype == np.float32
    with pytest.raises(ValueError, match="set by learning_rate_init"):
        MLPRegressor(config={"optimizer.lr": 0.1}).fit(X, y)
    with pytest.raises(ValueError, match="did you mean 'schedule'"):
        MLPRegressor(config={"schedul.name": "cosine"}).fit(X, y)
    with pytest.raises(ValueError, match="config must be a dict"):
        MLPRegressor(config="schedule.name=cosine").fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPRegressor(solver="lbfgs").fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_seed_same_initial_weights_as_the_cli_config():
    from mlpcli import MLP as CoreMLP
    from mlpcli import load_config

    X, y = make_regression(50, 3, random_state=0)
    cfg = load_config(None, ["seed=11", "model.layers=[3, 4, 1]", "model.activation=tanh", "training.dtype=float64"])
    W1 = CoreMLP.from_config(cfg).params["W1"]
    fitted = MLPRegressor((4,), activation="tanh", max_iter=1, random_state=11, learning_rate_init=1e-12).fit(X, y)
    np.testing.assert_allclose(fitted.coefs_[0].T, W1, atol=1e-9)
