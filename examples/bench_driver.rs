//! The measuring half of the benchmark (`bench/run` → `bench/bench.py` → this): spawns each init
//! with a `bench_child` under it, times things with `clock_gettime(CLOCK_MONOTONIC)` (`Instant`),
//! reads the init's own counters from `/proc`, and prints one JSON object per variant on stdout.
//!
//! ```text
//! bench_driver MODE [--rounds N] [--samples N] [--seconds S] [--cap-ms MS] [--signals N]
//!              [--count N] [--concurrent] [--cpu-driver C] [--cpu-tree C] [--trace-on FILE]
//!              -- NAME ARGV... :: NAME ARGV... :: ...
//! ```
//! MODE is `startup`, `latency`, `idle`, `stop`, `flood`, `drain` or `storm` (see
//! `bench/README.md`). Each variant is a name and a full command line, usually
//! `unshare --pid --fork --mount-proc INIT -- bench_child MODE 100 [101 N]`. The report pipe is
//! placed at fd 100 and the control pipe at fd 101 of the spawned command. The driver pins itself
//! to `--cpu-driver` and every spawned tree (inherited through fork/exec) to `--cpu-tree`.
//! Variants are always interleaved: round-robin per sample or per round, with the starting
//! variant rotated every round.
#![allow(
    unsafe_code,
    reason = "kill, poll, pidfd_open, sched_setaffinity and dup2 in pre_exec need libc calls"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::ffi::c_int;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio, exit};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

/// Where the report pipe's write end lands in the spawned command.
const REPORT_FD: c_int = 100;
/// Where the control pipe's read end lands in the spawned command.
const CTL_FD: c_int = 101;
/// The flood's signals, sent in this order round-robin (35 = glibc's SIGRTMIN+1).
const FLOOD_SIGNALS: [c_int; 5] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGHUP,
    libc::SIGWINCH,
    35,
];

/// One init (or baseline) to measure: a display name and the command that runs it.
struct Variant {
    name: String,
    argv: Vec<String>,
}

/// Command-line knobs.
struct Opts {
    mode: String,
    rounds: usize,
    samples: usize,
    seconds: f64,
    cap_ms: u64,
    signals: usize,
    count: usize,
    concurrent: bool,
    cpu_driver: Option<usize>,
    cpu_tree: Option<usize>,
    /// A tracefs `tracing_on` file: the drain switches tracing on around each measured window.
    trace_on: Option<String>,
    variants: Vec<Variant>,
}

fn main() {
    let opts = parse_args();
    if let Some(cpu) = opts.cpu_driver {
        pin(cpu);
    }
    match opts.mode.as_str() {
        "startup" => startup(&opts),
        "latency" => latency(&opts),
        "idle" => idle(&opts),
        "stop" => stop(&opts),
        "flood" => flood(&opts),
        "drain" => drain(&opts),
        "storm" => storm(&opts),
        m => die(&format!("unknown mode {m:?}")),
    }
}

fn die(msg: &str) -> ! {
    eprintln!("bench_driver: {msg}");
    exit(2);
}

fn parse_args() -> Opts {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| die("missing MODE"));
    let mut o = Opts {
        mode,
        rounds: 10,
        samples: 1000,
        seconds: 10.0,
        cap_ms: 3000,
        signals: 50_000,
        count: 1000,
        concurrent: false,
        cpu_driver: None,
        cpu_tree: None,
        trace_on: None,
        variants: Vec::new(),
    };
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
        v.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| die(&format!("{flag} needs a number")))
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => o.rounds = num(&a, args.next()),
            "--samples" => o.samples = num(&a, args.next()),
            "--seconds" => o.seconds = num(&a, args.next()),
            "--cap-ms" => o.cap_ms = num(&a, args.next()),
            "--signals" => o.signals = num(&a, args.next()),
            "--count" => o.count = num(&a, args.next()),
            "--concurrent" => o.concurrent = true,
            "--cpu-driver" => o.cpu_driver = Some(num(&a, args.next())),
            "--cpu-tree" => o.cpu_tree = Some(num(&a, args.next())),
            "--trace-on" => {
                o.trace_on = Some(
                    args.next()
                        .unwrap_or_else(|| die("--trace-on needs a path")),
                );
            }
            "--" => break,
            _ => die(&format!("unknown option {a:?}")),
        }
    }
    let rest: Vec<String> = args.collect();
    for group in rest.split(|a| a == "::") {
        let (name, argv) = group.split_first().unwrap_or_else(|| die("empty variant"));
        if argv.is_empty() {
            die(&format!("variant {name} has no command"));
        }
        o.variants.push(Variant {
            name: name.clone(),
            argv: argv.to_vec(),
        });
    }
    if o.variants.is_empty() {
        die("no variants after --");
    }
    o
}

