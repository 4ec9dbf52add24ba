//! Signal printer: blocks every catchable signal except SIGCHLD and prints one line per signal
//! it receives, so a test (or you) can see exactly what pidone forwards.
//!
//! ```text
//! sigprint [--exit-on SIG]... [--exit-code-on SIG]...
//! ```
//! Prints `ready pid=<pid> ppid=<ppid> pgid=<pgid> sid=<sid>`, then `signal <number> <NAME>` for
//! every signal (`signal 15 SIGTERM`, `signal 37 SIGRTMIN+3`, kernel numbering). After printing a signal given to
//! `--exit-on` it exits 0; after one given to `--exit-code-on` it exits 128+number, as if that
//! signal had killed it. Without options it runs until SIGKILL.

#[path = "common/mod.rs"]
mod common;

use common::{say, sig_name, warn};
use nix::unistd::{getpgrp, getpid, getppid, getsid};

fn main() {
    // (signal, exit code after printing it)
    let mut exits: Vec<(i32, i32)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let as_if_killed = match arg.as_str() {
            "--exit-on" => false,
            "--exit-code-on" => true,
            _ => usage(&format!("unknown argument {arg:?}")),
        };
        let Some(value) = args.next() else {
            usage(&format!("{arg} needs a signal"))
        };
        let Some(sig) = common::parse_sig(&value) else {
            usage(&format!("unknown signal {value:?}"))
        };
        exits.push((sig, if as_if_killed { 128 + sig } else { 0 }));
    }

    let sigs: Vec<i32> = common::catchable()
        .into_iter()
        .filter(|&s| s != libc::SIGCHLD)
        .collect();
    if let Err(e) = common::mask(libc::SIG_BLOCK, &sigs) {
        warn("sigprint", &format!("sigprocmask: {e}"));
        std::process::exit(1);
    }
    let set = common::sigset(&sigs);

    let sid = getsid(None).map_or(-1, |p| p.as_raw());
    say(&format!(
        "ready pid={} ppid={} pgid={} sid={sid}",
        getpid(),
        getppid(),
        getpgrp()
    ));
    loop {
        let Some(sig) = common::wait_signal(&set, None) else {
            warn(
                "sigprint",
                &format!("sigwaitinfo: {}", std::io::Error::last_os_error()),
            );
            std::process::exit(1);
        };
        say(&format!("signal {sig} {}", sig_name(sig)));
        if let Some((_, code)) = exits.iter().find(|(s, _)| *s == sig) {
            std::process::exit(*code);
        }
    }
}

/// Prints usage to stderr and exits 2.
fn usage(problem: &str) -> ! {
    warn(
        "sigprint",
        &format!("{problem}\nusage: sigprint [--exit-on SIG]... [--exit-code-on SIG]..."),
    );
    std::process::exit(2);
}
