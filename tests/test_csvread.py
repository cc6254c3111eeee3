"""The CSV reader's two paths (the vectorised one, and the csv module's for quoted files) read the same
table alike: values, types, categories, integer flags and errors, on hypothesis-generated tables."""

import csv
import io

import numpy as np
import pytest

import mlpcli.csvcolumns
import mlpcli.csvread
import mlpcli.errors
from mlpcli.errors import DataError
from mlpcli.table import NA_VALUES, parse_csv

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(-1e9, 1e9, allow_nan=False).map(repr),
                    st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.4f}"),
                    st.floats(1e-30, 1e30).map(lambda v: f"{v:.6e}"), st.sampled_from(["-0", "+3", ".5", "5.", "-.25",
                                                                                        "1e3", "00012", "1234567890.12345"]))
TEXT = st.sampled_from(["red", "green", "é", "a much longer category name than sixteen bytes", "x" * 70, "NA", "nan",
                        "null", "inf", "?", "1,000"])
FIELDS = st.one_of(NUMBERS, NUMBERS, TEXT, st.just(""), st.sampled_from([" 7", "7 ", " ", "-", "."]))


def encode(rows, *, quote_all, crlf, bom, trailing):
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    text = out.getvalue()
    if not trailing:
        text = text.rstrip("\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def read(data, quoted, na_values):
    try:
        return parse_csv(data, "t.csv", na_values=na_values, quoted=quoted)
    except DataError as e:
        return str(e)


def same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert a.n_rows == b.n_rows and list(a.columns) == list(b.columns)
    for name, ca in a.columns.items():
        cb = b.columns[name]
        assert ca.categories == cb.categories and ca.integer == cb.integer, name
        assert np.array_equal(ca.values, cb.values, equal_nan=ca.numeric), name
        if ca.numeric:
            assert np.array_equal(np.signbit(ca.values), np.signbit(cb.values)), name


@hypothesis.settings(max_examples=250, deadline=None, derandomize=True)
@hypothesis.given(n_cols=st.integers(1, 4), body=st.lists(st.lists(FIELDS, min_size=4, max_size=4), min_size=1, max_size=25),
                  crlf=st.booleans(), bom=st.booleans(), trailing=st.booleans(), block=st.sampled_from([16, 64, 1 << 20]),
                  na=st.sampled_from([None, ["", "?"], ["-999", "null", "NA"]]))
def test_the_fast_path_reads_as_the_csv_module(n_cols, body, crlf, bom, trailing, block, na):
    rows = [[f"c{j}" for j in range(n_cols)]] + [r[:n_cols] for r in body]
    hypothesis.assume(not (n_cols == 1 and any(r == [""] for r in rows[1:])))  # a blank line is no row in the csv module
    na = NA_VALUES if na is None else na
    saved = mlpcli.csvread.BLOCK_BYTES, mlpcli.csvread.SAMPLE, mlpcli.csvcolumns.SAMPLE
    # many blocks (the threaded join) after a first block of 3 rows that decide the types
    mlpcli.csvread.BLOCK_BYTES, mlpcli.csvread.SAMPLE, mlpcli.csvcolumns.SAMPLE = block, 3, 3
    try:
        plain = encode(rows, quote_all=False, crlf=crlf, bom=bom, trailing=trailing)
        slow = read(encode(rows, quote_all=True, crlf=crlf, bom=bom, trailing=trailing), True, na)
        if b'"' not in plain:  # a file without quotes takes the fast path
            same(read(plain, None, na), slow)
        same(read(plain, True, na), slow)
    finally:
        mlpcli.csvread.BLOCK_BYTES, mlpcli.csvread.SAMPLE, mlpcli.csvcolumns.SAMPLE = saved


def test_numbers_past_the_first_block_are_checked_and_located(monkeypatch):
    monkeypatch.setattr("mlpcli.csvread.BLOCK_BYTES", 32)
    data = b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i % 3) for i in range(200)) + b"oops,x\n"
    for quoted in (False, True):
        with pytest.raises(DataError, match=r"t.csv:202: column 'a': 'oops' is not a number"):
            parse_csv(data, "t.csv", quoted=quoted)
    t = parse_csv(data[: -len(b"oops,x\n")], "t.csv")
    assert t.columns["a"].values.tolist() == list(range(200)) and t.columns["a"].integer
    assert t.columns["b"].categories == ["x0", "x1", "x2"] and t.columns["b"].values.tolist() == [i % 3 for i in range(200)]


def test_a_models_numeric_columns_are_numbers_whatever_their_first_rows_hold():
    """numeric=: a trained model's numeric inputs are read as numbers; text in them is an error that says
    how to fix the data (the config's na_values cannot change a checkpoint's preprocessing)."""
    data = b"a,b\n" + b"x,1\n" * 5 + b"2.5,2\n"
    assert parse_csv(data, "t.csv").columns["a"].categories == ["2.5", "x"]  # mostly text: a text column
    for quoted in (False, True):
        with pytest.raises(DataError) as e:
            parse_csv(data, "t.csv", numeric=["a"], na_values=["", "?"], quoted=quoted)
        assert str(e.value) == ("t.csv:2: column 'a': 'x' is not a number, and the model was trained on numbers in this "
                                "column (correct the value, or write one the model reads as missing: '', '?')")
    t = parse_csv(b"a,b\n" + b"?,1\n" * 3 + b"2.5,2\n", "t.csv", numeric=["a"], na_values=["?"])
    assert np.array_equal(t.columns["a"].values, [np.nan] * 3 + [2.5], equal_nan=True)