// ---------------------------------------------------------------------------------------------
// small system helpers

/// Pins the calling process (and what it later forks) to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is valid; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn kill(pid: i32, sig: c_int) -> bool {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Waits until `fd` is readable (or hung up); false on timeout.
fn wait_readable(fd: c_int, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = c_int::try_from(left.as_millis()).unwrap_or(c_int::MAX);
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `p` is one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 || (n < 0 && errno() != libc::EINTR) {
            return false;
        }
    }
}

/// Reads up to `buf.len()` bytes from `fd` (one `read`); 0 on EOF or error.
fn read_some(fd: c_int, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return usize::try_from(n).unwrap_or(0);
        }
        if errno() != libc::EINTR {
            return 0;
        }
    }
}

/// Reads one byte with a timeout.
fn read_byte(fd: c_int, timeout: Duration) -> Option<u8> {
    if !wait_readable(fd, timeout) {
        return None;
    }
    let mut b = [0_u8];
    (read_some(fd, &mut b) == 1).then_some(b[0])
}

/// Reads until a newline (or EOF/timeout).
fn read_line(fd: c_int, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while !out.ends_with(b"\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !wait_readable(fd, left) {
            break;
        }
        let mut buf = [0_u8; 256];
        let n = read_some(fd, &mut buf);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).trim().to_string()
}

