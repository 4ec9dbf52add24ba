#!/usr/bin/env python3
"""Benchmark pidone side by side with tini, tini-static, dumb-init and catatonit.

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
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "x86_64-unknown-linux-musl" / "release"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
PEERS = ["tini", "tini-static", "dumb-init", "catatonit"]
PIDONE = "pidone"
GRACE = "1s"
GRACE_S = 1.0
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
    chart: bool = True
    detail: str = ""
    short: str = ""  # chart label, lines separated by "|"
    ref: tuple[float, str] | None = None  # chart reference instead of the best peer: (value, text)

    def best_peer(self) -> tuple[str, Cell] | None:
        pool = self.best_from if self.best_from is not None else PEERS
        cands = [
            (n, c)
            for n, c in self.cells.items()
            if n in pool and c.failed is None and c.rankable and c.value is not None
        ]
        if not cands:
            return None
        return min(cands, key=lambda nc: nc[1].value)

    def ratio(self, name: str = PIDONE) -> float | None:
        best = self.best_peer()
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
        if self.limit is None:
            return "—"
        r = self.ratio()
        if r is None:
            return "n/a"
        return "yes" if r <= self.limit else "**no**"


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
        self.details: list[str] = []
        self.cpu = args.cpu if args.cpu is not None else (os.cpu_count() or 1) - 1
        self.other_cpu = 0 if self.cpu != 0 else min(1, (os.cpu_count() or 1) - 1)

    def log(self, msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    # -- discovery -------------------------------------------------------------------------

    def discover(self) -> None:
        for name in PEERS:
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
        if name == PIDONE and grace:
            argv += ["--grace-period", GRACE]
        return argv + ["--"]

    def ns_variant(self, name: str, child: list[str], grace: bool = False) -> list[str]:
        return [name] + UNSHARE + self.init_argv(name, grace) + child

    def drive(self, mode: str, opts: list[str], variants: list[list[str]]) -> list[dict]:
        argv = [self.driver, mode] + opts + ["--"]
        for i, v in enumerate(variants):
            if i:
                argv.append("::")
            argv += v
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"bench_driver {mode} exited {r.returncode}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

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
            "≤ 0.7× smallest static peer",
            limit=0.7,
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
        row.best_from = static_peers
        row.short = "binary size|KiB, 1× = smallest|static peer"
        row.detail = "Only static peers are ranked (dynamic ones also need libc's ~2 MB)."
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
                try:
                    r = subprocess.run(
                        UNSHARE + self.init_argv(n) + ["sh", "-c", script],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        timeout=10,
                    )
                    code = r.returncode if r.returncode >= 0 else 128 - r.returncode
                except subprocess.TimeoutExpired:
                    code = "timeout"
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
                d = res[prefix + n]
                xs = [x / 1000 for x in d["ns"]]
                c = Cell()
                if d["bad_exits"] or not xs:
                    c.failed = f"exit codes {sorted(set(d['bad_exits']))}"
                else:
                    c.value = median(xs) - median(b)
                    c.p99 = p99(xs) - median(b)
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
        rss = Row("rss", "Idle memory, VmRSS", "KiB", "{:.0f}", "≤ 0.6×", limit=0.6)
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

    # -- 5. latency --------------------------------------------------------------------------

    def m_latency(self) -> None:
        samples = self.k["latency_samples"]
        resp = [self.child, "respond", "100"]
        variants = [["floor"] + resp] + [self.ns_variant(n, resp) for n in self.names()]
        self.log(f"signal round trip: {samples} samples × {len(variants)} targets, interleaved")
        res = {d["name"]: d for d in self.drive("latency", ["--samples", str(samples)] + self.pin(), variants)}
        floor = [x / 1000 for x in res["floor"]["ns"]]
        row = Row(
            "latency",
            "Signal round trip (`kill(init, USR1)` → child's byte)",
            "µs",
            "{:.2f}",
            "≤ 1.0×",
            limit=1.0,
        )
        for n in self.names():
            d = res[n]
            xs = [x / 1000 for x in d["ns"]]
            c = Cell()
            if d["lost"] or len(xs) < samples:
                c.failed = f"{d['lost']} signals not forwarded"
            else:
                c.value, c.p99 = median(xs), p99(xs)
                c.note = f"init's share {c.value - median(floor):.1f} µs"
            row.cells[n] = c
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
            d = res[n]
            xs = [x / 1e6 for x in d["ns"]]
            c = Cell()
            bad = [e for e in d["exit_codes"] if e != 143]
            if d["timeouts"] or d["spawn_failures"]:
                c.failed = f"{d['timeouts']} did not stop"
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
            f"Stop latency, child ignores TERM (pidone `--grace-period {GRACE}`; cap {cap / 1000:g} s)",
            "ms",
            "{:.0f}",
            f"stops in {GRACE} + ≤ 10%",
            absolute=lambda c: c.value is not None and c.value <= grace_ms * 1.1,
        )
        for n in self.names():
            d = res[n]
            xs = [x / 1e6 for x in d["ns"]]
            if d["timeouts"] or not xs:
                row.cells[n] = Cell(cap, text="did not stop", rankable=False)
            else:
                row.cells[n] = Cell(median(xs), p99(xs))
        row.short = f"stop, child|ignores TERM, ms|1× = {GRACE} grace"
        row.ref = (grace_ms, f"the {GRACE} grace period")
        row.detail = "peers never stop on their own here (by design); the cap's SIGKILL ends them"
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
                if lost:
                    problems.add("lost " + ",".join(lost))
                if not d["init_alive"] or not d["child_alive"]:
                    problems.add("init or child died")
                if d["exit_code"] != 0:
                    problems.add(f"exit {d['exit_code']}")
            xs = [d["cpu_ns"] / 1e6 for d in ds if not d.get("failed")]
            c = Cell()
            if problems or not xs:
                c.failed = "; ".join(sorted(problems)) or "no data"
            else:
                c.value, c.p99 = median(xs), p99(xs)
            row.cells[n] = c
            if ds and not ds[0].get("failed"):
                self.details.append(f"- flood `{n}`, child's counts in the last round: {ds[-1]['counts']}")
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
        out = self.drive(
            "drain", ["--count", str(count), "--rounds", str(rounds)] + self.pin_split(), variants
        )
        row = Row(
            "drain",
            f"Reaping, init CPU per zombie ({count} queued at once)",
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
                left = max((d.get("zombies_left", 0) for d in ds), default=0)
                c.failed = f"{left} zombies left" if left else "did not run"
            else:
                xs = [d["cpu_ns"] / 1e3 / d["queued"] for d in ds]
                c.value, c.p99 = median(xs), p99(xs)
                walls = [d["wall_ns"] / 1e6 for d in ds]
                c.note = f"wall {median(walls):.1f} ms"
                self.details.append(
                    f"- drain `{n}`: median wall time to reap {count} zombies {median(walls):.1f} ms, 0 left"
                )
            row.cells[n] = c
        row.short = "reaping CPU|per zombie, µs"
        row.detail = f"{rounds} rounds; init stopped while the zombies pile up, then continued"
        self.rows.append(row)

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
                c.failed = f"{left} zombies left" if left else "did not complete"
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
            "peers": package_versions(),
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
            best = row.best_peer()
            if row.key == "honesty" or best is None:
                cells.append("—")
            else:
                cells.append(f"{best[0]} {row.fmt.format(best[1].value)}")
            r = row.ratio() if row.key != "honesty" else None
            cells.append("—" if r is None else ("∞" if math.isinf(r) else f"{r:.2f}×"))
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
            PIDONE: "#e6550d",
        }
        cap = 3.0
        bar, gap, group_gap = 17, 3, 34
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
            f'<text x="{left}" y="{height - 10}" fill="#444">FAILED = wrong exit code, zombies left '
            "or a signal kind lost (not ranked). Method: bench/README.md; full table: "
            "docs/bench/results.md.</text>"
        )
        o.append("</svg>")
        return "\n".join(o) + "\n"


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


def package_versions() -> str:
    try:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${Version}, ", "tini", "dumb-init", "catatonit"],
            capture_output=True,
            text=True,
        )
        return r.stdout.strip().rstrip(",") or "unknown"
    except OSError:
        return "unknown"


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
    ap.add_argument("--quick", action="store_true", help="reduced run for smoke tests (< 60 s)")
    ap.add_argument("--only", nargs="+", choices=METRICS, help="run only these metrics")
    ap.add_argument("--pidone", help="pidone binary (default: the musl release build)")
    ap.add_argument("--skip-pidone", action="store_true", help="measure the peers only")
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
