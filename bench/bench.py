#!/usr/bin/env python3
"""Benchmark pidone side by side with tini, tini-static, dumb-init, catatonit, tino and pid1.

Run it through `bench/run` (which installs the peers and builds the binaries). Every metric is
measured for every init in the same run, interleaved (round-robin per sample or per round, with
the starting init rotated each round). The timing-sensitive work is done by the Rust
`bench_driver` example; this script orchestrates, checks honesty, computes medians / p99 /
ratios, and writes the markdown table and the SVG chart. Python standard library only.
See bench/README.md for exactly what each metric measures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "x86_64-unknown-linux-musl" / "release"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
C_PEERS = ["tini", "tini-static", "dumb-init", "catatonit"]  # Debian's packages, in PATH
RUST_PEERS = ["tino", "pid1"]  # cargo install'ed by bench/run into target/bench-peers
RUST_CRATES = {"tino": "tino", "pid1": "pid1-exe"}
PEERS = C_PEERS + RUST_PEERS
PIDONE = "pidone"
GRACE = "1s"
GRACE_S = 1.0
# The stop test with a child that ignores SIGTERM: each init's own "SIGKILL after this long"
# option set to the same 1 s (tini, dumb-init and catatonit have none).
# tino applies its grace period only with -g (--pgroup-kill: signals go to the child's group).
GRACE_ARGS = {
    PIDONE: ["--grace-period", GRACE],
    "tino": ["--pgroup-kill", "--grace-ms", "1000"],
    "pid1": ["--timeout", "1"],
}
# Inits that do not supervise at all unless they are PID 1: pid1 `exec`s the command in place
# (pid1-exe's main: `if pid != 1 { child.exec() }`), so its plain start-up is not an init's.
EXEC_WHEN_NOT_PID1 = {"pid1"}
# An init that uses more than this share of a CPU while its child sleeps busy-polls: its CPU and
# latency figures measure the spin, so they are shown but not ranked, and its latency is measured
# apart so the spin does not take the shared CPU from the other inits.
BUSY_SHARE = 0.05
# Backstop for one bench_driver call: the driver bounds every wait itself, this only keeps a
# driver bug from hanging the whole run.
DRIVER_TIMEOUT_S = 1800
BOLD = ' font-weight="bold"'

FULL = dict(
    startup_rounds=400,
    latency_samples=20000,
    idle_seconds=10.0,
    stop_rounds=30,
    stop_ignore_rounds=2,
    stop_cap_ms=3000,
    flood_signals=50000,
    flood_rounds=11,
    drain_count=3000,
    drain_rounds=15,
    storm_count=20000,
    storm_rounds=2,
)
QUICK = dict(
    startup_rounds=60,
    latency_samples=2000,
    idle_seconds=2.0,
    stop_rounds=5,
    stop_ignore_rounds=1,
    stop_cap_ms=1500,
    flood_signals=10000,
    flood_rounds=3,
    drain_count=1000,
    drain_rounds=2,
    storm_count=3000,
    storm_rounds=1,
)
METRICS = ["binary", "honesty", "startup", "idle", "latency", "stop", "flood", "drain", "storm"]


# ---------------------------------------------------------------------------------------------
# statistics


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def p99(xs: list[float]) -> float:
    """Nearest-rank 99th percentile (the maximum when there are fewer than 100 values)."""
    s = sorted(xs)
    if not s:
        return math.nan
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


# ---------------------------------------------------------------------------------------------
# model


@dataclass
class Cell:
    """One init's figure for one metric. `value` ranks (lower is better); `p99` is optional."""

    value: float | None = None
    p99: float | None = None
    failed: str | None = None  # reason: reported as FAILED, not ranked
    text: str | None = None  # replaces the number in the table (e.g. "did not stop")
    rankable: bool = True  # False: shown but not a candidate for "best peer"
    note: str = ""
    tag: str = ""  # appended to the value in the table (e.g. why it is not ranked)


@dataclass
class Goal:
    """A ratio target: pidone ÷ the best (lowest) passing peer of `pool` must be ≤ `limit`."""

    limit: float
    pool: list[str]
    label: str = ""  # what the pool is, when it is not every peer


@dataclass
class Row:
    key: str
    label: str
    unit: str
    fmt: str  # format for values
    target: str  # human text
    # ratio limit (pidone / best peer <= limit), or None with `absolute` check
    limit: float | None = None
    absolute: object = None  # callable(cell) -> bool for absolute targets
    cells: dict[str, Cell] = field(default_factory=dict)
    best_from: list[str] | None = None  # restrict the best-peer pool (e.g. static peers)
    goals: list[Goal] = field(default_factory=list)  # several ratio targets (binary size)
    chart: bool = True
    detail: str = ""
    short: str = ""  # chart label, lines separated by "|"
    ref: tuple[float, str] | None = None  # chart reference instead of the best peer: (value, text)

    def all_goals(self) -> list[Goal]:
        if self.goals:
            return self.goals
        if self.limit is None:
            return []
        return [Goal(self.limit, self.best_from if self.best_from is not None else PEERS)]

    def best_peer(self, goal: Goal | None = None) -> tuple[str, Cell] | None:
        if goal is not None:
            pool = goal.pool
        else:
            pool = self.best_from if self.best_from is not None else PEERS
        cands = [
            (n, c)
            for n, c in self.cells.items()
            if n in pool and c.failed is None and c.rankable and c.value is not None
        ]
        if not cands:
            return None
        return min(cands, key=lambda nc: nc[1].value)

    def ratio(self, name: str = PIDONE, goal: Goal | None = None) -> float | None:
        best = self.best_peer(goal)
        c = self.cells.get(name)
        if best is None or c is None or c.value is None or c.failed is not None:
            return None
        if best[1].value == 0:
            return 1.0 if c.value == 0 else math.inf
        return c.value / best[1].value

    def met(self) -> str:
        c = self.cells.get(PIDONE)
        if c is None:
            return "n/a (no pidone)"
        if c.failed is not None:
            return "**no** (FAILED)"
        if self.absolute is not None:
            return "yes" if self.absolute(c) else "**no**"
        goals = self.all_goals()
        if not goals:
            return "—"
        out = []
        for g in goals:
            r = self.ratio(goal=g)
            out.append("n/a" if r is None else ("yes" if r <= g.limit else "**no**"))
        return "<br>".join(out)


