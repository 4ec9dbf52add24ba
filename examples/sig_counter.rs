//! Signal counter for soak tests: blocks every catchable signal except SIGCHLD and counts what it
//! receives per signal number, printing almost nothing, so a flood of a million signals is not
//! slowed down by one output line per signal (as with `sigprint`).
//!
//! ```text
//! sig_counter [--every N]
//! ```
//! Prints `ready pid=<pid>`; after every N real-time signals (34..=64, default 1000) prints
//! `rt=<real-time signals so far>`, which lets a sender pace itself without sleeping. On SIGTERM
//! it prints `counts total=<T> rt=<R> <signo>=<count>...` (non-zero counts only, SIGTERM itself
//! included) and exits 0.

#[path = "common/mod.rs"]
mod common;

use common::{say, warn};

fn main() {
    let mut every: u64 = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--every", Some(n)) if n > 0 => every = n,
            _ => {
                warn("sig_counter", "usage: sig_counter [--every N]");
                std::process::exit(2);
            }
        }
    }
    let sigs: Vec<i32> = common::catchable()
        .into_iter()
        .filter(|&s| s != libc::SIGCHLD)
        .collect();
    if let Err(e) = common::mask(libc::SIG_BLOCK, &sigs) {
        warn("sig_counter", &format!("sigprocmask: {e}"));
        std::process::exit(1);
    }
    let set = common::sigset(&sigs);
    say(&format!("ready pid={}", std::process::id()));
    let mut counts = [0u64; 65];
    let mut total: u64 = 0;
    let mut rt: u64 = 0;
    loop {
        let Some(sig) = common::wait_signal(&set, None) else {
            warn(
                "sig_counter",
                &format!("sigwaitinfo: {}", std::io::Error::last_os_error()),
            );
            std::process::exit(1);
        };
        if let Some(slot) = usize::try_from(sig).ok().and_then(|i| counts.get_mut(i)) {
            *slot += 1;
        }
        total += 1;
        if (34..=64).contains(&sig) {
            rt += 1;
            if rt.is_multiple_of(every) {
                say(&format!("rt={rt}"));
            }
        }
        if sig == libc::SIGTERM {
            let mut line = format!("counts total={total} rt={rt}");
            for (signo, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                line.push_str(&format!(" {signo}={count}"));
            }
            say(&line);
            std::process::exit(0);
        }
    }
}
