"""How ``mlp ... --help`` reads: usage as people write it, and each command's examples.

Typer shows its own type tags (``{config}``, ``<path>``, ``<list[str]>``); ``--help`` here
shows ``mlp train [OPTIONS] CONFIG`` and ``--set KEY=VALUE`` instead, as in the README.
Every command made by ``Typer.command`` gets this help; ``examples=[...]`` adds an
``Examples:`` section after the options.
"""

from __future__ import annotations

import typer
from typer.core import TyperArgument, TyperCommand


def _argument_name(p) -> str:
    return p.metavar or p.name.upper()


class Command(TyperCommand):
    """A command whose usage line and argument rows show plain names (``CONFIG``, ``[TARGET]``)."""

    def collect_usage_pieces(self, ctx):
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if isinstance(p, TyperArgument):
                name = _argument_name(p) + ("..." if p.nargs != 1 else "")
                pieces.append(name if p.required else f"[{name}]")
        return pieces

    def format_options(self, ctx, formatter):
        rows = []
        for p in self.get_params(ctx):
            if isinstance(p, TyperArgument) and not p.hidden:
                extra = "" if p.required or p.default is None else f"  [default: {p.default}]"
                rows.append((_argument_name(p) + ("..." if p.nargs != 1 else ""), (p.help or "") + extra))
        if rows:
            with formatter.section("Arguments"):
                formatter.write_dl(rows)
        options = [r for p in self.get_params(ctx) if not isinstance(p, TyperArgument) and (r := p.get_help_record(ctx))]
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def examples_epilog(examples) -> str:
    """An ``Examples:`` section click prints as written (``\\b`` stops it re-wrapping the lines)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {e}" for e in examples)


class Typer(typer.Typer):
    """``typer.Typer`` whose commands use ``Command`` and take ``examples=[...]``."""

    def command(self, *args, examples=(), cls=None, **kwargs):
        if examples:
            kwargs["epilog"] = examples_epilog(examples)
        return super().command(*args, cls=cls or Command, **kwargs)