# ---------------------------------------------------------------------------------------------
# running things


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.k = dict(QUICK if args.quick else FULL)
        for key in self.k:
            v = getattr(args, key, None)
            if v is not None:
                self.k[key] = v
        self.driver = str(TARGET / "examples" / "bench_driver")
        self.child = str(TARGET / "examples" / "bench_child")
        self.inits: dict[str, str] = {}
        self.missing: list[str] = []
        self.rows: list[Row] = []
        self.busy: dict[str, float] | None = None  # init -> share of a CPU used while idle
        self.busy_logged = False
        self.details: list[str] = []
        self.rust_root = Path(args.rust_peers) if args.rust_peers else ROOT / "target" / "bench-peers"
        self.cpu = args.cpu if args.cpu is not None else (os.cpu_count() or 1) - 1
        self.other_cpu = 0 if self.cpu != 0 else min(1, (os.cpu_count() or 1) - 1)

    def log(self, msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    # -- discovery -------------------------------------------------------------------------

    def discover(self) -> None:
        rust_dir = self.rust_root
        for name in PEERS:
            if name in (self.args.exclude or []):
                continue
            if name in RUST_PEERS:
                p = rust_dir / "bin" / name
                path = str(p) if p.is_file() and os.access(p, os.X_OK) else None
            else:
                path = shutil.which(name)
            if path:
                self.inits[name] = os.path.realpath(path)
            else:
                self.missing.append(name)
        pid = Path(self.args.pidone) if self.args.pidone else TARGET / PIDONE
        if self.args.skip_pidone:
            self.log("pidone skipped: did not build")
        elif pid.exists():
            try:
                r = subprocess.run(
                    [str(pid), "--", "true"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=5,
                )
                if r.returncode == 0:
                    self.inits[PIDONE] = str(pid)
                else:
                    self.log(f"pidone skipped: `{pid} -- true` exited {r.returncode}")
            except (OSError, subprocess.TimeoutExpired) as e:
                self.log(f"pidone skipped: {e}")
        else:
            self.log(f"pidone skipped: {pid} not built")
        if not self.inits:
            sys.exit("no init to benchmark")
        self.log("inits: " + ", ".join(f"{n}={p}" for n, p in self.inits.items()))

    def names(self) -> list[str]:
        return [n for n in PEERS + [PIDONE] if n in self.inits]

    def init_argv(self, name: str, grace: bool = False) -> list[str]:
        argv = [self.inits[name]]
        if grace:
            argv += GRACE_ARGS.get(name, [])
        return argv + ["--"]

    def ns_variant(self, name: str, child: list[str], grace: bool = False) -> list[str]:
        return [name] + UNSHARE + self.init_argv(name, grace) + child

    def drive(self, mode: str, opts: list[str], variants: list[list[str]]) -> list[dict]:
        argv = [self.driver, mode] + opts + ["--"]
        for i, v in enumerate(variants):
            if i:
                argv.append("::")
            argv += v
        out, code = run_group(argv, DRIVER_TIMEOUT_S)
        if code is None:
            self.log(f"bench_driver {mode} did not finish in {DRIVER_TIMEOUT_S} s: killed; keeping what it reported")
        elif code != 0:
            raise RuntimeError(f"bench_driver {mode} exited {code}")
        res = []
        for line in out.splitlines():
            try:
                res.append(json.loads(line))
            except ValueError:
                pass
        return res

    def pin_same(self) -> list[str]:
        return ["--cpu-driver", str(self.cpu), "--cpu-tree", str(self.cpu)]

    def pin_split(self) -> list[str]:
        return ["--cpu-driver", str(self.other_cpu), "--cpu-tree", str(self.cpu)]

    def pin(self) -> list[str]:
        return self.pin_same() if self.args.pin == "same" else self.pin_split()

    # -- 1. binary -------------------------------------------------------------------------

    def m_binary(self) -> None:
        row = Row(
            "binary",
            "Binary size",
            "KiB",
            "{:.1f}",
            "≤ 1.0× smallest Rust peer<br>≤ 0.8× smallest static C peer",
            best_from=[],
        )
        static_peers = []
        for n in self.names():
            p = self.inits[n]
            size = os.path.getsize(p)
            static = not has_interp(p)
            desc = file_desc(p)
            c = Cell(size / 1024, text=None, rankable=static, note="static" if static else "dynamic")
            row.cells[n] = c
            if static and n in PEERS:
                static_peers.append(n)
            shown = os.path.relpath(p, ROOT) if p.startswith(str(ROOT) + "/") else p
            self.details.append(f"- `{n}`: {shown}, {size} bytes, {c.note}; `file`: {desc}")
            if n in RUST_PEERS:
                stripped = stripped_size(p)
                if stripped is not None and stripped != size:
                    self.details.append(
                        f"  - `{n}` as `cargo install` leaves it is not stripped; `strip` would make it "
                        f"{stripped} bytes ({stripped / 1024:.1f} KiB); the table uses the installed file"
                    )
        rust = [n for n in static_peers if n in RUST_PEERS]
        static_c = [n for n in static_peers if n in C_PEERS]
        row.goals = [Goal(1.0, rust, "smallest Rust peer"), Goal(0.8, static_c, "smallest static C peer")]
        row.best_from = rust or static_c
        row.short = "binary size|KiB, 1× = smallest|" + ("Rust peer" if rust else "static peer")
        row.detail = (
            "Only static peers are ranked (dynamic ones also need libc's ~2 MB in the image); two "
            "targets: against the smallest Rust peer and against the smallest static C peer."
        )
        self.rows.append(row)

    # -- honesty -----------------------------------------------------------------------------

    def m_honesty(self) -> None:
        row = Row(
            "honesty",
            "Exit code passed on (`exit 42` → 42, killed by TERM → 143)",
            "",
            "{}",
            "42 and 143",
            absolute=lambda c: c.failed is None,
            chart=False,
        )
        for n in self.names():
            got = []
            for script, want in (("exit 42", 42), ("kill -TERM $$", 143)):
                _, rc = run_group(UNSHARE + self.init_argv(n) + ["sh", "-c", script], 10, quiet=True)
                code = "timeout" if rc is None else (rc if rc >= 0 else 128 - rc)
                got.append((code, want))
            ok = all(c == w for c, w in got)
            cell = Cell(0, text=" / ".join(str(c) for c, _ in got), rankable=False)
            if not ok:
                cell.failed = "exit code " + ", ".join(f"{c} (want {w})" for c, w in got)
            row.cells[n] = cell
        self.rows.append(row)

    # -- 2. start-up ---------------------------------------------------------------------------

    def m_startup(self) -> None:
        true = shutil.which("true") or "/bin/true"
        variants = [["base", true]]
        for n in self.names():
            variants.append([f"{n}"] + self.init_argv(n) + [true])
        variants.append(["nsbase"] + UNSHARE + [true])
        for n in self.names():
            variants.append([f"ns:{n}"] + UNSHARE + self.init_argv(n) + [true])
        rounds = self.k["startup_rounds"]
        self.log(f"start-up: {rounds} rounds × {len(variants)} commands")
        res = {d["name"]: d for d in self.drive("startup", ["--rounds", str(rounds)] + self.pin(), variants)}
        for prefix, base, label in (
            ("", "base", "Start-up overhead, plain (`INIT -- true` − `true`)"),
            ("ns:", "nsbase", "Start-up overhead, new PID namespace (− `unshare … true`)"),
        ):
            b = [x / 1000 for x in res[base]["ns"]]
            row = Row(
                "startup_ns" if prefix else "startup",
                label,
                "µs",
                "{:.0f}",
                "≤ 0.9×",
                limit=0.9,
            )
            for n in self.names():
                d = res.get(prefix + n, {"ns": [], "bad_exits": []})
                xs = [x / 1000 for x in d["ns"]]
                c = Cell()
                bad = d["bad_exits"]
                if bad or not xs:
                    hung = bad.count(-1)
                    codes = sorted(set(b for b in bad if b != -1))
                    parts = []
                    if codes:
                        parts.append(f"exit codes {codes} (want 0)")
                    if hung:
                        parts.append(f"{hung} did not finish in 10 s or did not spawn")
                    c.failed = f"{len(bad)} of {len(bad) + len(xs)} runs: " + "; ".join(parts) if bad else "no result"
                else:
                    c.value = median(xs) - median(b)
                    c.p99 = p99(xs) - median(b)
                    if not prefix and n in EXEC_WHEN_NOT_PID1 and c.failed is None:
                        c.rankable = False
                        c.tag = "(not PID 1, it execs the command instead of supervising it; not ranked)"
                row.cells[n] = c
            row.short = ("start-up, PID ns|" if prefix else "start-up, plain|") + "overhead, µs"
            row.detail = (
                f"baseline median {median(b):.0f} µs, p99 {p99(b):.0f} µs; overhead = median(INIT) − "
                f"median(baseline), p99 = p99(INIT) − median(baseline); {rounds} rounds"
            )
            self.rows.append(row)

    # -- 3/4. idle ---------------------------------------------------------------------------

    def m_idle(self) -> None:
        secs = self.k["idle_seconds"]
        variants = [self.ns_variant(n, [self.child, "ready", "100"]) for n in self.names()]
        self.log(f"idle: {secs} s, all inits at once")
        res = {d["name"]: d for d in self.drive("idle", ["--seconds", str(secs)] + self.pin(), variants)}
        rss = Row("rss", "Idle memory, VmRSS", "KiB", "{:.0f}", "≤ 0.8×", limit=0.8)
        priv = Row(
            "private",
            "Idle memory, private (Private_Clean+Private_Dirty)",
            "KiB",
            "{:.0f}",
            "—",
        )
        wake = Row(
            "wakeups",
            f"Idle wake-ups (context switches in {secs:g} s)",
            "",
            "{:.0f}",
            "0",
            absolute=lambda c: c.value == 0,
        )
        for n in self.names():
            d = res.get(n, {"failed": True})
            if d.get("failed"):
                for r in (rss, priv, wake):
                    r.cells[n] = Cell(failed="did not start")
                continue
            rss.cells[n] = Cell(d["vmrss_kb"])
            priv.cells[n] = Cell(d["private_kb"])
            wake.cells[n] = Cell(d["voluntary"] + d["involuntary"], note=f"CPU {d['cpu_ns'] / 1e3:.0f} µs")
            share = d["cpu_ns"] / 1e9 / float(d["seconds"])
            if share > BUSY_SHARE:
                wake.cells[n].failed = (
                    f"busy-polls: {share:.0%} of a CPU while idle, {d['voluntary'] + d['involuntary']} switches"
                )
            self.details.append(
                f"- idle `{n}`: VmRSS {d['vmrss_kb']} KiB, private {d['private_kb']} KiB, "
                f"Pss {d['pss_kb']} KiB, {d['voluntary']} voluntary + {d['involuntary']} involuntary "
                f"switches and {d['cpu_ns'] / 1e3:.0f} µs CPU in {d['seconds']} s"
            )
        rss.short = "idle VmRSS|KiB"
        priv.short = "idle private|memory, KiB"
        wake.short = f"idle wake-ups|in {secs:g} s, 1× = 1/s"
        wake.ref = (secs, "1 per second")
        self.rows += [rss, priv, wake]
        self.busy = {
            n: d["cpu_ns"] / 1e9 / float(d["seconds"])
            for n, d in res.items()
            if n in self.inits and not d.get("failed") and d["cpu_ns"] / 1e9 / float(d["seconds"]) > BUSY_SHARE
        }

    def busy_inits(self) -> dict[str, float]:
        """Inits that busy-poll while idle (from the idle metric, or a 0.5 s probe without it)."""
        if self.busy is None:
            variants = [self.ns_variant(n, [self.child, "ready", "100"]) for n in self.names()]
            self.log("busy-poll probe: 0.5 s, all inits at once")
            res = self.drive("idle", ["--seconds", "0.5"] + self.pin(), variants)
            self.busy = {
                d["name"]: d["cpu_ns"] / 1e9 / float(d["seconds"])
                for d in res
                if not d.get("failed") and d["cpu_ns"] / 1e9 / float(d["seconds"]) > BUSY_SHARE
            }
        if self.busy and not self.busy_logged:
            self.busy_logged = True
            self.log("busy-polling while idle: " + ", ".join(f"{n} {v:.0%}" for n, v in self.busy.items()))
        return self.busy

    def mark_busy(self, row: Row, what: str) -> None:
        """Busy-polling inits: shown, not ranked, with the reason next to the figure."""
        for n in self.busy_inits():
            c = row.cells.get(n)
            if c is not None and c.failed is None:
                c.rankable = False
                c.tag = f"(busy-polls while idle: {what}; not ranked)"

    # -- 5. latency --------------------------------------------------------------------------

    def m_latency(self) -> None:
        samples = self.k["latency_samples"]
        resp = [self.child, "respond", "100"]
        busy = self.busy_inits()
        calm = [n for n in self.names() if n not in busy]
        variants = [["floor"] + resp] + [self.ns_variant(n, resp) for n in calm]
        self.log(f"signal round trip: {samples} samples × {len(variants)} targets, interleaved")
        res = {d["name"]: d for d in self.drive("latency", ["--samples", str(samples)] + self.pin(), variants)}
        floor = [x / 1000 for x in res["floor"]["ns"]]
        for n in busy:
            # Alone with its own floor: its spin would otherwise take the shared CPU from the others.
            self.log(f"signal round trip: {n} apart (busy-polls), {samples} samples")
            own = {d["name"]: d for d in self.drive(
                "latency", ["--samples", str(samples)] + self.pin(), [["floor"] + resp, self.ns_variant(n, resp)]
            )}
            if n in own:
                res[n] = own[n]
                self.details.append(
                    f"- round trip `{n}` measured apart (busy-polls): its own floor median "
                    f"{median([x / 1000 for x in own['floor']['ns']]):.1f} µs"
                )
        row = Row(
            "latency",
            "Signal round trip (`kill(init, USR1)` → child's byte)",
            "µs",
            "{:.2f}",
            "≤ 1.0×",
            limit=1.0,
        )
        for n in self.names():
            d = res.get(n, {"ns": [], "lost": 0, "answered": 0, "started": False})
            xs = [x / 1000 for x in d["ns"]]
            c = Cell()
            if not d.get("started", True):
                c.failed = "did not start"
            elif d["lost"] or len(xs) < samples:
                c.failed = (
                    f"SIGUSR1 not forwarded: {d['lost']} of {d['lost'] + d['answered']} got no answer "
                    f"within 1 s" + ("; stopped after 3" if d["lost"] >= 3 else "")
                )
            else:
                c.value, c.p99 = median(xs), p99(xs)
                c.note = f"init's share {c.value - median(floor):.1f} µs"
            row.cells[n] = c
        self.mark_busy(row, "measured alone, spinning instead of sleeping")
        row.short = "signal round|trip, µs"
        row.detail = (
            f"floor (signalling the responder directly): median {median(floor):.1f} µs, "
            f"p99 {p99(floor):.1f} µs; {samples} samples per init"
        )
        self.rows.append(row)

    # -- 7. stop -----------------------------------------------------------------------------

    def m_stop(self) -> None:
        rounds = self.k["stop_rounds"]
        variants = [self.ns_variant(n, [self.child, "ready", "100"]) for n in self.names()]
        self.log(f"stop latency (child exits on TERM): {rounds} rounds")
        res = {
            d["name"]: d
            for d in self.drive(
                "stop", ["--rounds", str(rounds), "--cap-ms", "3000"] + self.pin(), variants
            )
        }
        row = Row(
            "stop",
            "Stop latency, child exits on TERM (TERM → namespace gone)",
            "ms",
            "{:.2f}",
            "≤ 1.0×",
            limit=1.0,
        )
        for n in self.names():
            d = res.get(n, {"ns": [], "exit_codes": [], "timeouts": 0, "spawn_failures": rounds})
            xs = [x / 1e6 for x in d["ns"]]
            c = Cell()
            bad = [e for e in d["exit_codes"] if e != 143]
            if d["timeouts"] or d["spawn_failures"]:
                parts = []
                if d["timeouts"]:
                    parts.append(f"{d['timeouts']} of {rounds} did not stop within 3 s")
                if d["spawn_failures"]:
                    parts.append(f"{d['spawn_failures']} of {rounds} did not start")
                c.failed = "; ".join(parts)
            elif bad:
                c.failed = f"exit codes {sorted(set(bad))} (want 143)"
            else:
                c.value, c.p99 = median(xs), p99(xs)
            row.cells[n] = c
        row.short = "stop, child|exits on TERM, ms"
        row.detail = f"{rounds} rounds, one init at a time"
        self.rows.append(row)

        rounds = self.k["stop_ignore_rounds"]
        cap = self.k["stop_cap_ms"]
        variants = [
            self.ns_variant(n, [self.child, "ignore", "100"], grace=True) for n in self.names()
        ]
        self.log(f"stop latency (child ignores TERM): {rounds} rounds, cap {cap} ms, all at once")
        res = {
            d["name"]: d
            for d in self.drive(
                "stop",
                ["--rounds", str(rounds), "--cap-ms", str(cap), "--concurrent"] + self.pin(),
                variants,
            )
        }
        grace_ms = GRACE_S * 1000
        row = Row(
            "stop_ignore",
            f"Stop latency, child ignores TERM (pidone `--grace-period {GRACE}`, tino `-g --grace-ms 1000`, "
            f"pid1 `--timeout 1`; cap {cap / 1000:g} s)",
            "ms",
            "{:.0f}",
            f"stops in {GRACE} + ≤ 10%",
            absolute=lambda c: c.value is not None and c.value <= grace_ms * 1.1,
        )
        for n in self.names():
            d = res.get(n, {"ns": [], "timeouts": 0})
            xs = [x / 1e6 for x in d["ns"]]
            if d["timeouts"] or not xs:
                row.cells[n] = Cell(cap, text="did not stop", rankable=False)
            else:
                row.cells[n] = Cell(median(xs), p99(xs))
        row.short = f"stop, child|ignores TERM, ms|1× = {GRACE} grace"
        row.ref = (grace_ms, f"the {GRACE} grace period")
        row.detail = (
            "tini, dumb-init and catatonit never stop on their own here (by design; they have no "
            "such option); the cap's SIGKILL ends them"
        )
        self.rows.append(row)

    # -- 8. flood ----------------------------------------------------------------------------

    def m_flood(self) -> None:
        sigs, rounds = self.k["flood_signals"], self.k["flood_rounds"]
        variants = [self.ns_variant(n, [self.child, "count", "100"]) for n in self.names()]
        self.log(f"signal flood: {sigs} signals × {rounds} rounds per init")
        out = self.drive(
            "flood", ["--signals", str(sigs), "--rounds", str(rounds)] + self.pin(), variants
        )
        row = Row(
            "flood",
            f"Signal flood, init CPU for {sigs} signals (HUP USR1 USR2 WINCH RT35)",
            "ms",
            "{:.2f}",
            "≤ 0.9×",
            limit=0.9,
        )
        for n in self.names():
            ds = [d for d in out if d["name"] == n]
            problems = set()
            for d in ds:
                if d.get("failed"):
                    problems.add("did not start")
                    continue
                counts = dict(kv.split("=") for kv in d["counts"].split()) if d["counts"] else {}
                lost = [k for k in ("HUP", "USR1", "USR2", "WINCH", "RT35") if int(counts.get(k, 0)) == 0]
                if not d["counts"]:
                    problems.add("the child reported no counts")
                elif lost:
                    problems.add("not forwarded: " + ", ".join(lost) + " (the child got none)")
                if not d["init_alive"]:
                    problems.add("init died")
                if not d["child_alive"]:
                    problems.add("child died")
                if d["exit_code"] != 0:
                    problems.add(f"exit code {d['exit_code']} after TERM (want 0)")
            xs = [d["cpu_ns"] / 1e6 for d in ds if not d.get("failed")]
            c = Cell()
            if problems or not xs:
                c.failed = "; ".join(sorted(problems)) or "no data"
            else:
                c.value, c.p99 = median(xs), p99(xs)
            row.cells[n] = c
            if ds and not ds[0].get("failed"):
                self.details.append(f"- flood `{n}`, child's counts in the last round: {ds[-1]['counts']}")
        self.mark_busy(row, "the CPU figure includes the spin")
        row.short = "signal flood|init CPU, ms"
        row.detail = f"{rounds} rounds; sender and init pinned together ({self.args.pin})"
        self.rows.append(row)

    # -- 6. reaping --------------------------------------------------------------------------

    def m_drain(self) -> None:
        count, rounds = self.k["drain_count"], self.k["drain_rounds"]
        variants = [
            self.ns_variant(n, [self.child, "hold", "100", "101", str(count)]) for n in self.names()
        ]
        self.log(f"zombie drain: {count} zombies × {rounds} rounds per init")
        tracer = None if self.args.no_trace else IrqTrace.open(self.cpu, self.log)
        trace_opt = ["--trace-on", tracer.on_file] if tracer else []
        try:
            out = self.drive(
                "drain",
                ["--count", str(count), "--rounds", str(rounds)] + self.pin_split() + trace_opt,
                variants,
            )
        finally:
            charged = tracer.close() if tracer else None
        row = Row(
            "drain",
            f"Reaping, init CPU per zombie ({count} queued at once)",
            "µs",
            "{:.2f}",
            "≤ 1.0×",
            limit=1.0,
        )
        own = Row(
            "drain_own",
            "Reaping, init CPU per zombie without interrupt time charged to it",
            "µs",
            "{:.2f}",
            "≤ 1.0×",
            limit=1.0,
        )
        for n in self.names():
            ds = [d for d in out if d["name"] == n]
            c = Cell()
            bad = [d for d in ds if d.get("failed") or d["zombies_left"] or d["queued"] < count]
            if bad or not ds:
                reasons = []
                for d in bad:
                    if d.get("failed"):
                        reasons.append(d.get("reason", "did not run"))
                    elif d["zombies_left"]:
                        reasons.append(f"{d['zombies_left']} of {d['queued']} zombies left after 10 s")
                    else:
                        reasons.append(f"only {d['queued']} of {count} orphans became zombies")
                reasons = [r for r in dict.fromkeys(reasons) if not r.startswith("skipped")]
                c.failed = "; ".join(reasons) or "no result"
            else:
                xs = [d["cpu_ns"] / 1e3 / d["queued"] for d in ds]
                c.value, c.p99 = median(xs), p99(xs)
                walls = [d["wall_ns"] / 1e6 for d in ds]
                c.note = f"wall {median(walls):.1f} ms"
                line = f"- drain `{n}`: median wall time to reap {count} zombies {median(walls):.1f} ms, 0 left"
                if charged is not None:
                    irq = [charged.get(d["init"], 0) / 1e3 / d["queued"] for d in ds]
                    own.cells[n] = Cell(median([x - i for x, i in zip(xs, irq)]), p99([x - i for x, i in zip(xs, irq)]))
                    line += (
                        f"; interrupt time charged to it while it reaped: median {median(irq):.2f} µs per "
                        f"zombie (rounds: {' '.join(f'{i:.2f}' for i in irq)})"
                    )
                self.details.append(line)
            row.cells[n] = c
            if charged is not None and n not in own.cells:
                own.cells[n] = Cell(failed=c.failed)
        self.mark_busy(row, "the CPU figure includes the spin")
        row.short = "reaping CPU|per zombie, µs"
        row.detail = (
            f"{rounds} rounds; init stopped while the zombies pile up, then continued; the tree CPU "
            "is quiet (no RCU softirq for 50 ms) before each measurement"
        )
        self.rows.append(row)
        if charged is not None:
            self.mark_busy(own, "the CPU figure includes the spin")
            own.short = "reaping CPU|w/o interrupts,|µs per zombie"
            own.detail = (
                "the same rounds, minus the hardirq and softirq time (ftrace, tree CPU) that ran while "
                "the init was the current task: this kernel has no IRQ_TIME_ACCOUNTING, so that time, "
                "mostly RCU callbacks freeing exited tasks, is charged to whichever task is on the CPU, "
                "more in some rounds than others"
            )
            self.rows.append(own)

    def m_storm(self) -> None:
        count, rounds = self.k["storm_count"], self.k["storm_rounds"]
        variants = [
            self.ns_variant(n, [self.child, "storm", "100", "101", str(count)]) for n in self.names()
        ]
        self.log(f"orphan storm: {count} orphans × {rounds} rounds per init")
        out = self.drive(
            "storm", ["--count", str(count), "--rounds", str(rounds)] + self.pin_split(), variants
        )
        row = Row(
            "storm",
            f"Orphan storm, init CPU per orphan ({count} double-forked)",
            "µs",
            "{:.2f}",
            "0 zombies left",
            absolute=lambda c: c.failed is None,
        )
        for n in self.names():
            ds = [d for d in out if d["name"] == n]
            c = Cell()
            bad = [d for d in ds if d.get("failed") or d["zombies_left"] or not d["completed"]]
            left = sum(d.get("zombies_left", 0) for d in ds)
            if bad or not ds:
                reasons = []
                for d in bad:
                    if d.get("failed"):
                        reasons.append(d.get("reason", "did not run"))
                    elif d["zombies_left"]:
                        reasons.append(f"{d['zombies_left']} zombies left")
                    else:
                        reasons.append("the storm did not complete in 120 s")
                reasons = [r for r in dict.fromkeys(reasons) if not r.startswith("skipped")]
                c.failed = "; ".join(reasons) or "no result"
            else:
                xs = [d["cpu_ns"] / 1e3 / count for d in ds]
                c.value, c.p99 = median(xs), p99(xs)
                walls = [d["wall_ns"] / 1e6 for d in ds]
                c.note = "0 zombies left"
                self.details.append(
                    f"- storm `{n}`: {count} orphans in {median(walls):.0f} ms wall, "
                    f"{left} zombies left in the namespace"
                )
            row.cells[n] = c
        self.mark_busy(row, "the CPU figure includes the spin")
        row.short = "orphan storm|CPU/orphan, µs"
        row.detail = "zombies counted over every process of the init's PID namespace in /proc"
        self.rows.append(row)

    # -- driver ------------------------------------------------------------------------------

    def run(self) -> None:
        only = self.args.only or METRICS
        self.discover()
        self.load0 = os.getloadavg()
        self.start = datetime.datetime.now(datetime.timezone.utc)
        for m in METRICS:
            if m in only:
                getattr(self, "m_" + m)()
        self.load1 = os.getloadavg()
        self.seconds = (datetime.datetime.now(datetime.timezone.utc) - self.start).total_seconds()
        self.report()

    # -- output ------------------------------------------------------------------------------

    def machine(self) -> dict[str, str]:
        model = "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return {
            "nproc": str(os.cpu_count()),
            "cpu": model,
            "kernel": platform.release(),
            "peers": package_versions(self.rust_root),
            "pidone": git_describe(),
        }

    def cell_text(self, row: Row, c: Cell | None) -> str:
        if c is None:
            return "—"
        if c.failed is not None:
            return f"FAILED ({c.failed})"
        if c.text is not None:
            return c.text
        s = row.fmt.format(c.value)
        if c.p99 is not None:
            s += f" (p99 {row.fmt.format(c.p99)})"
        if row.key == "binary":
            s += f" {c.note}"
        if c.tag:
            s += f" {c.tag}"
        return s

    def table(self) -> str:
        names = self.names()
        head = ["Metric", "unit"] + [f"**{n}**" if n == PIDONE else n for n in names]
        head += ["best peer", "pidone ÷ best", "target", "met?"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [row.label, row.unit]
            for n in names:
                t = self.cell_text(row, row.cells.get(n))
                cells.append(f"**{t}**" if n == PIDONE else t)
            goals = row.all_goals() if row.goals else [None]
            bests, ratios = [], []
            for g in goals:
                best = row.best_peer(g)
                if row.key == "honesty" or best is None:
                    bests.append("—")
                else:
                    bests.append(f"{best[0]} {row.fmt.format(best[1].value)}")
                r = row.ratio(goal=g) if row.key != "honesty" else None
                ratios.append("—" if r is None else ("∞" if math.isinf(r) else f"{r:.2f}×"))
            cells.append("<br>".join(bests))
            cells.append("<br>".join(ratios))
            cells.append(row.target)
            cells.append(row.met())
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)

    def report(self) -> None:
        mach = self.machine()
        date = self.start.strftime("%Y-%m-%d %H:%M UTC")
        table = self.table()
        print(table)
        out = Path(self.args.out) if self.args.out else (
            ROOT / "target" / "bench-quick" if self.args.quick else ROOT / "docs" / "bench"
        )
        out.mkdir(parents=True, exist_ok=True)
        knobs = ", ".join(f"{k}={v}" for k, v in self.k.items())
        md = [
            "# pidone benchmark results",
            "",
            f"Generated by `{self.args.command}` on {date} ({self.seconds:.0f} s).",
            "",
            f"**Machine:** {mach['nproc']} CPUs ({mach['cpu']}), Linux {mach['kernel']}; "
            f"1-minute load average {self.load0[0]:.2f} at start, {self.load1[0]:.2f} at end (the drain and "
            "storm phases make thousands of processes runnable at once, which alone lifts it far above 2).  ",
            f"**Peers:** {mach['peers']}.  **pidone:** {mach['pidone']}.  ",
            f"**Pinning:** `{self.args.pin}` — trees on CPU {self.cpu}, "
            f"{'driver on the same CPU' if self.args.pin == 'same' else f'driver on CPU {self.other_cpu}'}"
            f" (drain and storm: driver on CPU {self.other_cpu}).  ",
            f"**Knobs:** {knobs}{' (quick)' if self.args.quick else ''}.",
            "",
            "Lower is better everywhere. `p99` is nearest-rank (the maximum for metrics with fewer "
            "than 100 rounds). Ratios are pidone ÷ the best peer that was not FAILED in this same "
            "run; how each figure is measured: [bench/README.md](../../bench/README.md).",
            "",
            table,
            "",
            "![chart](chart.svg)",
            "",
            "## Notes per metric",
            "",
        ]
        for row in self.rows:
            if row.detail:
                md.append(f"- **{row.label}**: {row.detail}")
        for row in self.rows:
            for n, c in row.cells.items():
                if c.failed:
                    md.append(f"- FAILED: `{n}` in “{row.label}”: {c.failed}")
        for n in self.missing:
            md.append(f"- `{n}` was not measured: not installed (bench/run installs it; see its output)")
        md += ["", "## Details", ""] + self.details + [""]
        (out / "results.md").write_text("\n".join(md))
        (out / "chart.svg").write_text(self.svg(date, mach))
        summary = {
            "date": date,
            "machine": mach,
            "knobs": self.k,
            "pin": self.args.pin,
            "rows": [
                {
                    "key": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "target": r.target,
                    "met": r.met(),
                    "ratio": r.ratio(),
                    "goals": [
                        {
                            "limit": g.limit,
                            "pool": g.pool,
                            "label": g.label,
                            "best": (r.best_peer(g) or (None,))[0],
                            "ratio": r.ratio(goal=g),
                        }
                        for g in r.all_goals()
                    ],
                    "cells": {
                        n: {"value": c.value, "p99": c.p99, "failed": c.failed, "text": c.text}
                        for n, c in r.cells.items()
                    },
                }
                for r in self.rows
            ],
        }
        (out / "results.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        self.log(f"wrote {out}/results.md, chart.svg, results.json")

    def svg(self, date: str, mach: dict[str, str]) -> str:
        """Hand-written SVG: one group of bars per metric, each bar = value ÷ best peer."""
        names = self.names()
        rows = [r for r in self.rows if r.chart and r.cells]
        colors = {
            "tini": "#9ecae1",
            "tini-static": "#4f8fc0",
            "dumb-init": "#c7c7c7",
            "catatonit": "#7f7f7f",
            "tino": "#a1d99b",
            "pid1": "#31a354",
            PIDONE: "#e6550d",
        }
        cap = 3.0
        bar, gap, group_gap = 13, 2, 30
        plot_h, top, left = 300, 130, 56
        gw = len(names) * (bar + gap) - gap
        width = max(left + len(rows) * (gw + group_gap) + 20, 900)
        height = top + plot_h + 110
        base = top + plot_h

        def y(v: float) -> float:
            return base - plot_h * min(v, cap) / cap

        title = "pidone vs " + ", ".join(n for n in names if n != PIDONE)
        o = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">'
            f"{esc(title)}: each bar ÷ the best peer (lower is better)</text>",
            f'<text x="{width / 2}" y="44" text-anchor="middle" fill="#444">{esc(date)} · '
            f"{esc(mach['nproc'])} CPUs, {esc(mach['cpu'])} · Linux {esc(mach['kernel'])}"
            f"{' · QUICK (smoke-test) run' if self.args.quick else ''} · {esc(self.args.command)}</text>",
        ]
        lx = left
        for n in names:
            weight = BOLD if n == PIDONE else ""
            o.append(f'<rect x="{lx}" y="60" width="13" height="13" fill="{colors.get(n, "#999")}"/>')
            o.append(f'<text x="{lx + 18}" y="71"{weight}>{esc(n)}</text>')
            lx += 18 + 7 * len(n) + 26
        for t in (0, 0.5, 1, 1.5, 2, 2.5, 3):
            yy = y(t)
            if t == 1:
                line = f'stroke="#222" stroke-dasharray="5,3"'
            else:
                line = 'stroke="#e3e3e3"'
            o.append(f'<line x1="{left - 4}" x2="{width - 14}" y1="{yy}" y2="{yy}" {line}/>')
            o.append(f'<text x="{left - 8}" y="{yy + 4}" text-anchor="end">{t:g}×</text>')
        for gi, row in enumerate(rows):
            gx = left + 14 + gi * (gw + group_gap)
            best = row.best_peer()
            ref = row.ref[0] if row.ref else (best[1].value if best else None)
            for bi, n in enumerate(names):
                c = row.cells.get(n)
                if c is None:
                    continue
                x = gx + bi * (bar + gap)
                cx = x + bar / 2 + 3.5
                weight = BOLD if n == PIDONE else ""
                if c.failed is not None:
                    o.append(
                        f'<text x="{cx}" y="{base - 4}" transform="rotate(-90 {cx} {base - 4})" '
                        f'fill="#c00" font-size="10" font-weight="bold">FAILED</text>'
                    )
                    continue
                if c.text == "did not stop":
                    ratio, label = cap, "did not stop"
                elif ref is None or c.value is None:
                    continue
                else:
                    ratio = (0.0 if c.value == 0 else cap) if ref == 0 else c.value / ref
                    label = row.fmt.format(c.value)
                h = max(base - y(ratio), 1.0)
                stroke = ' stroke="#000" stroke-width="1.5"' if n == PIDONE else ""
                o.append(
                    f'<rect x="{x}" y="{base - h:.1f}" width="{bar}" height="{h:.1f}" fill="{colors.get(n, "#999")}"'
                    f"{stroke}><title>{esc(n)}: {esc(self.cell_text(row, c))} {esc(row.unit)}</title></rect>"
                )
                if ratio >= cap:  # off scale: label inside the bar, from the top
                    ty = y(cap) + 4
                    o.append(
                        f'<text x="{cx}" y="{ty}" transform="rotate(-90 {cx} {ty})" text-anchor="end" '
                        f'font-size="9" fill="#000"{weight}>▲ {esc(label)}</text>'
                    )
                else:
                    ty = base - h - 4
                    o.append(
                        f'<text x="{cx}" y="{ty:.1f}" transform="rotate(-90 {cx} {ty:.1f})" font-size="9"'
                        f"{weight}>{esc(label)}</text>"
                    )
            lines = (row.short or row.label).split("|")
            for li, ln in enumerate(lines):
                o.append(
                    f'<text x="{gx + gw / 2}" y="{base + 16 + li * 13}" text-anchor="middle">{esc(ln)}</text>'
                )
            r = row.ratio()
            if r is not None and row.ref is None and row.key not in ("wakeups",):
                text = "∞" if math.isinf(r) else f"{r:.2f}×"
                o.append(
                    f'<text x="{gx + gw / 2}" y="{base + 20 + len(lines) * 13}" text-anchor="middle" '
                    f'fill="{colors[PIDONE]}" font-weight="bold">pidone {text}</text>'
                )
        o.append(
            f'<text x="{left}" y="{height - 26}" fill="#444">Bars: value ÷ best peer in this run '
            f"(dashed line = 1×), capped at {cap:g}× (▲ = off scale). Numbers are raw values, "
            "medians where sampled.</text>"
        )
        o.append(
            f'<text x="{left}" y="{height - 10}" fill="#444">FAILED = wrong exit code, zombies left, '
            "a signal kind lost, or busy-polling while idle (not ranked). Method: bench/README.md; "
            "full table: docs/bench/results.md.</text>"
        )
        o.append("</svg>")
        return "\n".join(o) + "\n"


# ---------------------------------------------------------------------------------------------
# interrupt time charged to each task (ftrace)


class IrqTrace:
    """A tracefs instance that records hardirq and softirq entry/exit on one CPU, switched on by
    bench_driver around each measured window (`--trace-on`). `close()` returns the interrupt time
    (ns) that ran while each pid was the current task, i.e. what this kernel (no
    IRQ_TIME_ACCOUNTING) charged to it."""

    ROOT = Path("/sys/kernel/tracing")
    EVENTS = [
        "irq/softirq_entry",
        "irq/softirq_exit",
        "irq/irq_handler_entry",
        "irq/irq_handler_exit",
        "irq_vectors/local_timer_entry",
        "irq_vectors/local_timer_exit",
        "irq_vectors/call_function_entry",
        "irq_vectors/call_function_exit",
        "irq_vectors/call_function_single_entry",
        "irq_vectors/call_function_single_exit",
        "irq_vectors/reschedule_entry",
        "irq_vectors/reschedule_exit",
        "irq_vectors/irq_work_entry",
        "irq_vectors/irq_work_exit",
    ]

    def __init__(self, inst: Path, mounted: bool):
        self.inst = inst
        self.mounted = mounted
        self.on_file = str(inst / "tracing_on")

    @classmethod
    def open(cls, cpu: int, log) -> "IrqTrace | None":
        mounted = False
        if not (cls.ROOT / "instances").is_dir():
            r = subprocess.run(["mount", "-t", "tracefs", "nodev", str(cls.ROOT)], capture_output=True)
            if r.returncode != 0:
                log("no tracefs: the reaping CPU is not split (its second row is left out)")
                return None
            mounted = True
        inst = cls.ROOT / "instances" / f"pidone-bench-{os.getpid()}"
        try:
            inst.mkdir()
            t = cls(inst, mounted)
            (inst / "tracing_on").write_text("0")
            (inst / "buffer_size_kb").write_text("4096")
            (inst / "tracing_cpumask").write_text(f"{1 << cpu:x}")
            for ev in cls.EVENTS:
                try:
                    (inst / "events" / ev / "enable").write_text("1")
                except OSError:
                    pass  # an event this kernel does not have
            return t
        except OSError as e:
            log(f"tracefs instance failed ({e}): the reaping CPU is not split")
            try:
                inst.rmdir()
            except OSError:
                pass
            if mounted:
                subprocess.run(["umount", str(cls.ROOT)], capture_output=True)
            return None

    def close(self) -> dict[int, int]:
        try:
            (self.inst / "tracing_on").write_text("0")
            text = (self.inst / "trace").read_text(errors="replace")
        finally:
            try:
                self.inst.rmdir()
            finally:
                if self.mounted:
                    subprocess.run(["umount", str(self.ROOT)], capture_output=True)
        return self.charged(text)

    LINE = re.compile(r"^\s*(.*)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+):")

    @classmethod
    def charged(cls, text: str) -> dict[int, int]:
        """Outermost interrupt intervals, summed per interrupted pid. Tracing is off between
        windows, so an entry whose exit is missing is dropped when the next entry comes more than
        10 ms later."""
        out: dict[int, int] = {}
        stack: list[tuple[float, int]] = []
        for ln in text.splitlines():
            m = cls.LINE.match(ln)
            if not m:
                continue
            pid, ts, ev = int(m.group(2)), float(m.group(3)), m.group(4)
            if ev.endswith("_entry"):
                if stack and ts - stack[-1][0] > 0.01:
                    stack.clear()
                stack.append((ts, pid))
            elif ev.endswith("_exit") and stack:
                t0, p0 = stack.pop()
                if not stack and ts - t0 < 0.01:
                    out[p0] = out.get(p0, 0) + round((ts - t0) * 1e9)
        return out


# ---------------------------------------------------------------------------------------------
# helpers


def esc(s: object) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def wrap(text: str, width: int) -> list[str]:
    text = text.replace("`", "")
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines


def has_interp(path: str) -> bool:
    """True when the ELF file has a PT_INTERP program header (i.e. is dynamically linked)."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            return True
        endian = "<" if ident[5] == 1 else ">"
        phoff = struct.unpack_from(endian + "Q", ident, 32)[0]
        phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        if struct.unpack_from(endian + "I", table, i * phentsize)[0] == 3:  # PT_INTERP
            return True
    return False


def file_desc(path: str) -> str:
    if not shutil.which("file"):
        return "(file not installed)"
    r = subprocess.run(["file", "-b", path], capture_output=True, text=True)
    return ", ".join(p for p in r.stdout.strip().split(", ") if not p.startswith("BuildID"))


def package_versions(rust_root: Path) -> str:
    try:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${Version}, ", "tini", "dumb-init", "catatonit"],
            capture_output=True,
            text=True,
        )
        deb = r.stdout.strip().rstrip(",") or "unknown"
    except OSError:
        deb = "unknown"
    # `cargo install --list` prints "crate vX.Y.Z:" lines for what is installed under the root.
    try:
        r = subprocess.run(
            ["cargo", "install", "--list", "--root", str(rust_root)], capture_output=True, text=True
        )
        crates = [ln.rstrip(":") for ln in r.stdout.splitlines() if ln and not ln.startswith(" ")]
        crates = [c for c in crates if c.split()[0] in RUST_CRATES.values()]
    except OSError:
        crates = []
    rust = ", ".join(crates) or "none installed"
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{deb} (Debian); {rust} (crates.io, `cargo install --locked`, x86_64-unknown-linux-musl, {rustc})"


def stripped_size(path: str) -> int | None:
    """Size of a stripped copy of `path` (None without `strip`)."""
    if not shutil.which("strip"):
        return None
    tmp = Path("/tmp") / f"bench-strip-{os.getpid()}"
    try:
        r = subprocess.run(["strip", "-o", str(tmp), path], capture_output=True)
        return tmp.stat().st_size if r.returncode == 0 else None
    finally:
        tmp.unlink(missing_ok=True)


def run_group(argv: list[str], timeout: float, quiet: bool = False) -> tuple[str, int | None]:
    """Runs `argv` in its own session with stdin on /dev/null and stdout captured (stderr
    passed through, or discarded when `quiet`); waits at most `timeout` s, then SIGKILLs its
    whole process group. Returns (stdout so far, exit code or None on timeout)."""
    p = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = p.communicate(timeout=timeout)
        return out, p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return out, None


def git_describe() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return f"commit {rev}" + (" + uncommitted changes in src/" if dirty else "")
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced run for smoke tests (~2 min)")
    ap.add_argument("--only", nargs="+", choices=METRICS, help="run only these metrics")
    ap.add_argument("--pidone", help="pidone binary (default: the musl release build)")
    ap.add_argument("--skip-pidone", action="store_true", help="measure the peers only")
    ap.add_argument("--exclude", nargs="+", choices=PEERS, help="leave these peers out")
    ap.add_argument(
        "--no-trace", action="store_true", help="no ftrace split of the reaping CPU (its second row)"
    )
    ap.add_argument(
        "--rust-peers", help="cargo install root of tino and pid1 (default target/bench-peers; bin/ below it)"
    )
    ap.add_argument("--out", help="output directory (default docs/bench, or target/bench-quick with --quick)")
    ap.add_argument("--cpu", type=int, help="CPU for the init trees (default: the last CPU)")
    ap.add_argument(
        "--pin",
        choices=["same", "split"],
        default="same",
        help="same: driver on the trees' CPU; split: driver on another CPU (drain/storm always split)",
    )
    ap.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    for k, v in FULL.items():
        ap.add_argument("--" + k.replace("_", "-"), dest=k, type=type(v), help=f"full: {v}, quick: {QUICK[k]}")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (unshare --pid)")
    Bench(args).run()


if __name__ == "__main__":
    main()
