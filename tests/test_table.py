"""The table reader: values against pandas, RFC 4180 quoting, and every bad table as one DataError."""

import gzip

import numpy as np
import pytest

from mlpcli.csvfields import Fields
from mlpcli.errors import DataError
from mlpcli.table import parse_csv, read_table


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_numeric_text_and_missing_columns(tmp_path):
    t = read_table(write(tmp_path, "a,b,c\n1,x,2.5\n,y,NA\n3,x,-1e3\n"))
    assert t.n_rows == 3 and list(t.columns) == ["a", "b", "c"]
    np.testing.assert_array_equal(t.columns["a"].values, [1, np.nan, 3])
    assert t.columns["a"].integer and not t.columns["c"].integer
    np.testing.assert_array_equal(t.columns["c"].values, [2.5, np.nan, -1000.0])
    b = t.columns["b"]
    assert b.categories == ["x", "y"] and b.values.tolist() == [0, 1, 0]


def test_matches_the_csv_module_on_a_generated_table(tmp_path):
    import csv

    rng = np.random.default_rng(0)
    n = 3000
    cols = {"x": [f"{v:.6g}" for v in rng.normal(size=n) * 1e3], "i": [str(v) for v in rng.integers(-50, 50, n)],
            "c": list(rng.choice(["red", "green", "a much longer category name"], n)), "y": [repr(float(v)) for v in rng.random(n)]}
    for i in np.flatnonzero(rng.random(n) < 0.05):
        cols["x"][i] = ""
    for i in np.flatnonzero(rng.random(n) < 0.05):
        cols["c"][i] = "NA"
    path = tmp_path / "g.csv"
    path.write_text("x,i,c,y\n" + "\n".join(",".join(r) for r in zip(*cols.values(), strict=True)) + "\n")
    ref = list(csv.DictReader(path.open()))
    t = read_table(path)
    for name in ("x", "i", "y"):
        want = [float(r[name]) if r[name] else np.nan for r in ref]
        np.testing.assert_array_equal(t.columns[name].values, want)
    assert t.columns["c"].text() == [r["c"] if r["c"] != "NA" else "" for r in ref]


def test_blocks_join_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr("mlpcli.csvread.BLOCK_BYTES", 16)  # many tiny blocks
    rows = [f"{i},{'abc'[i % 3]}" for i in range(200)]
    t = read_table(write(tmp_path, "n,s\n" + "\n".join(rows) + "\n"))
    assert t.columns["n"].values.tolist() == list(range(200))
    assert t.columns["s"].text() == ["abc"[i % 3] for i in range(200)]


def test_quoted_fields_follow_rfc_4180(tmp_path):
    t = read_table(write(tmp_path, 'name,score\n"Smith, J.",1\n"say ""hi""",2\n"two\nlines",3\n'))
    assert t.columns["name"].text() == ["Smith, J.", 'say "hi"', "two\nlines"]
    assert t.columns["score"].values.tolist() == [1, 2, 3]
    assert [t.line(i) for i in range(3)] == [2, 3, 5]  # the quoted line break moves the last row down


def test_crlf_bom_tsv_and_gzip(tmp_path):
    t = read_table(write(tmp_path, b"\xef\xbb\xbfa\tb\r\n1\t2\r\n", "t.tsv"))
    assert list(t.columns) == ["a", "b"] and t.columns["b"].values.tolist() == [2.0]
    p = tmp_path / "t.csv.gz"
    p.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))
    assert read_table(p).columns["a"].values.tolist() == [1.0, 3.0]


def test_parquet_matches_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    tbl = pa.table({"x": [1.5, None, 3.0], "k": pa.array([1, 2, 3], pa.int64()), "s": ["u", None, "v"], "b": [True, False, True]})
    pq.write_table(tbl, tmp_path / "t.parquet")
    t = read_table(tmp_path / "t.parquet")
    np.testing.assert_array_equal(t.columns["x"].values, [1.5, np.nan, 3.0])
    assert t.columns["k"].integer and t.columns["s"].text() == ["u", "", "v"]
    assert t.columns["b"].categories == ["false", "true"]