fn proc_read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// The init's own on-CPU time in ns (`/proc/PID/schedstat` field 1).
fn cpu_ns(pid: i32) -> u64 {
    proc_read(&format!("/proc/{pid}/schedstat"))
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// A `Name:  value` field of `/proc/PID/status` (or smaps_rollup), first number.
fn status_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l[key.len() + 1..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn children(pid: i32) -> Vec<i32> {
    proc_read(&format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// Process state letter from `/proc/PID/stat`.
fn state(pid: i32) -> Option<char> {
    let s = proc_read(&format!("/proc/{pid}/stat"))?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Zombies among the processes in `init`'s PID namespace (scanned over the whole host /proc).
fn zombies_in_ns(init: i32) -> usize {
    let Ok(ns) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return 0;
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns))
        .filter(|&p| state(p) == Some('Z'))
        .count()
}

/// The host PID of the init: the command itself, or, when it is `unshare`, its forked child.
fn find_init(pid: i32) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pid = pid;
    loop {
        let comm = proc_read(&format!("/proc/{pid}/comm"))?;
        if comm.trim() != "unshare" {
            return Some(pid);
        }
        match children(pid).first() {
            Some(&c) => pid = c,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            None => return None,
        }
    }
}

/// SIGKILLs `pid` and all its descendants (children first collected from /proc, so an init in
/// its own PID namespace dies too, which ends that namespace).
fn kill_tree(pid: i32) {
    let mut all = vec![pid];
    let mut i = 0;
    while let Some(&p) = all.get(i) {
        all.extend(children(p));
        i += 1;
    }
    for &p in all.iter().rev() {
        kill(p, libc::SIGKILL);
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// spawning

/// A running init (or baseline) with its `bench_child`.
struct Tree {
    child: Child,
    init: i32,
    report: OwnedFd,
    ctl: Option<OwnedFd>,
}

impl Tree {
    /// Spawns `v` with a report pipe (and a control pipe when `with_ctl`); waits for the
    /// child's 'R'. `None` (after killing what was spawned) if it never got ready.
    fn spawn(v: &Variant, o: &Opts, with_ctl: bool, ready_timeout: Duration) -> Option<Tree> {
        let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
        let (ctl_r, ctl_w) = if with_ctl {
            let (r, w) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let mut cmd = command(v, o);
        let rw = report_w.as_raw_fd();
        let cr = ctl_r.as_ref().map(AsRawFd::as_raw_fd);
        // SAFETY: dup2 is async-signal-safe and only touches this (forked) process's table.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(rw, REPORT_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(cr) = cr
                    && libc::dup2(cr, CTL_FD) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bench_driver: {}: spawn failed: {e}", v.name);
                return None;
            }
        };
        drop(report_w);
        drop(ctl_r);
        let mut t = Tree {
            init: i32::try_from(child.id()).unwrap_or(-1),
            child,
            report: report_r,
            ctl: ctl_w,
        };
        if read_byte(t.report.as_raw_fd(), ready_timeout) != Some(b'R') {
            eprintln!("bench_driver: {}: child never got ready", v.name);
            t.kill();
            return None;
        }
        match find_init(t.init) {
            Some(p) => t.init = p,
            None => {
                t.kill();
                return None;
            }
        }
        Some(t)
    }

    /// SIGKILLs the init (which takes its whole PID namespace down) and the spawned command.
    fn kill(&mut self) {
        kill(self.init, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command for a variant: stdio on /dev/null, pinned to `--cpu-tree`.
fn command(v: &Variant, o: &Opts) -> Command {
    let mut cmd = Command::new(&v.argv[0]);
    cmd.args(&v.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(cpu) = o.cpu_tree {
        // SAFETY: sched_setaffinity is a plain system call on a stack-local set.
        unsafe {
            cmd.pre_exec(move || {
                pin(cpu);
                Ok(())
            });
        }
    }
    cmd
}

/// Variant indices for round `r`: all of them, starting at a rotating offset.
fn order(n: usize, r: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + r) % n)
}

fn status_code(s: ExitStatus) -> i32 {
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// JSON output

fn js(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn jarr<T: ToString>(v: &[T]) -> String {
    let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(","))
}

/// Prints `{"name": NAME, k: v, ...}` (values already JSON).
fn emit(name: &str, fields: &[(&str, String)]) {
    let mut line = format!("{{\"name\":{}", js(name));
    for (k, v) in fields {
        line.push_str(&format!(",{}:{}", js(k), v));
    }
    line.push('}');
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------------
// modes

/// How long one start-up command may take before it is killed and counted as a bad exit (-1).
const STARTUP_CAP: Duration = Duration::from_secs(10);

/// Opens a pidfd for `pid` (-1 when the kernel has none).
fn pidfd_open(pid: u32) -> c_int {
    // SAFETY: pidfd_open takes a pid and flags; the result is a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    c_int::try_from(fd).unwrap_or(-1)
}

/// fork/exec/wait like `Command::status`, but waits at most `cap` (pidfd + poll): a command
/// that hangs is SIGKILLed (with every descendant) and reported as `None`, as is one that
/// cannot be spawned. The same pidfd and poll calls are made for every command, baselines
/// included, so they cancel out of the overhead.
fn run_bounded(cmd: &mut Command, cap: Duration) -> Option<ExitStatus> {
    let mut child = cmd.spawn().ok()?;
    let fd = pidfd_open(child.id());
    let exited = fd < 0 || wait_readable(fd, cap);
    if fd >= 0 {
        // SAFETY: closing the pidfd opened above.
        unsafe { libc::close(fd) };
    }
    if !exited {
        kill_tree(i32::try_from(child.id()).unwrap_or(-1));
        let _ = child.wait();
        return None;
    }
    child.wait().ok()
}

/// Start-up: wall time of fork/exec/wait of each command, `--rounds` rounds, interleaved.
fn startup(o: &Opts) {
    let n = o.variants.len();
    let mut samples = vec![Vec::with_capacity(o.rounds); n];
    let mut bad = vec![Vec::new(); n];
    for r in 0..o.rounds {
        for i in order(n, r) {
            let mut cmd = command(&o.variants[i], o);
            let t0 = Instant::now();
            let st = run_bounded(&mut cmd, STARTUP_CAP);
            let dt = t0.elapsed();
            match st {
                Some(s) if s.success() => samples[i].push(ns(dt)),
                Some(s) => bad[i].push(status_code(s)),
                None => bad[i].push(-1),
            }
        }
    }
    for (i, v) in o.variants.iter().enumerate() {
        emit(
            &v.name,
            &[("ns", jarr(&samples[i])), ("bad_exits", jarr(&bad[i]))],
        );
    }
}

/// Signal round trip: `kill(init, SIGUSR1)` until the responder's byte is readable, all trees
/// alive at once, one sample per tree per turn.
fn latency(o: &Opts) {
    let n = o.variants.len();
    let mut trees: Vec<Option<Tree>> = o
        .variants
        .iter()
        .map(|v| Tree::spawn(v, o, false, Duration::from_secs(5)))
        .collect();
    let trees_started: Vec<bool> = trees.iter().map(Option::is_some).collect();
    let mut samples = vec![Vec::with_capacity(o.samples); n];
    let mut lost = vec![0_usize; n];
    let mut answered = vec![0_usize; n];
    let warmup = (o.samples / 10).max(10);
    for s in 0..warmup + o.samples {
        for i in order(n, s) {
            let Some(t) = trees[i].as_mut() else { continue };
            let fd = t.report.as_raw_fd();
            let t0 = Instant::now();
            kill(t.init, libc::SIGUSR1);
            let got = wait_readable(fd, Duration::from_secs(1));
            let dt = t0.elapsed();
            let mut b = [0_u8; 16];
            if got && read_some(fd, &mut b) == 1 {
                answered[i] += 1;
                if s >= warmup {
                    samples[i].push(ns(dt));
                }
            } else {
                lost[i] += 1;
                if lost[i] >= 3 {
                    eprintln!(
                        "bench_driver: {}: signals not forwarded",
                        o.variants[i].name
                    );
                    t.kill();
                    trees[i] = None;
                }
            }
        }
    }
    for t in trees.iter_mut().flatten() {
        t.kill();
    }
    for (i, v) in o.variants.iter().enumerate() {
        emit(
            &v.name,
            &[
                ("ns", jarr(&samples[i])),
                ("lost", lost[i].to_string()),
                ("answered", answered[i].to_string()),
                ("started", trees_started[i].to_string()),
            ],
        );
    }
}

/// Idle: every tree alive at once; context switches of the init over `--seconds`, then its
/// memory.
fn idle(o: &Opts) {
    let mut trees: Vec<Option<Tree>> = o
        .variants
        .iter()
        .map(|v| Tree::spawn(v, o, false, Duration::from_secs(5)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let switches = |pid: i32| -> (u64, u64) {
        let s = proc_read(&format!("/proc/{pid}/status")).unwrap_or_default();
        (
            status_field(&s, "voluntary_ctxt_switches"),
            status_field(&s, "nonvoluntary_ctxt_switches"),
        )
    };
    let before: Vec<Option<((u64, u64), u64)>> = trees
        .iter()
        .map(|t| t.as_ref().map(|t| (switches(t.init), cpu_ns(t.init))))
        .collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(o.seconds));
    let secs = t0.elapsed().as_secs_f64();
    for (i, v) in o.variants.iter().enumerate() {
        let (Some(t), Some(((v0, n0), c0))) = (trees[i].as_mut(), before[i]) else {
            emit(&v.name, &[("failed", "true".into())]);
            continue;
        };
        let (v1, n1) = switches(t.init);
        let c1 = cpu_ns(t.init);
        let st = proc_read(&format!("/proc/{}/status", t.init)).unwrap_or_default();
        let sm = proc_read(&format!("/proc/{}/smaps_rollup", t.init)).unwrap_or_default();
        emit(
            &v.name,
            &[
                ("seconds", format!("{secs:.3}")),
                ("voluntary", (v1 - v0).to_string()),
                ("involuntary", (n1 - n0).to_string()),
                ("cpu_ns", (c1 - c0).to_string()),
                ("vmrss_kb", status_field(&st, "VmRSS").to_string()),
                (
                    "private_kb",
                    (status_field(&sm, "Private_Clean") + status_field(&sm, "Private_Dirty"))
                        .to_string(),
                ),
                ("pss_kb", status_field(&sm, "Pss").to_string()),
            ],
        );
        t.kill();
    }
}

/// Outcome of one stop: latency, or `None` when it did not stop within the cap; exit code.
type StopResult = (Option<u64>, i32);

/// SIGTERM to every init of `trees`, then waits (pidfd + poll) for each spawned command to exit,
/// at most `cap`; the stragglers are SIGKILLed.
fn stop_batch(trees: &mut [Tree], cap: Duration) -> Vec<StopResult> {
    let pidfds: Vec<c_int> = trees.iter().map(|t| pidfd_open(t.child.id())).collect();
    let mut t0 = Vec::with_capacity(trees.len());
    for t in trees.iter() {
        t0.push(Instant::now());
        kill(t.init, libc::SIGTERM);
    }
    let mut done: Vec<Option<u64>> = vec![None; trees.len()];
    let deadline = Instant::now() + cap;
    while done.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = pidfds
            .iter()
            .zip(&done)
            .filter(|(_, d)| d.is_none())
            .map(|(&fd, _)| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX);
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        let k = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        let now = Instant::now();
        if k <= 0 {
            continue;
        }
        for p in fds.iter().filter(|p| p.revents != 0) {
            if let Some(i) = pidfds.iter().position(|&fd| fd == p.fd) {
                done[i] = Some(ns(now - t0[i]));
            }
        }
    }
    let mut out = Vec::with_capacity(trees.len());
    for (i, t) in trees.iter_mut().enumerate() {
        if done[i].is_none() {
            kill(t.init, libc::SIGKILL);
            let _ = t.child.kill();
        }
        let code = t.child.wait().map_or(-1, status_code);
        // SAFETY: closing the pidfd opened above.
        unsafe { libc::close(pidfds[i]) };
        out.push((done[i], code));
    }
    out
}

/// Stop latency: per round, each variant alone (or all at once with `--concurrent`).
fn stop(o: &Opts) {
    let n = o.variants.len();
    let cap = Duration::from_millis(o.cap_ms);
    let mut lat = vec![Vec::new(); n];
    let mut timeouts = vec![0_usize; n];
    let mut codes = vec![Vec::new(); n];
    let mut failed = vec![0_usize; n];
    for r in 0..o.rounds {
        let idx: Vec<usize> = order(n, r).collect();
        let batches: Vec<Vec<usize>> = if o.concurrent {
            vec![idx]
        } else {
            idx.into_iter().map(|i| vec![i]).collect()
        };
        for batch in batches {
            let mut trees = Vec::new();
            let mut which = Vec::new();
            for &i in &batch {
                match Tree::spawn(&o.variants[i], o, false, Duration::from_secs(5)) {
                    Some(t) => {
                        trees.push(t);
                        which.push(i);
                    }
                    None => failed[i] += 1,
                }
            }
            std::thread::sleep(Duration::from_millis(20));
            for (res, &i) in stop_batch(&mut trees, cap).into_iter().zip(&which) {
                match res.0 {
                    Some(d) => lat[i].push(d),
                    None => timeouts[i] += 1,
                }
                codes[i].push(res.1);
            }
        }
    }
    for (i, v) in o.variants.iter().enumerate() {
        emit(
            &v.name,
            &[
                ("ns", jarr(&lat[i])),
                ("timeouts", timeouts[i].to_string()),
                ("exit_codes", jarr(&codes[i])),
                ("spawn_failures", failed[i].to_string()),
            ],
        );
    }
}

/// The RCU softirq count of `cpu` (`/proc/softirqs`).
fn rcu_softirqs(cpu: usize) -> Option<u64> {
    let text = proc_read("/proc/softirqs")?;
    let line = text.lines().find(|l| l.trim_start().starts_with("RCU:"))?;
    line.split_whitespace().nth(1 + cpu)?.parse().ok()
}

/// Before a CPU-time figure is taken: waits until the tree CPU has run no RCU softirq for 50 ms
/// (at most 1 s). This kernel has no IRQ_TIME_ACCOUNTING, so softirq work is charged to whatever
/// task is on the CPU: the RCU callbacks that free the previous tree's tasks, or the 3000
/// workers that just exited, would otherwise land on the init being measured, for some inits
/// and rounds more than others.
fn quiesce(o: &Opts) {
    let Some(cpu) = o.cpu_tree else { return };
    let end = Instant::now() + Duration::from_secs(1);
    let mut last = rcu_softirqs(cpu);
    let mut since = Instant::now();
    while Instant::now() < end && last.is_some() {
        std::thread::sleep(Duration::from_millis(5));
        let c = rcu_softirqs(cpu);
        if c != last {
            last = c;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(50) {
            return;
        }
    }
}

/// Writes "1" or "0" to the `--trace-on` file (tracefs `tracing_on`), if one was given.
fn tracing(o: &Opts, on: bool) {
    if let Some(path) = &o.trace_on {
        let _ = fs::write(path, if on { "1" } else { "0" });
    }
}

/// Waits until the init's CPU time has not moved for `quiet` (at most `max`). Returns false
/// when it did not settle: at `max`, or early when the init has used at least half a CPU over
/// the last second (it busy-polls, so waiting longer would only add its spin to the figure).
fn settle(pid: i32, quiet: Duration, max: Duration) -> bool {
    let start = Instant::now();
    let end = start + max;
    let mut last = cpu_ns(pid);
    let mut since = start;
    let (mut window_t, mut window_c) = (start, last);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
        let c = cpu_ns(pid);
        if c != last {
            last = c;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return true;
        }
        let span = window_t.elapsed();
        if span >= Duration::from_secs(1) {
            if c.saturating_sub(window_c) * 2 >= ns(span) {
                return false;
            }
            (window_t, window_c) = (Instant::now(), c);
        }
    }
    false
}

/// Signal flood: per round and variant, `--signals` kill()s (5 kinds round-robin) to the init;
/// the init's CPU until it is quiet again; then SIGTERM and the child's per-kind counts.
fn flood(o: &Opts) {
    let n = o.variants.len();
    for r in 0..o.rounds {
        for i in order(n, r) {
            let v = &o.variants[i];
            let Some(mut t) = Tree::spawn(v, o, false, Duration::from_secs(5)) else {
                emit(
                    &v.name,
                    &[("round", r.to_string()), ("failed", "true".into())],
                );
                continue;
            };
            let _ = settle(t.init, Duration::from_millis(50), Duration::from_secs(1));
            quiesce(o);
            let c0 = cpu_ns(t.init);
            let t0 = Instant::now();
            let mut refused = 0_u64;
            for k in 0..o.signals {
                if !kill(t.init, FLOOD_SIGNALS[k % FLOOD_SIGNALS.len()]) {
                    refused += 1;
                }
            }
            let send = t0.elapsed();
            let settled = settle(t.init, Duration::from_millis(100), Duration::from_secs(10));
            let c1 = cpu_ns(t.init);
            let init_alive = kill(t.init, 0) && state(t.init).is_some_and(|s| s != 'Z');
            let child_alive = children(t.init)
                .iter()
                .any(|&c| state(c).is_some_and(|s| s != 'Z'));
            let res = stop_batch(std::slice::from_mut(&mut t), Duration::from_secs(3));
            let counts = read_line(t.report.as_raw_fd(), Duration::from_millis(200));
            emit(
                &v.name,
                &[
                    ("round", r.to_string()),
                    ("cpu_ns", (c1 - c0).to_string()),
                    ("send_ns", ns(send).to_string()),
                    ("refused", refused.to_string()),
                    ("init_alive", init_alive.to_string()),
                    ("child_alive", child_alive.to_string()),
                    ("counts", js(&counts)),
                    ("settled", settled.to_string()),
                    ("exit_code", res[0].1.to_string()),
                ],
            );
        }
    }
}

/// Emits a failed round; the variant is skipped in later rounds.
fn emit_failed(name: &str, round: usize, reason: &str) {
    emit(
        name,
        &[
            ("round", round.to_string()),
            ("failed", "true".into()),
            ("reason", js(reason)),
        ],
    );
}

/// Drain: per round and variant, `--count` orphans adopted by the stopped init exit together;
/// once all are zombies the init is continued and its CPU measured until it has reaped them.
/// Every wait is bounded; a variant that fails a round is not run again (its later rounds are
/// reported as skipped), so a broken init costs one round's timeouts, not `--rounds` of them.
fn drain(o: &Opts) {
    let n = o.variants.len();
    let mut given_up = vec![false; n];
    for r in 0..o.rounds {
        for i in order(n, r) {
            let v = &o.variants[i];
            if given_up[i] {
                emit_failed(&v.name, r, "skipped after a failed round");
                continue;
            }
            let Some(mut t) = Tree::spawn(v, o, true, Duration::from_secs(30)) else {
                given_up[i] = true;
                emit_failed(&v.name, r, "the child never reported its orphans adopted");
                continue;
            };
            kill(t.init, libc::SIGSTOP);
            let deadline = Instant::now() + Duration::from_secs(5);
            while state(t.init) != Some('T') && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(t.ctl.take()); // EOF: every worker exits now
            let deadline = Instant::now() + Duration::from_secs(20);
            let queued = loop {
                let z = children(t.init)
                    .iter()
                    .filter(|&&c| state(c) == Some('Z'))
                    .count();
                if z >= o.count || Instant::now() > deadline {
                    break z;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            quiesce(o);
            tracing(o, true);
            let c0 = cpu_ns(t.init);
            let t0 = Instant::now();
            kill(t.init, libc::SIGCONT);
            let deadline = Instant::now() + Duration::from_secs(10);
            while children(t.init).len() > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let wall = t0.elapsed();
            let settled = settle(t.init, Duration::from_millis(20), Duration::from_secs(1));
            let c1 = cpu_ns(t.init);
            tracing(o, false);
            let left = zombies_in_ns(t.init);
            let res = stop_batch(std::slice::from_mut(&mut t), Duration::from_secs(3));
            if left > 0 || queued < o.count {
                given_up[i] = true;
            }
            emit(
                &v.name,
                &[
                    ("round", r.to_string()),
                    ("init", t.init.to_string()),
                    ("queued", queued.to_string()),
                    ("cpu_ns", (c1 - c0).to_string()),
                    ("wall_ns", ns(wall).to_string()),
                    ("zombies_left", left.to_string()),
                    ("exit_code", res[0].1.to_string()),
                    ("settled", settled.to_string()),
                ],
            );
        }
    }
}

/// Orphan storm: per round and variant, the child double-forks `--count` orphans as fast as it
/// can; the init's CPU from the go signal until it has reaped the last one; zombies left. Like
/// the drain, a variant that fails a round is skipped afterwards.
fn storm(o: &Opts) {
    let n = o.variants.len();
    let mut given_up = vec![false; n];
    for r in 0..o.rounds {
        for i in order(n, r) {
            let v = &o.variants[i];
            if given_up[i] {
                emit_failed(&v.name, r, "skipped after a failed round");
                continue;
            }
            let Some(mut t) = Tree::spawn(v, o, true, Duration::from_secs(5)) else {
                given_up[i] = true;
                emit_failed(&v.name, r, "the child never got ready");
                continue;
            };
            let ctl = t.ctl.take().expect("control pipe");
            quiesce(o);
            let c0 = cpu_ns(t.init);
            let t0 = Instant::now();
            // SAFETY: writes one byte from a valid buffer to our pipe end.
            unsafe { libc::write(ctl.as_raw_fd(), b"G".as_ptr().cast(), 1) };
            let done = read_byte(t.report.as_raw_fd(), Duration::from_secs(120)) == Some(b'D');
            let deadline = Instant::now() + Duration::from_secs(10);
            while children(t.init).len() > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let wall = t0.elapsed();
            let settled = settle(t.init, Duration::from_millis(20), Duration::from_secs(1));
            let c1 = cpu_ns(t.init);
            let left = zombies_in_ns(t.init);
            let res = stop_batch(std::slice::from_mut(&mut t), Duration::from_secs(3));
            if left > 0 || !done {
                given_up[i] = true;
            }
            emit(
                &v.name,
                &[
                    ("round", r.to_string()),
                    ("completed", done.to_string()),
                    ("cpu_ns", (c1 - c0).to_string()),
                    ("wall_ns", ns(wall).to_string()),
                    ("zombies_left", left.to_string()),
                    ("exit_code", res[0].1.to_string()),
                    ("settled", settled.to_string()),
                ],
            );
        }
    }
}
