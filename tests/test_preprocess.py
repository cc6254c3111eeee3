"""Table preprocessing: imputation, scaling and one-hot against scikit-learn, and its JSON."""

import json

import numpy as np
import pytest

from mlpcli.errors import DataError
from mlpcli.preprocess import TablePreprocessor
from mlpcli.table import parse_csv
from mlpcli.task import Task, classes_task

CSV = b"""age,city,income,label
30,paris,100.5,yes
,london,80,no
50,paris,,yes
40,,120,no
35,berlin,90,yes
"""


def table(data=CSV):
    return parse_csv(data, "t.csv")


def fit(t, **kw):
    return TablePreprocessor.fit(t, ["label"], classes_task(["no", "yes"]), **kw)


def test_matches_scikit_learn_pipeline():
    sk = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    t = table()
    pre = fit(t)
    X = pre.transform(t, np.float64)
    raw = np.array([[30, "paris", 100.5], [np.nan, "london", 80], [50, "paris", np.nan], [40, np.nan, 120],
                    [35, "berlin", 90]], dtype=object)
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), [0, 2]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), [1]),
    ])
    ref = ct.fit_transform(raw)
    ref = ref.toarray() if hasattr(ref, "toarray") else ref
    # mlpcli keeps the table's column order: age, city (one-hot), income
    ours = X[:, [0, 4, 1, 2, 3]]
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert pre.feature_names == ["age", "city=berlin", "city=london", "city=paris", "income"]


def test_hand_computed_encoding():
    t = table()
    pre = fit(t, missing={"numeric": "median", "categorical": "missing_category"}, normalize="none")
    X = pre.transform(t, np.float64)
    # age median of 30, 50, 40, 35 is 37.5; city categories + (missing); income median of 100.5, 80, 120, 90 is 95.25
    np.testing.assert_array_equal(X[:, 0], [30, 37.5, 50, 40, 35])
    np.testing.assert_array_equal(X[:, 5], [100.5, 80, 95.25, 120, 90])
    np.testing.assert_array_equal(X[:, 1:5], [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
    np.testing.assert_array_equal(pre.encode_target(t), [1, 0, 1, 0, 1])


def test_unseen_category_is_zeros_in_one_warning(capsys):
    pre = fit(table())
    new = table(b"age,city,income\n1,rome,2\n2,oslo,3\n3,paris,4\n")
    X = pre.transform(new)
    np.testing.assert_array_equal(X[:2, 1:4], 0)
    assert X[2, 1:4].tolist() == [0, 0, 1]
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "2 in 'city'" in err


def test_missing_column_is_named():
    pre = fit(table())
    with pytest.raises(DataError, match="missing column 'income'"):
        pre.transform(table(b"age,city\n1,paris\n"))


def test_json_round_trip_transforms_alike():
    t = table()
    pre = fit(t, missing={"numeric": "zero"})
    again = TablePreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())), pre.task)
    np.testing.assert_array_equal(again.transform(t), pre.transform(t))
    assert pre.to_dict()["target"] == {"names": ["label"]}  # the task and its classes are the checkpoint's, not the spec's
    assert pre.transform(t).dtype == np.float32


def test_regression_target_scaled_and_back():
    t = parse_csv(b"x,y\n1,10\n2,20\n3,60\n", "r.csv")
    pre = TablePreprocessor.fit(t, ["y"], Task("regression"))
    y = pre.encode_target(t)
    assert abs(y.mean()) < 1e-12 and abs(y.std() - 1) < 1e-12
    np.testing.assert_allclose(pre.decode(y), [[10], [20], [60]])
    flat = TablePreprocessor.fit(t, ["y"], Task("regression"), normalize_target=False)
    np.testing.assert_array_equal(flat.encode_target(t), [10, 20, 60])


def test_an_empty_column_is_named_with_its_file():
    """A comma at the end of every line makes an empty 'Unnamed: 4' column."""
    t = table(b"".join(line + b"," for line in CSV.splitlines(keepends=True)).replace(b"\n,", b",\n"))
    assert t.columns["Unnamed: 4"].missing.all()
    with pytest.raises(DataError, match=r"^t.csv: column 'Unnamed: 4' is empty in every training row; list it in data.drop"):
        fit(t)
    assert fit(t, drop=["Unnamed: 4"]).input_names == ["age", "city", "income"]


def test_drop_policy_marks_incomplete_rows():
    t = table()
    pre = fit(t, missing={"numeric": "drop", "categorical": "drop"})
    assert pre.incomplete_rows(t).tolist() == [False, True, True, True, False]


def test_text_in_a_column_not_listed_as_categorical():
    with pytest.raises(DataError, match=r"t.csv:2: column 'city' holds text .*data.categorical"):
        fit(table(), categorical=[])
    with pytest.raises(DataError, match=r"no column 'nope' \(columns: age, city, income, label\)"):
        fit(table(), categorical=["nope"])


def test_a_value_too_large_for_the_networks_precision_is_named_not_predicted():
    """1e300 is a float64 but no float32: cast, it is inf, and a saturating network would still
    give a finite (meaningless) prediction. In float64 the same value is fine."""
    pre = fit(table())
    new = table(b"age,city,income,label\n30,paris,100,yes\n1e300,paris,90,no\n")
    with pytest.raises(DataError, match=r"t.csv:3: column 'age': 1e\+300 is too large for the network's float32"):
        pre.transform(new, np.float32)
    assert np.isfinite(pre.transform(new, np.float64)).all()
