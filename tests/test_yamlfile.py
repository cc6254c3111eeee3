"""libyaml's fast parser and the pure-Python one give the same data, lines and messages."""

import pytest
import yaml

from mlpcli import yamlfile
from mlpcli.errors import ConfigError

DOCS = ["a: 1\nb: {c: [1, 2.5, x, null, true]}\n", "model:\n  layers: [784, 256, 10]\n  activation: relu\n",
        "x: &anchor [1, 2]\ny: *anchor\n", "", "# only a comment\n", "s: 'quoted: yes'\nt: 1e-3\nu: ~\n"]


def lines(node):
    """Every node's start line, in document order."""
    out = [node.start_mark.line]
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out += lines(k) + lines(v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            out += lines(v)
    return out


@pytest.mark.skipif(yamlfile._FastLoader is None, reason="PyYAML without libyaml")  # noqa: SLF001 - the two parsers compared
@pytest.mark.parametrize("doc", DOCS)
def test_fast_parser_gives_the_pure_python_data_and_lines(doc):
    fast, fast_node = yamlfile._load(yamlfile._FastLoader, doc, "f.yaml")  # noqa: SLF001 - libyaml's parser ...
    slow, slow_node = yamlfile._load(yamlfile._Loader, doc, "f.yaml")  # noqa: SLF001 - ... against the pure-Python one
    assert fast == slow
    assert (fast_node is None) == (slow_node is None)
    if fast_node is not None:
        assert lines(fast_node) == lines(slow_node)


@pytest.mark.parametrize("doc, message", [
    ("key: @bad\n", "f.yaml:1: invalid YAML: found character '@' that cannot start any token"),
    ("a: [1, 2\n", "f.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    ("a: 1\na: 2\n", "f.yaml:2: duplicate key 'a' (first at line 1)"),
])
def test_invalid_yaml_is_reported_with_the_pure_python_parsers_message(doc, message):
    with pytest.raises(ConfigError) as e:
        yamlfile._parse_yaml(doc, "f.yaml")  # noqa: SLF001 - the parser alone, without a file
    assert str(e.value) == message
