//! A stubborn program: ignores SIGTERM (and SIGINT with `--ignore-int`), so only a SIGKILL, for
//! example from pidone's `--grace-period` escalation, stops it.
//!
//! ```text
//! ignore_term [--ignore-int]
//! ```
//! Prints `ready pid=<pid>`, then sleeps forever; SIGUSR1 makes it exit 0.

#[path = "common/mod.rs"]
mod common;

use common::{say, warn};

fn main() {
    let mut ignored = vec![libc::SIGTERM];
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--ignore-int" => ignored.push(libc::SIGINT),
            _ => {
                warn(
                    "ignore_term",
                    &format!("unknown argument {arg:?}\nusage: ignore_term [--ignore-int]"),
                );
                std::process::exit(2);
            }
        }
    }
    for &sig in &ignored {
        if let Err(e) = common::set_disposition(sig, libc::SIG_IGN) {
            warn("ignore_term", &format!("sigaction: {e}"));
            std::process::exit(1);
        }
    }
    // SIGUSR1 is the way out: block it and wait for it; every other signal keeps its default.
    if let Err(e) = common::mask(libc::SIG_BLOCK, &[libc::SIGUSR1]) {
        warn("ignore_term", &format!("sigprocmask: {e}"));
        std::process::exit(1);
    }
    say(&format!("ready pid={}", std::process::id()));
    let usr1 = common::sigset(&[libc::SIGUSR1]);
    while common::wait_signal(&usr1, None) != Some(libc::SIGUSR1) {}
    std::process::exit(0);
}
