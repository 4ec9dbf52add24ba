//! The program that the benchmark (`bench/run`) runs *under* each init: one binary with a mode per
//! metric, so every init supervises exactly the same child.
//!
//! ```text
//! bench_child ready   REPORT_FD            # write 'R', then sleep forever (SIGTERM kills it)
//! bench_child ignore  REPORT_FD            # ignore SIGTERM, write 'R', sleep forever
//! bench_child respond REPORT_FD            # block SIGUSR1, write 'R', then one byte per SIGUSR1
//! bench_child count   REPORT_FD            # count HUP USR1 USR2 WINCH RT35 until SIGTERM, report
//! bench_child hold    REPORT_FD CTL_FD N   # N orphans that all exit when CTL_FD reaches EOF
//! bench_child storm   REPORT_FD CTL_FD N   # after one byte on CTL_FD, N double-forked orphans
//! ```
//! `REPORT_FD` and `CTL_FD` are inherited pipe ends (the driver puts them at 100 and 101). The
//! child never talks to the init; everything it learns is reported through `REPORT_FD`.
#![allow(
    unsafe_code,
    reason = "fork, sigwaitinfo, raw pipe reads/writes and signal masks have no safe std API"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::ffi::c_int;
use std::process::exit;
use std::time::Duration;

/// The signals of the flood, in the order of the `count` report (35 is glibc's SIGRTMIN+1; the
/// kernel number is used because musl and glibc disagree on what SIGRTMIN is).
const FLOOD_SIGNALS: [(c_int, &str); 5] = [
    (libc::SIGHUP, "HUP"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGWINCH, "WINCH"),
    (35, "RT35"),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fd_arg = |i: usize| -> c_int {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let mode = args.get(1).map_or("", String::as_str);
    match mode {
        "ready" => {
            report(fd_arg(2), b"R");
            sleep_forever();
        }
        "ignore" => {
            // SAFETY: installing SIG_IGN for a catchable signal has no memory-safety preconditions.
            unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
            report(fd_arg(2), b"R");
            sleep_forever();
        }
        "respond" => respond(fd_arg(2)),
        "count" => count(fd_arg(2)),
        "hold" => hold(fd_arg(2), fd_arg(3), count_arg(&args)),
        "storm" => storm(fd_arg(2), fd_arg(3), count_arg(&args)),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: bench_child ready|ignore|respond|count FD | hold|storm FD CTL N");
    exit(2);
}

fn count_arg(args: &[String]) -> usize {
    args.get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage())
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Writes all of `bytes` to `fd`; exits 3 if the reader is gone.
fn report(fd: c_int, bytes: &[u8]) {
    let mut done = 0;
    while done < bytes.len() {
        let rest = &bytes[done..];
        // SAFETY: `rest` is a valid buffer of `rest.len()` bytes; `fd` is an inherited pipe end.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            exit(3);
        }
        done += usize::try_from(n).unwrap_or(0);
    }
}

/// Blocks `signals` and returns the set.
fn block(signals: &[c_int]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid value that sigemptyset then initialises.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t for each call.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

/// Waits for one signal of `set`; `None` on timeout (only when `timeout` is given).
fn wait_signal(set: &libc::sigset_t, timeout: Option<&libc::timespec>) -> Option<c_int> {
    loop {
        // SAFETY: `set` is an initialised sigset_t; a null siginfo pointer is allowed; `timeout`
        // is a valid timespec when given.
        let sig = unsafe {
            match timeout {
                Some(t) => libc::sigtimedwait(set, std::ptr::null_mut(), t),
                None => libc::sigwaitinfo(set, std::ptr::null_mut()),
            }
        };
        if sig > 0 {
            return Some(sig);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {}
            _ => return None,
        }
    }
}

/// Latency responder: one byte on the report pipe per SIGUSR1, as soon as it is dequeued.
fn respond(fd: c_int) -> ! {
    let set = block(&[libc::SIGUSR1]);
    report(fd, b"R");
    loop {
        if wait_signal(&set, None).is_some() {
            report(fd, b"!");
        }
    }
}

/// Flood counter: counts each flood signal; on SIGTERM drains what is still pending and writes
/// `HUP=n USR1=n USR2=n WINCH=n RT35=n\n`, then exits 0.
fn count(fd: c_int) -> ! {
    let mut all: Vec<c_int> = FLOOD_SIGNALS.iter().map(|&(s, _)| s).collect();
    all.push(libc::SIGTERM);
    let set = block(&all);
    report(fd, b"R");
    let mut counts = [0_u64; FLOOD_SIGNALS.len()];
    let tally = |sig: c_int, counts: &mut [u64; FLOOD_SIGNALS.len()]| {
        if let Some(i) = FLOOD_SIGNALS.iter().position(|&(s, _)| s == sig) {
            counts[i] += 1;
        }
    };
    loop {
        let Some(sig) = wait_signal(&set, None) else {
            continue;
        };
        if sig != libc::SIGTERM {
            tally(sig, &mut counts);
            continue;
        }
        // SIGTERM is dequeued before WINCH and the real-time signals: collect what is left.
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while let Some(sig) = wait_signal(&set, Some(&zero)) {
            tally(sig, &mut counts);
        }
        let line: Vec<String> = FLOOD_SIGNALS
            .iter()
            .zip(counts)
            .map(|(&(_, name), n)| format!("{name}={n}"))
            .collect();
        report(fd, format!("{}\n", line.join(" ")).as_bytes());
        exit(0);
    }
}

/// `fork()`; exits 4 if it fails.
fn fork() -> libc::pid_t {
    // SAFETY: this program is single-threaded, so the child may run any code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        exit(4);
    }
    pid
}

/// Waits for `pid` (a direct child).
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
}

/// Blocks until `fd` has a byte or reaches EOF.
fn read_byte(fd: c_int) {
    let mut b = 0_u8;
    loop {
        // SAFETY: `b` is a valid one-byte buffer.
        let n = unsafe { libc::read(fd, (&raw mut b).cast(), 1) };
        if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// `_exit` without running anything of the parent's (no atexit, no stdio flush).
fn quick_exit(code: c_int) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Drain setup: an intermediate process forks N workers and exits, so the workers are orphans
/// adopted by the init; each worker blocks on CTL_FD and exits at its EOF, i.e. all together when
/// the driver closes the write end. 'R' is reported once all N are adopted.
fn hold(fd: c_int, ctl: c_int, n: usize) -> ! {
    let mid = fork();
    if mid == 0 {
        for _ in 0..n {
            if fork() == 0 {
                read_byte(ctl);
                quick_exit(0);
            }
        }
        quick_exit(0);
    }
    reap(mid);
    // SAFETY: closing our own copy of an inherited descriptor.
    unsafe { libc::close(ctl) };
    report(fd, b"R");
    sleep_forever();
}

/// Orphan storm: after one byte on CTL_FD, N times: fork an intermediate that forks a worker and
/// exits at once; the worker exits at once too, so the init adopts and reaps N orphans while they
/// keep coming. 'D' is reported when the last intermediate is reaped.
fn storm(fd: c_int, ctl: c_int, n: usize) -> ! {
    report(fd, b"R");
    read_byte(ctl);
    for _ in 0..n {
        let mid = fork();
        if mid == 0 {
            if fork() == 0 {
                quick_exit(0);
            }
            quick_exit(0);
        }
        reap(mid);
    }
    report(fd, b"D");
    sleep_forever();
}
