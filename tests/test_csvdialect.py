"""How a text table is written: the delimiter its header holds, and spaces after a closing quote."""

import io

import pytest

from mlpcli.csvdialect import closing_quote_spaces, sniff_delimiter
from mlpcli.errors import DataError
from mlpcli.table import parse_csv


@pytest.mark.parametrize(("data", "default", "expected"), [
    (b"a,b\n1,2\n", ",", ","),
    (b"a;b\n1,5;2\n", ",", ";"),                  # decimal commas in the rows, none in the header
    (b"a|b\n1|2\n", ",", "|"),
    (b"a\tb\n1\t2\n", ",", "\t"),
    (b"a,b\n1,2\n", "\t", ","),                   # a .tsv written with commas
    (b"a;b\tc\n1;2\t3\n", "\t", "\t"),            # both even: the suffix's own first
    (b"x;y,z\n1,2\n3,4\n", ",", ","),             # a name holding ';': the rows split evenly on ',' only
    (b'"a,b";c\n"1,5";2\n', ",", ";"),            # a quoted header name holding ','
    (b'"a\nb";c\n1;"x\ny"\n', ",", ";"),          # line breaks inside quotes
    (b"y\n1\n2\n", ",", ","),                     # one column: the suffix's
    (b"a;b;c\n1;2\n", ",", ";"),                  # uneven rows: the header's (the ragged row is the reader's error)
])
def test_the_delimiter_is_the_one_the_header_holds(data, default, expected):
    assert sniff_delimiter(data, default) == expected


def test_a_space_after_a_closing_quote_is_read_as_the_csv_module_and_pandas_read_it():
    """``"a" ,b``: strict csv refuses it, pandas and csv's lax mode read 'a ' (then mlp strips the space)."""
    pd = pytest.importorskip("pandas")
    text = 'name ,n\n"Smith, J" ,1\n"O""Neil" , 2\n"x,"" ,y"  ,3\n'
    t = parse_csv(text.encode(), "t.csv")
    expected = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    assert t.column("name").categories == sorted(v.strip() for v in expected.iloc[:, 0])
    assert t.column("n").values.tolist() == expected["n"].tolist()
    assert closing_quote_spaces('"a"" ,b" ,1\n', ",") == '"a"" ,b",1\n'  # the quoted ' ,' is content
    for bad in ('a,b\n"x"y,1\n', 'a,b\n"x,1\n'):  # text after a closing quote, an unclosed quote: still refused
        with pytest.raises(DataError, match="malformed quoting"):
            parse_csv(bad.encode(), "t.csv")


@pytest.mark.parametrize(("text", "message"), [
    ("# exported 2024-01-01\nx,y\n1,a\n", ":1: the first line, '# exported 2024-01-01', is one field, but line 2 has 2"),
    ('Sales report\n"x",y\n1,a\n', ":1: the first line, 'Sales report', is one field, but line 2 has 2"),
    ("\nx,y\n1,a\n", ":1: the first line is blank; it must be the header row"),
    ("  \nx;y\n1;a\n", ":1: the first line is blank"),
])
def test_a_title_comment_or_blank_line_above_the_header_is_named(text, message):
    """Not 'row 2 has 2 fields, the header has 1 columns': the header row is not the first line."""
    for quoted in (None, True):
        with pytest.raises(DataError) as e:
            parse_csv(text.encode(), "t.csv", quoted=quoted)
        assert str(e.value).startswith("t.csv") and message in str(e.value), str(e.value)
    assert parse_csv(b"y\n1\n2\n", "t.csv").n_rows == 2  # one column is a table


