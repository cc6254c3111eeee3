"""Reading a config's YAML: ``safe_load`` only, with the guards a file from someone else needs.

Duplicate keys are errors, aliases that expand to too many nodes ("billion laughs"), nesting
deeper than ``MAX_YAML_DEPTH``, control characters and more than 1 MiB (counted as read, so a
pipe is bounded too) are refused, tags such as ``!!python/...`` construct nothing, and the
node tree is kept so that schema errors can name the line of the key they are about.
``--set key.path=value`` overrides are parsed by the same loader.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ConfigError
from .safeio import read_bounded

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; anything over 1 MiB is refused
MAX_YAML_NODES = 100_000  # nodes after expanding aliases ("billion laughs" is refused)
MAX_YAML_DEPTH = 64  # a config nests three levels; deeper is refused before anything recurses
MAX_KEY_PARTS = 16  # parts of a --set key path


class _Loader(yaml.SafeLoader):
    """safe_load's loader; only data types, never Python objects."""


# The same on libyaml's parser, where PyYAML has it: ten times faster, a few ms of every start-up.
_FastLoader = type("_FastLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader") else None

# YAML 1.2 reads 1e-3 as a number (PyYAML's YAML 1.1 wants 1.0e-3 and would give the string "1e-3")
for _cls in (_Loader, _FastLoader) if _FastLoader is not None else (_Loader,):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _parse_yaml(text: str, source: str):
    """(data, node): safe_load with duplicate keys and alias bombs refused, keeping line marks."""
    try:
        _check_depth(text, source)  # before any parser: libyaml's composer recurses in C
        if _FastLoader is not None:
            try:
                return _load(_FastLoader, text, source)
            except yaml.YAMLError:
                pass  # invalid: the pure-Python parser's message names the offending character, so it reports
        return _load(_Loader, text, source)  # its constructor checks the characters: NUL and control characters
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = e.problem or e.context or "invalid YAML"
        if "constructor" in str(problem) or "tag" in str(problem):
            problem = f"{problem} (only plain YAML data is allowed: no tags such as !!python/...)"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as e:
        raise ConfigError(f"{source}: invalid YAML: character {_char(e.character)} at position {e.position} is not allowed "
                          f"(no NUL bytes or control characters)") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise ConfigError(f"{source}: the YAML nests too deeply (limit {MAX_YAML_DEPTH} levels)") from None


def _load(loader_class, text: str, source: str):
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_nodes(node, source)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _char(c) -> str:
    return f"#x{c:04x}" if isinstance(c, int) else repr(c)


def _check_depth(text: str, source: str) -> None:
    """Refuse flow or block nesting deeper than MAX_YAML_DEPTH before the (recursive) parser sees it."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader) if _may_nest_deeply(text) else ():
        if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken,
                              yaml.BlockSequenceStartToken, yaml.BlockMappingStartToken)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                line = token.start_mark.line + 1
                raise ConfigError(f"{source}:{line}: the YAML nests more than {MAX_YAML_DEPTH} levels deep")
        elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)):
            depth -= 1


def _may_nest_deeply(text: str) -> bool:
    """Cheap pre-filter: only text with many brackets or deep indentation is scanned for depth."""
    brackets = text.count("[") + text.count("{")
    return brackets > MAX_YAML_DEPTH or any(len(line) - len(line.lstrip(" -")) > MAX_YAML_DEPTH for line in text.splitlines())


def _check_nodes(root, source):
    """Refuse duplicate keys, and documents whose aliases expand to too many nodes."""
    sizes: dict[int, int] = {}

    def size(node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # guards against recursive aliases
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen and k.value != "<<":
                        raise ConfigError(f"{source}:{k.start_mark.line + 1}: duplicate key {k.value!r} "
                                          f"(first at line {seen[k.value]})")
                    seen[k.value] = k.start_mark.line + 1
                total += size(k) + size(v)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        if total > MAX_YAML_NODES:
            raise ConfigError(f"{source}: the YAML expands to more than {MAX_YAML_NODES} nodes (alias bomb?)")
        sizes[id(node)] = total
        return total

    size(root)


def line_of(node, path) -> int | None:
    """The line (1-based) of the deepest key of ``path`` present in the YAML node tree."""
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def read_yaml_file(path) -> tuple[Any, Any]:
    raw = read_bounded(path, MAX_CONFIG_BYTES, ConfigError, "config file", "a YAML config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) file") from None
    return _parse_yaml(text, str(path))


def split_override(item, source: str = "--set") -> tuple[str, str]:
    """A ``key.path=value`` string as (key.path, the value's YAML text)."""
    key, sep, value = str(item).partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{source} {item!r}: expected key.path=value (e.g. optimizer.lr=0.05)")
    return key, value


def override_keys(overrides) -> list[str]:
    """The key paths that ``key.path=value`` overrides set."""
    return [split_override(o)[0] for o in overrides]


def apply_overrides(data: dict, overrides, source: str = "--set") -> dict:
    """Apply ``key.path=value`` strings (value parsed as YAML) to the raw config mapping."""
    for item in overrides:
        key, value = split_override(item, source)
        val, _ = _parse_yaml(value, f"{source} {key}") if value.strip() else (None, None)
        parts = key.split(".")
        if len(parts) > MAX_KEY_PARTS:
            raise ConfigError(f"{source} {key[:60]}...: a key path of {len(parts)} parts is deeper than any config key")
        target = data
        for i, part in enumerate(parts[:-1]):
            nxt = target.get(part)
            if nxt is None:
                nxt = target[part] = {}
            elif isinstance(nxt, str) and part in ("init", "optimizer", "schedule"):
                nxt = target[part] = {"name": nxt}  # e.g. optimizer: adam, then --set optimizer.lr=...
            if not isinstance(nxt, dict):
                raise ConfigError(f"{source} {key}: {'.'.join(parts[: i + 1])} is not a mapping (it is {nxt!r})")
            target = nxt
        target[parts[-1]] = val
    return data
