"""What a sweep shows and writes about its trials: a live Rich table on a terminal, one
plain line per finished trial otherwise, and ``sweep.csv`` (trial, parameters, metric,
state, epochs, seconds, run directory, note)."""

from __future__ import annotations

import csv
import io
import math
import sys

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}
SHOWN = 20  # rows of the live table: the newest trials


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.6g}" if isinstance(v, float) else str(v)


def trial_rows(trials, spec) -> list[dict]:
    """One row per trial, in trial order: its parameters, metric, state and where it ran."""
    retried = {}
    for t in trials:
        for n in t.system_attrs.get("retry_history", ()):
            retried[n] = t.number
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        state = STATES.get(t.state.name, t.state.name.lower())
        note = (t.user_attrs.get("error") or "") if state == "failed" else ""
        if t.number in retried:
            note = f"stopped; parameters tried again as trial {retried[t.number]}"
        elif state == "failed" and not note:
            note = "stopped"
        if t.system_attrs.get("failed_trial") is not None:
            note = note or f"retry of trial {t.system_attrs['failed_trial']}"
        attrs = t.user_attrs if state != "waiting" else {}  # a queued retry carries its predecessor's
        rows.append({"trial": t.number, **{k: t.params.get(k) for k in spec.space}, spec.metric: t.value,
                     "state": state, "epochs": attrs.get("epochs"), "seconds": attrs.get("seconds"),
                     "run_dir": attrs.get("run_dir", ""), "note": note.splitlines()[0] if note else ""})
    return rows


def sweep_csv(rows, spec) -> str:
    cols = ["trial", *spec.space, spec.metric, "state", "epochs", "seconds", "run_dir", "note"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_num(r.get(c)) for c in cols])
    return buf.getvalue()


def best_of(trials, spec):
    """The best complete trial (pruned and failed ones never are), or None."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return None
    return (max if spec.direction == "maximize" else min)(done, key=lambda t: t.value)


class SweepView:
    """A Rich table of the newest trials, redrawn on a terminal; plain lines off one."""

    def __init__(self, spec, total: int, stream=None, live: bool | None = None, quiet: bool = False):
        self.spec, self.total, self.quiet = spec, total, quiet
        self.stream = stream or sys.stderr
        self.live = (self.stream.isatty() if live is None else live) and not quiet
        self.printed: set[int] = set()
        self._live = None

    def message(self, text: str) -> None:
        if not self.quiet:
            if self._live is not None:
                self._live.console.print(text, markup=False, highlight=False)
            else:
                print(text, file=self.stream, flush=True)

    def refresh(self, trials) -> None:
        if self.quiet:
            return
        rows = trial_rows(trials, self.spec)
        best = best_of(trials, self.spec)
        if self.live:
            self._draw(rows, best)
            return
        for r in rows:
            if r["trial"] not in self.printed and r["state"] not in ("running", "waiting"):
                self.printed.add(r["trial"])
                self.message(self._line(r, best))

    def _line(self, r, best) -> str:
        m = self.spec.metric
        parts = [f"trial {r['trial']}", r["state"], f"{m} {_num(r[m]) or '-'}"]
        if best is not None:
            parts.append(f"best {best.value:.6g} (trial {best.number})")
        parts += [f"{k}={_num(r[k])}" for k in self.spec.space]
        parts.append(f"{r['epochs'] or 0} epochs {r['seconds'] or 0:.1f}s")
        if r["note"]:
            parts.append(r["note"])
        return "  ".join(parts)

    def _draw(self, rows, best) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.table import Table

        m = self.spec.metric
        finished = sum(r["state"] in ("complete", "pruned") for r in rows)
        caption = f"{finished} finished of {self.total}" + (f"; best {m} {best.value:.6g} at trial {best.number}" if best else "")
        t = Table(title=f"sweep: {m} ({self.spec.direction})", caption=caption)
        for c in ("trial", *self.spec.space, m, "state", "epochs", "seconds"):
            t.add_column(c, justify="left" if c == "state" else "right")
        for r in rows[-SHOWN:]:
            style = "bold green" if best is not None and r["trial"] == best.number else None
            t.add_row(*[_num(r[c]) for c in ("trial", *self.spec.space, m, "state", "epochs", "seconds")], style=style)
        if self._live is None:
            self._live = Live(t, console=Console(file=self.stream, highlight=False), refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._live.update(t)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
