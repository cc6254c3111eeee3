"""Reading a config's YAML: ``safe_load`` only, with the guards a file from someone else needs.

Duplicate keys are errors, aliases that expand to too many nodes ("billion laughs") and
files over 1 MiB are refused, tags such as ``!!python/...`` construct nothing, and the node
tree is kept so that schema errors can name the line of the key they are about.
``--set key.path=value`` overrides are parsed by the same loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; anything over 1 MiB is refused
MAX_YAML_NODES = 100_000  # nodes after expanding aliases ("billion laughs" is refused)


class _Loader(yaml.SafeLoader):
    """safe_load's loader; only data types, never Python objects."""


# The same on libyaml's parser, where PyYAML has it: ten times faster, a few ms of every start-up.
_FastLoader = type("_FastLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader") else None


def _parse_yaml(text: str, source: str):
    """(data, node): safe_load with duplicate keys and alias bombs refused, keeping line marks."""
    if _FastLoader is not None:
        try:
            return _load(_FastLoader, text, source)
        except yaml.YAMLError:
            pass  # invalid: the pure-Python parser's message names the offending character, so it reports
    try:
        return _load(_Loader, text, source)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = e.problem or e.context or "invalid YAML"
        if "constructor" in str(problem) or "tag" in str(problem):
            problem = f"{problem} (only plain YAML data is allowed: no tags such as !!python/...)"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {e}") from None


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
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(f"{path}: is a directory, expected a YAML config file")
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a config (limit {MAX_CONFIG_BYTES})")
        with open(p, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return _parse_yaml(text, str(path))


def apply_overrides(data: dict, overrides, source: str = "--set") -> dict:
    """Apply ``key.path=value`` strings (value parsed as YAML) to the raw config mapping."""
    for item in overrides:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{source} {item!r}: expected key.path=value (e.g. optimizer.lr=0.05)")
        val, _ = _parse_yaml(value, f"{source} {key}") if value.strip() else (None, None)
        parts = key.split(".")
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