def test_parquet_dates_are_text_as_in_a_csv(tmp_path):
    """A date column (often an identifier to drop) must not make the whole file unreadable."""
    pa = pytest.importorskip("pyarrow")
    import datetime

    import pyarrow.parquet as pq

    days = [datetime.date(2020, 1, d) for d in (3, 1, 2)]
    pq.write_table(pa.table({"day": days, "x": [1.0, 2.0, 3.0]}), tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").columns["day"].text() == ["2020-01-03", "2020-01-01", "2020-01-02"]
    pq.write_table(pa.table({"x": [1.0, float("inf")]}), tmp_path / "i.parquet")
    with pytest.raises(DataError, match=r"i.parquet: column 'x', row 2: inf is not a finite number"):
        read_table(tmp_path / "i.parquet")
    pq.write_table(pa.table({"l": [[1], [2]]}), tmp_path / "n.parquet")
    with pytest.raises(DataError, match=r"n.parquet: column 'l' has type list<.*expected numbers, booleans, dates or text"):
        read_table(tmp_path / "n.parquet")


def test_listed_text_columns_and_usecols(tmp_path):
    t = read_table(write(tmp_path, "zip,v,skip\n02139,1,x\n10001,2,y\n"), text=["zip"], usecols=["zip", "v"])
    assert list(t.columns) == ["zip", "v"] and t.columns["zip"].categories == ["02139", "10001"]


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("\n\n", "empty file"),
    ("a,b\n", "only a header row"),
    ("a,b,a\n1,2,3\n", ":1: duplicate column name 'a' (columns 1 and 3)"),
    ("a,b\n1,2\n3\n", ":3: row has 1 field, the header has 2 columns"),
    ("a,b\n1,2\n3,4,5\n", ":3: row has 3 fields"),
    ("a,b\n1,2\n\n3,4\n", ":3: row is empty"),
    ("a,b\n" + "1,2\n" * 10 + "1,oops\n", ":12: column 'b': 'oops' is not a number"),
    ('a,b\n"1,2\n', "malformed quoting"),
    ('a,b\n"x",1\n"y"\n', ":3: row has 1 fields"),
    ("a,b\n1,2\n3,4\n\n5,6\n", ":4: row is empty"),
    ("a,b\n1,\x002\n", "NUL byte"),
    # an infinite input would make the outputs it reaches NaN: eval's metrics null, predictions NaN, exit 0
    ("a,b\n1,2\n3,inf\n", ":3: column 'b': 'inf' is not a finite number"),
    ('a,b\n"x",2\n"y",-1e400\n', ":3: column 'b': '-1e400' is not a finite number"),
    # numbers written with commas would silently become categories (or a target's classes)
    ('a,b\n1,"151,000"\n2,7\n3,"1,234,567.5"\n', ":2: column 'b': '151,000' is a number with a ','"),
    ('a,b\n1,\n2,"2,5"\n3,"3,25"\n', ":3: column 'b': '2,5' is a number with a ','"),
    # a rate or a price with its unit: every value a category of its own (or the column an identifier)
    ("a,rate\n1,45%\n2,7 %\n3,12\n", ":2: column 'rate': '45%' is a number with a unit ('%' or a currency)"),
    ("a,price\n1,$12.50\n2,-$3\n", ":2: column 'price': '$12.50' is a number with a unit"),
    ("a;price\n1;12,5 €\n2;3 €\n", ":2: column 'price': '12,5 €' is a number with a unit"),
    ("a,b\n" + "1,2\n" * 10 + "1,5%\n", ":12: column 'b': '5%' is a number with a unit"),  # after its numbers
])
def test_bad_tables_name_file_line_and_column(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(DataError) as e:
        read_table(p)
    assert str(e.value).startswith(str(p)) and message in str(e.value), str(e.value)


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
@pytest.mark.parametrize("name", ["t.csv", "t.tsv"])
def test_the_delimiter_is_the_headers_whatever_the_suffix(tmp_path, sep, name):
    """A ';'-separated export (the UCI wine-quality files), a '|' or tab file named .csv: read as pandas
    reads them with that sep, quoted fields holding the other delimiters included."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"fixed acidity": rng.normal(7, 1, 60).round(2), "n": rng.integers(0, 9, 60),
                          "note": rng.choice(["a,b", "c;d", "e|f", "plain"], 60), "quality": rng.choice(["low", "high"], 60)})
    p = tmp_path / name
    frame.to_csv(p, sep=sep, index=False)
    for quoted in (None, True):
        t = parse_csv(p.read_bytes(), str(p), quoted=quoted, default="\t" if name.endswith(".tsv") else ",")
        assert list(t.columns) == list(frame.columns)
        np.testing.assert_array_equal(t.column("fixed acidity").values, frame["fixed acidity"])
        assert t.column("note").text() == list(frame["note"]) and t.column("quality").text() == list(frame["quality"])
    assert read_table(p).column("n").values.tolist() == frame["n"].tolist()


def test_a_spreadsheets_decimal_commas_read_as_pandas_decimal(tmp_path):
    """Excel in a ','-decimal locale writes ';' between fields and 2,5 for 2.5: numbers, as pandas'
    decimal=','; text with commas stays text; data.decimal: '.' refuses them, ',' reads a quoted '2,5' anywhere."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(0, 100, 3000).round(3), "city": rng.choice(["Paris, FR", "Rome"], 3000),
                          "k": rng.integers(-5, 5, 3000)})
    frame.loc[7, "x"] = np.nan
    p = tmp_path / "eu.csv"
    frame.to_csv(p, sep=";", decimal=",", index=False)
    expected = pd.read_csv(p, sep=";", decimal=",")
    for quoted in (None, True):
        t = parse_csv(p.read_bytes(), str(p), quoted=quoted)
        np.testing.assert_array_equal(t.column("x").values, expected["x"])
        assert t.column("city").categories == ["Paris, FR", "Rome"] and t.column("k").integer
    with pytest.raises(DataError, match=r"eu.csv:2: column 'x': '-?\d+,\d+' is a number with a ','"):
        read_table(p, decimal=".")
    q = write(tmp_path, 'a,b\n1,"2,5"\n2,"-0,75"\n')
    assert read_table(q, decimal=",").column("b").values.tolist() == [2.5, -0.75]
    # a column the trained model reads as numbers (predict) reads decimal commas too
    assert read_table(p, numeric=["x"]).column("x").values[0] == expected["x"][0]
    with pytest.raises(DataError, match=r"g.csv:3: column 'b': '1.234,5' is a number with '.' thousands separators"):
        read_table(write(tmp_path, "a;b\n1;2,5\n2;1.234,5\n", "g.csv"))