def test_text_far_past_the_rows_that_type_a_column_is_an_error_at_its_line():
    """The types come from the first SAMPLE rows; a text at row 5000 of a numeric column is still found, at its
    line, by both paths and whatever the blocks (never NaN, never a category)."""
    rows = [f"{i * 0.5},{'ab'[i % 2]}" for i in range(6000)]
    rows[4999] = "oops,a"
    plain = ("x,y\n" + "\n".join(rows) + "\n").encode()
    for quoted, block in ((False, 1 << 20), (False, 4096), (True, 1 << 20)):
        mlpcli.csvread.BLOCK_BYTES, saved = block, mlpcli.csvread.BLOCK_BYTES
        try:
            with pytest.raises(DataError, match=r"^t.csv:5001: column 'x': 'oops' is not a number, but the column is numeric"):
                parse_csv(plain, "t.csv", quoted=quoted)
        finally:
            mlpcli.csvread.BLOCK_BYTES = saved


def test_a_column_of_text_first_and_numbers_after_is_numeric_with_its_text_an_error():
    """Typed text by its first rows, numbers by most of its values: the first text is the error (numbers are not
    made categories because text came first); listed in data.categorical, it is read as text."""
    rows = [("low" if i % 2 else "high") if i < 2500 else str(i) for i in range(6000)]
    data = ("x,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(rows))).encode()
    for quoted in (False, True):
        with pytest.raises(DataError, match=r"^t.csv:2: column 'x': 'high' is not a number, but the column is numeric \(most"):
            parse_csv(data, "t.csv", quoted=quoted)
    assert len(parse_csv(data, "t.csv", text=["x"]).columns["x"].categories) == 3502
    mostly_text = ("x\n" + "a\n" * 3000 + "1\n" * 2999).encode()  # fewer than half numbers: a text column
    assert parse_csv(mostly_text, "t.csv").columns["x"].categories == ["1", "a"]


def test_conversion_threads_follow_mlpcli_threads_and_the_threads_argument(monkeypatch):
    """MLPCLI_THREADS (or --threads, through threads=) bounds the reader's threads as it does training's."""
    used = []

    class Pool(mlpcli.csvread.ThreadPoolExecutor):
        def __init__(self, n):
            used.append(n)
            super().__init__(n)

    monkeypatch.setattr(mlpcli.csvread, "ThreadPoolExecutor", Pool)
    monkeypatch.setattr(mlpcli.csvread, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(mlpcli.csvread, "cores", lambda: 8)
    data = ("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(20000))).encode()
    expected = parse_csv(data, "t.csv", threads=1)  # no pool at all
    monkeypatch.setenv("MLPCLI_THREADS", "1")
    same(parse_csv(data, "t.csv"), expected)
    assert used == []
    monkeypatch.setenv("MLPCLI_THREADS", "3")
    same(parse_csv(data, "t.csv"), expected)
    same(parse_csv(data, "t.csv", threads=2), expected)
    monkeypatch.delenv("MLPCLI_THREADS")
    same(parse_csv(data, "t.csv"), expected)
    assert used == [3, 2, mlpcli.csvread.MAX_THREADS]
    monkeypatch.setenv("MLPCLI_THREADS", "many")
    with pytest.raises(mlpcli.errors.ConfigError, match="MLPCLI_THREADS"):
        parse_csv(data, "t.csv")


def test_spaces_around_fields_and_names_are_not_part_of_them():
    """The UCI style (``39, State-gov, ?``): names, classes and categories without their spaces, the marker
    ' ?' missing, and a quoted field may follow its delimiter's space; both paths alike, any blocks."""
    body = "age , workclass, income\n39, State-gov, <=50K\n50,  ?  , >50K \n 38 ,Private,<=50K\n"
    for quoted, block in ((False, 1 << 20), (False, 16), (True, 1 << 20)):
        mlpcli.csvread.BLOCK_BYTES, saved = block, mlpcli.csvread.BLOCK_BYTES
        try:
            t = parse_csv(body.encode(), "t.csv", quoted=quoted)
        finally:
            mlpcli.csvread.BLOCK_BYTES = saved
        assert list(t.columns) == ["age", "workclass", "income"]
        assert t.columns["age"].values.tolist() == [39, 50, 38] and t.columns["age"].integer
        assert t.columns["workclass"].categories == ["Private", "State-gov"] and t.columns["workclass"].values.tolist() == [1, -1, 0]
        assert t.columns["income"].categories == ["<=50K", ">50K"]
    t = parse_csv(b'name,x\n"a, b", 1\n "c",2\n', "t.csv")
    assert t.columns["name"].categories == ["a, b", "c"] and t.columns["x"].values.tolist() == [1, 2]
