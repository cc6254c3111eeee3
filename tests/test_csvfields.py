"""Fields as right-aligned 64-bit words: equality, keys, the strings back, and floats exactly as NumPy casts them."""

import numpy as np

from mlpcli.csvfields import Fields

VALUES = [b"", b"a", b"abcdefgh", b"abcdefghi", b"x" * 70, b"\xc3\xa9t\xc3\xa9", b"NA", b"-12.50", b"a"]


def test_words_hold_the_fields_and_equal_fields_have_equal_keys():
    f = Fields.of(VALUES)
    assert f.words.shape == (len(VALUES), 9) and f.strings().tolist() == VALUES
    assert [f.value(i) for i in range(len(VALUES))] == VALUES
    assert f.equal(b"a").tolist() == [v == b"a" for v in VALUES] and f.equal(b"").tolist() == [v == b"" for v in VALUES]
    assert f.equal_any([b"NA", b""]).tolist() == [v in (b"NA", b"") for v in VALUES]
    keys = f.keys()
    assert keys[1] == keys[-1] and len(set(keys.tolist())) == len(set(VALUES))
    assert Fields.of([b"a"]).keys()[0] == keys[1]  # a short value's key does not depend on the block's widest field


def test_floats_parse_as_numpy_and_flag_integers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000) * 10.0 ** rng.integers(-6, 9, 3000)
    for fmt in ("%.4f", "%.12g", "%.17g", "%.3e", "%+.1f", "%.0f"):
        s = np.char.mod(fmt, x).astype("S")
        vals, ok, integer = Fields.of(s.tolist()).floats()
        assert ok.all() and np.array_equal(vals, s.astype(np.float64)) and np.array_equal(np.signbit(vals), np.signbit(s.astype(np.float64)))
        assert integer == (fmt == "%.0f"), fmt
    vals, ok, integer = Fields.of([b"3", b"-", b"1-2", b"1.2.3", b"x", b"", b"7"]).floats(skip=np.array([0, 0, 0, 0, 0, 1, 0], bool))
    assert ok.tolist() == [True, False, False, False, False, True, True]
    assert vals[0] == 3 and vals[-1] == 7 and np.isnan(vals[1:6]).all()
    vals, ok, integer = Fields.of([b"3", b"NaN", b"+7", b"-0", b"12345678901"]).floats(skip=np.array([0, 1, 0, 0, 0], bool))
    assert ok.all() and integer and vals[[0, 2, 4]].tolist() == [3, 7, 12345678901] and np.signbit(vals[3])


def test_a_long_field_costs_its_own_length_not_the_columns(monkeypatch):
    """One 200 KB cell among short ones: the column's words stay within the budget (eight words a field here),
    and the long fields are still told apart, found equal and converted by their bytes."""
    import mlpcli.csvfields
    from mlpcli.table import parse_csv

    tail = b"y" * 80  # long values that share their last 64 bytes (all their words hold)
    values = [b"short", b"a" + tail, b"b" + tail, b"z" * 200_000, b"a" + tail, b"1" + b"0" * 70, b"NA" + tail]
    f = Fields.of(values)
    monkeypatch.setattr(mlpcli.csvfields, "WORDS_BUDGET", 0)
    g = Fields.of(values)
    assert f.words.shape[1] == 25_000 and g.words.shape[1] == 8 and g.long.tolist() == [1, 2, 3, 4, 5, 6]
    assert g.equal(b"a" + tail).tolist() == [False, True, False, False, True, False, False]
    assert g.equal(tail[:64]).tolist() == [False] * 7  # the last words of a long field are not a shorter value
    keys, inverse = np.unique(g.keys(), return_inverse=True)
    first = np.array([int(np.flatnonzero(inverse == j)[0]) for j in range(len(keys))])
    assert len(keys) == 6 and g.distinct(first, inverse.reshape(-1))
    vals, ok, integer = g.floats()
    assert ok.tolist() == [False] * 5 + [True, False] and vals[5] == 1e70
    full = f.floats()  # as when the words held every byte
    assert np.array_equal(vals, full[0], equal_nan=True) and np.array_equal(ok, full[1]) and integer == full[2]
    data = b"note,x\n" + b"".join(v + b",%d\n" % i for i, v in enumerate(values))
    t = parse_csv(data, "t.csv", quoted=False)
    assert t.columns["note"].categories == sorted({v.decode() for v in values}) and t.columns["x"].values.tolist() == list(range(7))