def test_decimal_commas_are_read_only_in_semicolon_files_and_never_guessed_in_a_mixed_column(tmp_path, monkeypatch):
    """data.decimal: auto reads 2,5 as 2.5 in a ';'-separated file only: in a tab- or '|'-separated one 1,037 is
    an error (a US thousands separator, not 1.037); a ';' column holding both 2,5 and 1.234 is an error naming
    the cell, in one block or across blocks; data.decimal: ',' still reads every ',' as the decimal mark."""
    for name, text in (("t.tsv", "x\tamount\n1\t1,037\n2\t2,500\n"), ("p.csv", "x|amount\n1|1,037\n2|2,500\n")):
        with pytest.raises(DataError, match=rf"{name}:2: column 'amount': '1,037' is a number with a ',' .*data.decimal: \",\""):
            read_table(write(tmp_path, text, name))
        assert read_table(tmp_path / name, decimal=",").column("amount").values.tolist() == [1.037, 2.5]
    with pytest.raises(DataError, match=r"m.tsv:3: column 'amount': '1,000' is a number with a ','"):
        read_table(write(tmp_path, "x\tamount\n1\t2.5\n2\t1,000\n", "m.tsv"))
    mixed = "x;amount\n1;2,5\n2;1.234\n"
    with pytest.raises(DataError, match=r"s.csv:3: column 'amount': '1.234', but '2,5' at .*s.csv:2: .*both ',' and '.'"):
        read_table(write(tmp_path, mixed, "s.csv"))
    assert read_table(tmp_path / "s.csv", decimal=",").column("amount").values.tolist() == [2.5, 1.234]
    monkeypatch.setattr("mlpcli.csvread.BLOCK_BYTES", 32)
    rows = "".join(f"{i};{i},5\n" for i in range(300)) + "300;7.25\n"
    with pytest.raises(DataError, match=r"b.csv:302: column 'amount': '7.25', but '0,5' at .*b.csv:2"):
        read_table(write(tmp_path, "x;amount\n" + rows, "b.csv"))
    assert read_table(write(tmp_path, "x;amount\n" + rows[: -len("300;7.25\n")], "c.csv")).column("amount").values[-1] == 299.5


