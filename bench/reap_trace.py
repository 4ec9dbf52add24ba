#!/usr/bin/env python3
"""Where an init's CPU goes while it reaps N queued zombies: an exact split from ftrace.

    sudo python3 bench/reap_trace.py [--zombies 3000] [--rounds 12] [--cpu 1] INIT...

INIT is a name in PATH (tini-static, catatonit), a path (target/.../pidone), or tino/pid1 (from
target/bench-peers/bin). Per round and init, as in the benchmark's drain: the init (PID 1 of its
own namespace, pinned to --cpu) adopts N orphans, is stopped while they all exit, the tree CPU is
let go quiet (no RCU softirq for 50 ms), then the init is continued and traced until it has reaped
them all. A tracefs instance on that CPU records sched_switch, hardirq/softirq entry and exit and
wait4 entry and exit; every interval between two events while the init is the current task goes
to the innermost context: `hardirq`, `softirq VECTOR`, `wait4` (in the syscall), or `other` (user
space and every other syscall). Their sum is the init's wall time on the CPU; schedstat's ΔCPU,
printed beside it, is that minus the time the hypervisor took from the VM meanwhile (steal time:
PARAVIRT_TIME_ACCOUNTING leaves it out), so "traced" is the larger by the steal. Output: medians
per zombie (µs), then the per-round figures.

The kernel this runs on has no IRQ_TIME_ACCOUNTING, so interrupt time is charged to the current
task: `softirq RCU` is the callbacks that free exited tasks, run while the init happened to be on
the CPU. Tracing costs a little per event, the same for every init (two wait4 events per zombie).
Bench's own `bench.py` uses the lighter split (interrupt events only) for its second reaping row.
Mounts tracefs if it is not mounted (and unmounts it again); removes its instance on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import statistics as st
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = str(ROOT / "target" / "x86_64-unknown-linux-musl" / "release" / "examples" / "bench_child")
RUST_PEERS = ROOT / "target" / "bench-peers" / "bin"
TRACING = Path("/sys/kernel/tracing")
EVENTS = [
    "sched/sched_switch",
    "irq/softirq_entry",
    "irq/softirq_exit",
    "irq/irq_handler_entry",
    "irq/irq_handler_exit",
    "irq_vectors/local_timer_entry",
    "irq_vectors/local_timer_exit",
    "irq_vectors/call_function_single_entry",
    "irq_vectors/call_function_single_exit",
    "irq_vectors/call_function_entry",
    "irq_vectors/call_function_exit",
    "irq_vectors/reschedule_entry",
    "irq_vectors/reschedule_exit",
    "irq_vectors/irq_work_entry",
    "irq_vectors/irq_work_exit",
    "syscalls/sys_enter_wait4",
    "syscalls/sys_exit_wait4",
]
# "comm-pid [cpu] flags ts: event: rest", or "event(args)" / "event -> ret" for syscalls
LINE = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+)(?::|\(| ->)\s*(.*)$")


def kids(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def rcu_softirqs(cpu: int) -> int:
    for ln in Path("/proc/softirqs").read_text().splitlines():
        if ln.strip().startswith("RCU:"):
            return int(ln.split()[1 + cpu])
    return 0


def wait_until(cond, timeout: float, step: float = 0.005) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Trace:
    def __init__(self, cpu: int):
        self.mounted = False
        if not (TRACING / "instances").is_dir():
            subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACING)], check=True)
            self.mounted = True
        self.dir = TRACING / "instances" / f"reap-trace-{os.getpid()}"
        self.dir.mkdir()
        self.w("tracing_on", "0")
        self.w("trace_clock", "mono")
        self.w("buffer_size_kb", "16384")
        self.w("tracing_cpumask", f"{1 << cpu:x}")
        for ev in EVENTS:
            try:
                self.w(f"events/{ev}/enable", "1")
            except OSError:
                print(f"reap_trace: no event {ev} on this kernel", file=sys.stderr)

    def w(self, name: str, value: str) -> None:
        (self.dir / name).write_text(value)

    def close(self) -> None:
        try:
            self.w("tracing_on", "0")
            self.dir.rmdir()
        finally:
            if self.mounted:
                subprocess.run(["umount", str(TRACING)])


def one_round(trace: Trace, init: str, n: int, cpu: int) -> tuple[int, int, str]:
    """Returns (init's host pid, ΔCPU ns, trace text) for one drain of `n` zombies."""
    rr, rw = os.pipe()
    cr, cw = os.pipe()
    p = subprocess.Popen(
        ["taskset", "-c", str(cpu), "unshare", "--pid", "--fork", "--mount-proc", init, "--"]
        + [CHILD, "hold", str(rw), str(cr), str(n)],
        pass_fds=(rw, cr),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(rw)
    os.close(cr)
    try:
        if not select.select([rr], [], [], 60)[0] or os.read(rr, 1) != b"R":
            raise RuntimeError(f"{init}: the child never reported its orphans adopted")
        ip = None

        def find() -> bool:
            nonlocal ip
            u = p.pid
            while True:
                k = kids(u)
                if not k:
                    return False
                if Path(f"/proc/{k[0]}/comm").read_text().strip() != "unshare":
                    ip = k[0]
                    return True
                u = k[0]

        if not wait_until(find, 5):
            raise RuntimeError(f"{init}: no init under unshare")
        os.kill(ip, signal.SIGSTOP)
        wait_until(lambda: state(ip) == "T", 5)
        os.close(cw)
        cw = -1
        if not wait_until(lambda: sum(1 for c in kids(ip) if state(c) == "Z") >= n, 30, 0.02):
            raise RuntimeError(f"{init}: the orphans did not all become zombies")
        last, since, end = rcu_softirqs(cpu), time.time(), time.time() + 1
        while time.time() < end and time.time() - since < 0.05:
            time.sleep(0.005)
            c = rcu_softirqs(cpu)
            if c != last:
                last, since = c, time.time()
        trace.w("trace", "")
        trace.w("tracing_on", "1")
        c0 = cpu_ns(ip)
        os.kill(ip, signal.SIGCONT)
        if not wait_until(lambda: len(kids(ip)) <= 1, 10, 0.001):
            raise RuntimeError(f"{init}: zombies left after 10 s")
        last, since, end = cpu_ns(ip), time.time(), time.time() + 1
        while time.time() < end and time.time() - since < 0.05:
            time.sleep(0.01)
            c = cpu_ns(ip)
            if c != last:
                last, since = c, time.time()
        c1 = cpu_ns(ip)
        trace.w("tracing_on", "0")
        return ip, c1 - c0, (trace.dir / "trace").read_text(errors="replace")
    finally:
        if cw >= 0:
            os.close(cw)
        os.close(rr)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for k in kids(p.pid):
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=10)


def split(ip: int, text: str, cpu: int) -> tuple[dict[str, float], int]:
    """Seconds per context while `ip` was current on `cpu`, and the number of wait4 calls."""
    buckets: dict[str, float] = {}
    cur = -1
    stack: list[str] = []
    in_wait = False
    last = None
    calls = 0
    for ln in text.splitlines():
        m = LINE.match(ln)
        if not m or int(m.group(3)) != cpu:
            continue
        pid, ts, ev, rest = int(m.group(2)), float(m.group(4)), m.group(5), m.group(6)
        # Each line names the task that was current when the event fired: trust it over the last
        # sched_switch (a switch out of the idle task on a wake-up IPI is not always recorded).
        cur = pid
        if last is not None and cur == ip:
            key = stack[-1] if stack else ("wait4" if in_wait else "other")
            buckets[key] = buckets.get(key, 0.0) + (ts - last)
        last = ts
        if ev == "sched_switch":
            nm = re.search(r"next_pid=(\d+)", rest)
            if nm:
                cur = int(nm.group(1))
        elif ev.endswith("_entry"):
            if ev == "softirq_entry":
                v = re.search(r"action=(\w+)", rest)
                stack.append("softirq " + (v.group(1) if v else "?"))
            else:
                stack.append("hardirq")
        elif ev.endswith("_exit"):
            if stack:
                stack.pop()
        elif ev == "sys_wait4" and pid == ip:
            if rest.startswith("upid"):
                in_wait = True
                calls += 1
            else:
                in_wait = False
    return buckets, calls


def resolve(name: str) -> str:
    if os.path.sep in name:
        return name
    if (RUST_PEERS / name).exists():
        return str(RUST_PEERS / name)
    return shutil.which(name) or sys.exit(f"reap_trace: {name} not found")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zombies", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--cpu", type=int, default=(os.cpu_count() or 1) - 1, help="tree CPU (default: last)")
    ap.add_argument("inits", nargs="+")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("reap_trace: needs root (unshare --pid, tracefs)")
    os.sched_setaffinity(0, {0 if args.cpu != 0 else 1})
    inits = [(os.path.basename(i), resolve(i)) for i in args.inits]
    res: dict[str, list[tuple[float, dict[str, float], int]]] = {name: [] for name, _ in inits}
    trace = Trace(args.cpu)
    try:
        for r in range(args.rounds):
            for name, path in inits[r % len(inits) :] + inits[: r % len(inits)]:
                ip, dcpu, text = one_round(trace, path, args.zombies, args.cpu)
                buckets, calls = split(ip, text, args.cpu)
                per = {k: v * 1e6 / args.zombies for k, v in buckets.items()}
                res[name].append((dcpu / 1e3 / args.zombies, per, calls))
    finally:
        trace.close()
    print(f"µs per zombie, median of {args.rounds} rounds, {args.zombies} zombies, tree CPU {args.cpu}")
    for name, rs in res.items():
        keys = sorted({k for x in rs for k in x[1]})
        parts = ", ".join(f"{k} {st.median(x[1].get(k, 0.0) for x in rs):.2f}" for k in keys)
        print(
            f"{name:12s} ΔCPU {st.median(x[0] for x in rs):.2f} | traced "
            f"{st.median(sum(x[1].values()) for x in rs):.2f} = {parts} | wait4 calls "
            f"{st.median(x[2] for x in rs):.0f}"
        )
        print("   ΔCPU per round:    ", " ".join(f"{x[0]:.2f}" for x in rs))
        print("   wait4 per round:   ", " ".join(f"{x[1].get('wait4', 0.0):.2f}" for x in rs))
        soft = [sum(v for k, v in x[1].items() if k.startswith("softirq")) for x in rs]
        print("   softirq per round: ", " ".join(f"{v:.2f}" for v in soft))


if __name__ == "__main__":
    main()
