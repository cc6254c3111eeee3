"""Every command in the README's ```sh blocks works (install and pytest aside: CI runs those)."""

import os
import re
import subprocess

import pytest

from mlpcli.config import json_schema
from mlpcli.keytable import rows

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def sh_commands():
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("python -m pip install"):
                line = line.partition("&&")[2].strip()  # the install itself is what CI runs first
            if line and line != "pytest":
                cmds.append(line)
    return cmds


def test_readme_opens_with_the_quickstart():
    head = README[: README.index("## Commands")]
    assert 'python -m pip install -e ".[test]" && mlp train configs/xor.yaml' in head
    assert "```sh\npytest\n```" in head


@pytest.mark.parametrize("cmd", sh_commands())
def test_readme_command_runs(cmd, tmp_path):
    for name in ("configs", "data", "mlpcli", "tests", "benchmarks", "pyproject.toml"):
        os.symlink(ROOT / name, tmp_path / name)
    r = subprocess.run(cmd, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"


def test_readme_documents_every_config_key_and_command():
    schema = json_schema()
    defs, props = schema["$defs"], schema["properties"]
    sections = [("model", defs["ModelConfig"]), ("training", defs["TrainingConfig"])]
    for section in ("data", "optimizer", "schedule"):  # a registry's section: one schema per entry
        sections += [(section, s) for s in props[section]["anyOf"] if "properties" in s]
    for section, s in sections:
        for key in s["properties"]:
            assert f"`{key}`" in README or f"{section}.{key}" in README, f"{section}.{key} is not in the README"
    for cmd in ("train", "eval", "predict", "gradcheck", "inspect", "init", "schema", "plot", "data mnist"):
        assert f"`mlp {cmd}" in README


def test_readme_key_table_holds_every_registry_entry():
    """The rows generated from the registries' parameter models (python -m mlpcli.keytable)."""
    lines = README.splitlines()
    for row in rows():
        assert row in lines, f"the README's key table lacks (regenerate with python -m mlpcli.keytable):\n{row}"