def test_a_delimiter_set_in_the_config_that_does_not_split_the_header_names_the_one_it_holds(tmp_path):
    p = write(tmp_path, "a;b;c\n1,5;2;x\n")
    with pytest.raises(DataError, match=r":1: the header is one column holding 2 semicolons, so the file looks "
                                        r"semicolon-separated, but data.delimiter is ','"):
        read_table(p, delimiter=",")
    assert list(read_table(p, delimiter=";").columns) == ["a", "b", "c"]


def test_labels_with_commas_stay_text_and_listed_grouped_numbers_are_categories(tmp_path):
    t = read_table(write(tmp_path, 'a,b\n1,"Paris, France"\n2,"1,000"\n'))
    assert t.column("b").categories == ["1,000", "Paris, France"]
    t = read_table(write(tmp_path, 'a,b\n1,"1,000"\n2,"2,000"\n'), text=["b"])
    assert t.column("b").categories == ["1,000", "2,000"]


@pytest.mark.parametrize(("asked", "hint"), [("Target", "did you mean 'target'?"), ("age", "did you mean 'Age'?"),
                                             ("tagret", "did you mean 'target'?"), ("zzz", "(columns: id, Age, target)")])
def test_an_unknown_column_suggests_the_one_meant(tmp_path, asked, hint):
    p = write(tmp_path, "id, Age ,target\n1,2,3\n")
    for read in (lambda: read_table(p, usecols=[asked]), lambda: read_table(p).column(asked)):
        with pytest.raises(DataError) as e:
            read()
        assert str(e.value).startswith(f"{p}: no column {asked!r}") and hint in str(e.value), str(e.value)


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="not a table"):
        read_table(write(tmp_path, "a\n1\n", "t.xlsx"))
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a regular file"):
        (tmp_path / "d.csv").mkdir()
        read_table(tmp_path / "d.csv")


def test_plain_decimals_parse_exactly_as_numpy_does():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5000) * 10.0 ** rng.integers(-9, 9, 5000)
    for fmt in ("%.4f", "%.15g", "%.17g", "%e", "%+.2f"):
        s = np.char.mod(fmt, x).astype("S")
        got, want = Fields.of(s.tolist()).floats()[0], s.astype(np.float64)
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want)), fmt
    s = np.array([b"-0", b".5", b"5.", b"-.25", b"+3", b"1e3", b"inf", b" 7"])
    assert np.array_equal(Fields.of(s.tolist()).floats()[0], s.astype(np.float64))


def test_fuzzed_bytes_give_a_table_or_a_data_error():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    csvish = st.lists(st.lists(st.sampled_from(["1", "-2.5", "", "x", "NA", '"q,1"', '"', "1e5", "é", "\r", " "]),
                               min_size=1, max_size=4), min_size=0, max_size=6)

    def check(data: bytes):
        try:
            t = parse_csv(data, "fuzz.csv")
        except DataError:
            return
        assert t.n_rows >= 1
        for c in t.columns.values():
            assert len(c.values) == t.n_rows

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.binary(max_size=64))
    def random_bytes(b):
        check(b)

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(csvish)
    def csv_like(rows):
        check("\n".join(",".join(r) for r in rows).encode())

    random_bytes()
    csv_like()
