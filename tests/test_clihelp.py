"""--help reads like a person wrote it: plain metavars, and examples that fit their command."""

import re
import shlex

import pytest
import typer
from typer.testing import CliRunner

from mlpcli.cli import app

runner = CliRunner()
ROOT_CMD = typer.main.get_command(app)


def commands(group=ROOT_CMD, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group, such as mlp data
            yield from commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


ALL = dict(commands())


@pytest.mark.parametrize("path", list(ALL), ids=" ".join)
def test_help_has_no_internal_metavars(path):
    text = runner.invoke(app, [*path, "--help"], prog_name="mlp").stdout
    assert text.startswith(f"Usage: mlp {' '.join(path)} [OPTIONS]")
    assert not re.search(r"\s<[a-z]+(\[[a-z|]+\])?>|\{[a-z_]+\}", text), text  # <path>, <list[str]>, {config}
    assert "Examples:" in text


def test_help_names_values_as_people_write_them():
    assert "-s, --set KEY=VALUE" in runner.invoke(app, ["train", "--help"], prog_name="mlp").stdout
    text = runner.invoke(app, ["eval", "--help"], prog_name="mlp").stdout
    assert "Usage: mlp eval [OPTIONS] RUN_DIR|CKPT\n" in text and "--split [test|train|val]" in text
    assert "Usage: mlp gradcheck [OPTIONS] [CONFIG|RUN_DIR|CKPT]\n" in runner.invoke(app, ["gradcheck", "--help"], prog_name="mlp").stdout


def test_command_list_is_not_cut_off():
    text = runner.invoke(app, ["--help"]).stdout
    listing = text[text.index("Commands:"):]
    assert "..." not in listing and all(f"  {path[0]} " in listing for path in ALL)


@pytest.mark.parametrize("path", list(ALL), ids=" ".join)
def test_examples_fit_their_command(path):
    cmd = ALL[path]
    examples = [line.strip() for line in (cmd.epilog or "").splitlines() if line.strip().startswith("mlp ")]
    assert examples, f"mlp {' '.join(path)} has no examples"
    for example in examples:
        words = shlex.split(example.split(" > ")[0].split(" && ")[-1])
        assert words[1:1 + len(path)] == list(path), example
        with cmd.make_context(" ".join(path), words[1 + len(path):], resilient_parsing=False) as ctx:
            assert ctx.params is not None  # parsed: every option exists and takes what it is given