def test_a_windows_export_is_read_as_windows_1252_with_a_warning(capsys, monkeypatch):
    """Excel on Windows writes CSV in Windows-1252 (Latin-1 alike): read, said once on stderr; UTF-16 and
    UTF-32 by their byte-order mark; a named encoding without a warning; utf-8 named refuses the bytes."""
    import mlpcli.csvdialect as dialect

    monkeypatch.setattr(dialect, "_WARNED", set())
    text = "ville;prix;y\nZürich;3,5;a\nGenève;4,25;b\nKöln €;1;a\n"
    cp = text.encode("cp1252")
    t = parse_csv(cp, "w.csv")
    parse_csv(cp, "w.csv")  # said once per file
    assert t.column("ville").categories == ["Genève", "Köln €", "Zürich"] and t.column("prix").values.tolist() == [3.5, 4.25, 1]
    assert capsys.readouterr().err == ("mlp: warning: w.csv:2: not UTF-8 text; read as Windows-1252 (set data.encoding "
                                       "if the file is in another)\n")
    for encoding in ("utf-16", "utf-32", "utf-8-sig"):
        assert parse_csv(text.encode(encoding), "w.csv").column("ville").categories == ["Genève", "Köln €", "Zürich"]
    assert parse_csv(text.replace("€", "").encode("latin-1"), "w.csv", encoding="latin-1").column("ville").categories[1] == "Köln"
    assert capsys.readouterr().err == ""
    with pytest.raises(DataError, match=r"w.csv:2: column 'ville': not UTF-8 text .*set data.encoding"):
        parse_csv(cp, "w.csv", encoding="utf-8")
    # 0x81 is no Windows-1252 character: the bytes are Latin-1's
    assert parse_csv(b"a,y\n\x81x,1\n", "w.csv").column("a").categories == ["\x81x"]


def test_utf8_is_checked_in_chunks_that_never_split_a_character(monkeypatch, capsys):
    import mlpcli.csvdialect as dialect

    monkeypatch.setattr(dialect, "CHUNK", 7)
    monkeypatch.setattr(dialect, "_WARNED", set())
    text = "x,y\n" + "".join(f"é{i},ü\n" for i in range(40))
    assert parse_csv(text.encode(), "u.csv").column("x").categories[0] == "é0"
    assert capsys.readouterr().err == ""  # every chunk boundary fell inside a two-byte character or not: no false alarm
    data = text.encode() + b"\xe9,z\n"  # a Latin-1 e-acute on the last line
    assert dialect.not_utf8(bytearray(data)) == len(text.encode())
    ascii_first = text.replace("é", "e").replace("ü", "u").encode() + b"\xe9,z\n"
    assert parse_csv(ascii_first, "a.csv").column("x").categories[-1] == "é"
    assert "a.csv:42: not UTF-8 text; read as Windows-1252" in capsys.readouterr().err


def test_utf8_with_one_stray_byte_is_an_error_not_windows_1252(capsys):
    """UTF-8 text (Zürich) above one byte that is not UTF-8 is a UTF-8 file with a bad byte: read as Windows-1252
    its every ü would be Ã¼, so it is an error naming the line; only an ASCII start falls back to Windows-1252."""
    data = "city,y\nZürich,1\nBern,0\n".encode() + b"Gen\xe8ve,1\n"
    with pytest.raises(DataError, match=r"u.csv:4: not UTF-8 text \(byte 0xe8\).*set data.encoding"):
        parse_csv(data, "u.csv")
    assert parse_csv(data, "u.csv", encoding="latin-1").column("city").categories == ["Bern", "Genève", "ZÃ¼rich"]
    assert capsys.readouterr().err == ""


def test_an_unknown_encoding_is_a_config_error(tmp_path):
    from mlpcli.config import load_config
    from mlpcli.errors import ConfigError

    (tmp_path / "t.csv").write_text("x,y\n1,a\n2,b\n")
    base = ["data.name=table", f"data.train={tmp_path / 't.csv'}", "data.target=y"]
    assert load_config(None, [*base, "data.encoding=cp1252"]).data.encoding == "cp1252"
    with pytest.raises(ConfigError, match="data.encoding: unknown encoding 'klingon'"):
        load_config(None, [*base, "data.encoding=klingon"])
