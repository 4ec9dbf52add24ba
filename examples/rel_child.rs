//! Reliability workload: a main child that does the unusual things a real program may do, to show
//! they do not disturb pidone.
//!
//! ```text
//! rel_child [--setsid] [--try-root] [--try-forks N] [--close-fds]
//! ```
//! In this order: `--setsid` leaves its process group (joining its parent's) and becomes a session
//! leader; it prints `ready pid=<pid> ppid=<ppid> pgid=<pgid> sid=<sid>`; `--try-root` prints the
//! `Uid:`, `Gid:`, `Groups:`, `CapPrm:` and `CapEff:` lines of /proc/self/status and then
//! `root setuid=<ok|errno> setgid=.. setgroups=.. setresuid=..` for attempts to regain root;
//! `--try-forks N` tries N forks and prints `forks ok=<n> failed=<n> error=<last error|none>`;
//! `--close-fds` closes every descriptor, 0-2 included (nothing is printed after that).
//! Then it waits for signals (all catchable ones blocked except SIGCHLD): each one is printed as
//! `signal <n>` (while stdout is open); SIGUSR2 also makes one orphan (an intermediate process
//! forks a grandchild that exits at once, then exits itself). On SIGTERM it exits with the number
//! of other signals it received (at most 200).
#![allow(unsafe_code)] // fork, setsid, setuid, close_range: raw libc calls.

#[path = "common/mod.rs"]
mod common;

use common::{say, warn};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, getpgrp, getpid, getppid, getsid, setpgid, setsid};

fn main() {
    let mut do_setsid = false;
    let mut try_root = false;
    let mut forks: Option<u32> = None;
    let mut close_fds = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--setsid" => do_setsid = true,
            "--try-root" => try_root = true,
            "--close-fds" => close_fds = true,
            "--try-forks" => forks = args.next().and_then(|v| v.parse().ok()),
            _ => {
                warn(
                    "rel_child",
                    "usage: rel_child [--setsid] [--try-root] [--try-forks N] [--close-fds]",
                );
                std::process::exit(2);
            }
        }
    }
    let sigs: Vec<i32> = common::catchable()
        .into_iter()
        .filter(|&s| s != libc::SIGCHLD)
        .collect();
    if let Err(e) = common::mask(libc::SIG_BLOCK, &sigs) {
        warn("rel_child", &format!("sigprocmask: {e}"));
        std::process::exit(1);
    }
    if do_setsid {
        // A process group leader cannot call setsid(): join the parent's group first (same
        // session), then start a new session (and group) of our own.
        let parent_group = nix::unistd::getpgid(Some(getppid()));
        let joined = parent_group.and_then(|g| setpgid(getpid(), g));
        if let Err(e) = joined.and_then(|()| setsid().map(drop)) {
            warn("rel_child", &format!("setsid: {e}"));
            std::process::exit(1);
        }
    }
    let sid = getsid(None).map_or(-1, |p| p.as_raw());
    say(&format!(
        "ready pid={} ppid={} pgid={} sid={sid}",
        getpid(),
        getppid(),
        getpgrp()
    ));
    if try_root {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        for line in status.lines().filter(|l| {
            ["Uid:", "Gid:", "Groups:", "CapPrm:", "CapEff:"]
                .iter()
                .any(|k| l.starts_with(k))
        }) {
            say(line);
        }
        let outcome = |rc: i32| {
            if rc == 0 {
                "ok".to_string()
            } else {
                errno_name()
            }
        };
        // SAFETY: plain integer arguments; each call only changes this process's credentials.
        let setuid = outcome(unsafe { libc::setuid(0) });
        // SAFETY: as above.
        let setgid = outcome(unsafe { libc::setgid(0) });
        let zero: libc::gid_t = 0;
        // SAFETY: the kernel reads one gid from a valid pointer.
        let setgroups = outcome(unsafe { libc::setgroups(1, &zero) });
        // SAFETY: plain integer arguments.
        let setresuid = outcome(unsafe { libc::setresuid(0, 0, 0) });
        say(&format!(
            "root setuid={setuid} setgid={setgid} setgroups={setgroups} setresuid={setresuid}"
        ));
    }
    if let Some(n) = forks {
        let (mut ok, mut failed, mut error) = (0, 0, "none".to_string());
        for _ in 0..n {
            // SAFETY: single-threaded; the child only calls _exit.
            match unsafe { fork() } {
                // SAFETY: leaves the forked child at once.
                Ok(ForkResult::Child) => unsafe { libc::_exit(0) },
                Ok(ForkResult::Parent { child }) => {
                    ok += 1;
                    let _ = waitpid(child, None);
                }
                Err(e) => {
                    failed += 1;
                    error = format!("{e:?}");
                }
            }
        }
        say(&format!("forks ok={ok} failed={failed} error={error}"));
    }
    if close_fds {
        // SAFETY: close_range only closes descriptors; it touches no memory.
        unsafe { libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) };
    }
    let set = common::sigset(&sigs);
    let mut received: i32 = 0;
    loop {
        let Some(sig) = common::wait_signal(&set, None) else {
            std::process::exit(1);
        };
        if !close_fds {
            say(&format!("signal {sig}"));
        }
        if sig == libc::SIGTERM {
            std::process::exit(received.min(200));
        }
        received += 1;
        if sig == libc::SIGUSR2 {
            make_orphan();
        }
    }
}

/// Forks an intermediate that forks a grandchild and exits; the grandchild exits at once.
fn make_orphan() {
    // SAFETY: single-threaded; the children only fork and _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: as above.
            let _ = unsafe { fork() };
            // SAFETY: leaves the forked child (and the grandchild) at once.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = waitpid(child, None);
        }
        Err(_) => {}
    }
}

fn errno_name() -> String {
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EPERM) => "EPERM".to_string(),
        Some(libc::EINVAL) => "EINVAL".to_string(),
        _ => error.to_string(),
    }
}
