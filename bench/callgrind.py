#!/usr/bin/env python3
"""User-space instruction counts of each init (valgrind --tool=callgrind), for profiling.

Wall-clock and CPU-time figures on a shared 2-CPU VM move by ±5-10 % from run to run; callgrind's
instruction counts do not. This counts, for every init, as PID 1 of its own PID namespace:

  start-up      instructions for `INIT -- true` (not in a namespace, whole life of the init)
  per signal    (instructions with N SIGUSR1 forwarded − with none) / N   (bench_child respond)
  per zombie    (instructions with N orphans reaped − with none) / N      (bench_child hold)

Only user-space work is counted; kernel work (the syscalls themselves) is not. Run after
`bench/run` has built the binaries:  python3 bench/callgrind.py [--signals N] [--zombies N]
[--pidone PATH] [--keep DIR]. Use a binary built with symbols (CARGO_PROFILE_RELEASE_STRIP=none
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=...) and `callgrind_annotate` on the
files kept with --keep to see where the instructions go.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "x86_64-unknown-linux-musl" / "release"
CHILD = str(TARGET / "examples" / "bench_child")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
RUST_PEERS = ROOT / "target" / "bench-peers" / "bin"  # where bench/run installs tino and pid1


class NotForwarded(Exception):
    """The init did not pass a signal on within the timeout (pid1 forwards only TERM and INT)."""


def read1(fd: int, timeout: float) -> bytes:
    """One byte from `fd`, waiting at most `timeout` s (b"" on timeout)."""
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if ready else b""


def collected(stderr: str) -> int:
    m = re.search(r"Collected : (\d+)", stderr)
    if not m:
        raise RuntimeError("valgrind did not report a count:\n" + stderr[-2000:])
    return int(m.group(1))


def init_pid(unshare_pid: int) -> int:
    for _ in range(500):
        kids = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
        if kids:
            return int(kids[0])
        time.sleep(0.01)
    raise RuntimeError("no init under unshare")


def valgrind(out: str) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]


def startup(init: list[str], out: str) -> int | None:
    """None when valgrind reports no count: the init exec'd the command in place (pid1 does
    that when it is not PID 1), so there is no init run to count."""
    r = subprocess.run(valgrind(out) + init + ["true"], capture_output=True, text=True, timeout=60)
    try:
        return collected(r.stderr)
    except RuntimeError:
        return None


def signals(init: list[str], n: int, out: str) -> int:
    r, w = os.pipe()
    p = subprocess.Popen(
        UNSHARE + valgrind(out) + init + [CHILD, "respond", str(w)],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(w)
    if read1(r, 60) != b"R":
        p.kill()
        raise RuntimeError("responder not ready")
    pid = init_pid(p.pid)
    for _ in range(n):
        try:
            os.kill(pid, signal.SIGUSR1)
            answered = read1(r, 5) == b"!"
        except ProcessLookupError:
            # Under valgrind an init without a SIGUSR1 handler dies of it (valgrind handles
            # every signal, so the kernel's PID 1 protection does not apply): pid1 does.
            answered = False
        if not answered:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.communicate(timeout=60)
            os.close(r)
            raise NotForwarded()
    os.kill(pid, signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    os.close(r)
    return collected(err)


def zombies(init: list[str], n: int, out: str) -> int:
    r, w = os.pipe()
    cr, cw = os.pipe()
    p = subprocess.Popen(
        UNSHARE + valgrind(out) + init + [CHILD, "hold", str(w), str(cr), str(n)],
        pass_fds=(w, cr),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(w)
    os.close(cr)
    if read1(r, 120) != b"R":
        p.kill()
        raise RuntimeError("holder not ready")
    pid = init_pid(p.pid)
    os.close(cw)  # every worker exits now
    deadline = time.time() + 120
    while len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()) > 1:
        if time.time() > deadline:
            raise RuntimeError("zombies not reaped")
        time.sleep(0.01)
    os.kill(pid, signal.SIGTERM)
    err = p.communicate(timeout=60)[1]
    os.close(r)
    return collected(err)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", type=int, default=2000)
    ap.add_argument("--zombies", type=int, default=2000)
    ap.add_argument("--pidone", default=str(TARGET / "pidone"))
    ap.add_argument("--keep", help="directory for the callgrind.out files")
    ap.add_argument("--only", nargs="+", help="only these inits (names as in the table)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install -y valgrind)")
    if os.geteuid() != 0:
        sys.exit("needs root (unshare --pid)")
    inits = {
        "tini": ["tini", "--"],
        "tini-static": ["tini-static", "--"],
        "dumb-init": ["dumb-init", "--"],
        "catatonit": ["catatonit", "--"],
        "tino": [str(RUST_PEERS / "tino"), "--"],
        "pid1": [str(RUST_PEERS / "pid1"), "--"],
        "pidone": [args.pidone, "--"],
    }
    inits = {k: [shutil.which(v[0]) or v[0]] + v[1:] for k, v in inits.items()}
    inits = {k: v for k, v in inits.items() if os.path.exists(v[0]) and (not args.only or k in args.only)}
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pidone-callgrind-"))
    keep.mkdir(parents=True, exist_ok=True)
    print(f"| init | start-up (instructions) | per forwarded signal | per reaped zombie |")
    print("|---|---|---|---|")
    for name, argv in inits.items():
        f = lambda tag: str(keep / f"callgrind.{name}.{tag}")  # noqa: E731
        s = startup(argv, f("startup"))
        s_text = "execs the command (not PID 1)" if s is None else f"{s:,}"
        try:
            s0, s1 = signals(argv, 0, f("sig0")), signals(argv, args.signals, f(f"sig{args.signals}"))
            per_signal = f"{(s1 - s0) / args.signals:.0f}"
        except NotForwarded:
            per_signal = "not forwarded"
        z0, z1 = zombies(argv, 0, f("zombie0")), zombies(argv, args.zombies, f(f"zombie{args.zombies}"))
        print(f"| {name} | {s_text} | {per_signal} | {(z1 - z0) / args.zombies:.0f} |", flush=True)
    print(f"\ncallgrind files in {keep}", file=sys.stderr)


if __name__ == "__main__":
    main()
