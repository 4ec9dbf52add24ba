//! Prints the process state pidone hands to its child: ids, terminal, signal mask and
//! dispositions, credentials, open descriptors and a few environment variables.
//!
//! ```text
//! status_dump [--wait]
//! ```
//! Output, one item per line:
//! `pid=<pid> pgid=<pgid> sid=<sid> tpgid=<foreground pgrp of fd 0, or -1> cwd=<cwd>`, the raw
//! `SigBlk:`, `SigIgn:`, `Uid:`, `Gid:` and `Groups:` lines of /proc/self/status,
//! `fds=<sorted open descriptors>`, `env HOME=<value or unset>`, `env LISTEN_PID=<value or unset>`
//! and `end`. It then exits 0, or with `--wait` blocks until SIGTERM and then exits 0.
//!
//! It has no Rust `main` (`#![no_main]`): std's start-up code would ignore SIGPIPE and reopen
//! closed standard descriptors, hiding exactly what this program is meant to show.
#![no_main]
#![allow(unsafe_code)] // the C entry point reads the raw argv.

#[path = "common/mod.rs"]
mod common;

use std::ffi::{c_char, c_int};
use std::io::stdin;
use std::os::fd::AsFd;

use common::{say, warn};
use nix::fcntl::{FcntlArg, fcntl};
use nix::unistd::{getpgrp, getpid, getsid, tcgetpgrp};

/// The C entry point, called by the C runtime with the raw arguments.
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
    let args: Vec<std::ffi::OsString> = unsafe { pidone::sys::args_from_c(argc, argv) }
        .into_iter()
        .map(std::os::unix::ffi::OsStringExt::from_vec)
        .collect();
    let wait = match args.get(1).and_then(|a| a.to_str()) {
        None => false,
        Some("--wait") if args.len() == 2 => true,
        Some(_) => {
            warn("status_dump", "usage: status_dump [--wait]");
            return 2;
        }
    };

    let sid = getsid(None).map_or(-1, |p| p.as_raw());
    let tpgid = tcgetpgrp(stdin().as_fd()).map_or(-1, |p| p.as_raw());
    let cwd =
        std::env::current_dir().map_or_else(|e| format!("<{e}>"), |d| d.display().to_string());
    say(&format!(
        "pid={} pgid={} sid={sid} tpgid={tpgid} cwd={cwd}",
        getpid(),
        getpgrp()
    ));

    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for key in ["SigBlk:", "SigIgn:", "Uid:", "Gid:", "Groups:"] {
        match status.lines().find(|l| l.starts_with(key)) {
            Some(line) => say(line),
            None => say(&format!("{key} <missing>")),
        }
    }

    say(&format!("fds={}", open_fds()));
    for var in ["HOME", "LISTEN_PID"] {
        let value = std::env::var(var).unwrap_or_else(|_| "unset".to_string());
        say(&format!("env {var}={value}"));
    }
    say("end");

    if wait {
        let term = [libc::SIGTERM];
        if let Err(e) = common::mask(libc::SIG_BLOCK, &term) {
            warn("status_dump", &format!("sigprocmask: {e}"));
            return 1;
        }
        let set = common::sigset(&term);
        while common::wait_signal(&set, None) != Some(libc::SIGTERM) {}
    }
    0
}

/// The open descriptors, sorted and comma-separated. Reading /proc/self/fd needs a descriptor
/// of its own; it is closed again before the check, so it drops out.
fn open_fds() -> String {
    let listed: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(e) => return format!("<{e}>"),
    };
    let mut open: Vec<i32> = listed
        .into_iter()
        .filter(|&fd| {
            // SAFETY: F_GETFD only queries the descriptor; the borrow does not outlive this call.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            fcntl(fd, FcntlArg::F_GETFD).is_ok()
        })
        .collect();
    open.sort_unstable();
    open.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
