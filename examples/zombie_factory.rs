//! Orphan maker: leaves exited processes behind for the init to reap, showing why a container
//! needs one.
//!
//! ```text
//! zombie_factory N [--wait]
//! zombie_factory --forever [--interval-ms M] [--batch B]
//! ```
//! Forks an intermediate process that forks N grandchildren and exits at once, so the
//! grandchildren are re-parented to the nearest subreaper or PID 1; each grandchild exits as soon
//! as the intermediate is gone. This program never reaps them (they are not its children): it
//! only waits until they have all exited, then prints `orphans exited n=<N>`. Whoever adopted them
//! must reap them, or they stay zombies.
//!
//! With `--wait` it then blocks until stdin reaches EOF or SIGTERM/SIGINT arrives, and exits 0.
//! With `--forever` it makes a batch of B orphans (default 5) every M ms (default 200), printing
//! `orphans exited n=<B> total=<T>` per batch, until SIGTERM or SIGINT (exit 0).
#![allow(unsafe_code)] // fork() is unsafe in nix; this program is single-threaded while forking.

#[path = "common/mod.rs"]
mod common;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Duration;

use common::{say, warn};
use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, pipe};

/// How often a failed fork is retried before giving up.
const FORK_RETRIES: u32 = 8;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut count: Option<usize> = None;
    let mut wait = false;
    let mut forever = false;
    let mut interval_ms: u64 = 200;
    let mut batch: usize = 5;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--wait" => wait = true,
            "--forever" => forever = true,
            "--interval-ms" => interval_ms = number(args.next(), &arg),
            "--batch" => batch = number(args.next(), &arg),
            _ if count.is_none() && !arg.starts_with('-') => count = Some(number(Some(arg), "N")),
            _ => usage(&format!("unknown argument {arg:?}")),
        }
    }

    // Block SIGTERM/SIGINT before forking so they wait for us between batches; children
    // inherit the mask, which is harmless because they exit on their own.
    let stop = [libc::SIGTERM, libc::SIGINT];
    if (forever || wait)
        && let Err(e) = common::mask(libc::SIG_BLOCK, &stop)
    {
        fail(&format!("sigprocmask: {e}"));
    }
    let stop_set = common::sigset(&stop);

    if forever {
        let mut total: u64 = 0;
        loop {
            make_orphans(batch);
            total += batch as u64;
            say(&format!("orphans exited n={batch} total={total}"));
            let pause = Duration::from_millis(interval_ms);
            if common::wait_signal(&stop_set, Some(pause)).is_some() {
                std::process::exit(0);
            }
        }
    }

    let Some(n) = count else {
        usage("N is required")
    };
    make_orphans(n);
    say(&format!("orphans exited n={n}"));
    if wait {
        // Returns on EOF of stdin; the signal wait below runs in the main thread.
        std::thread::spawn(|| {
            let mut sink = [0u8; 512];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
        let _ = common::wait_signal(&stop_set, None);
    }
}

/// Makes `n` orphans and returns once all of them have exited (not been reaped).
fn make_orphans(n: usize) {
    // `done`: every grandchild holds a write end; EOF on the read end means all have exited.
    let (done_r, done_w) = pipe().unwrap_or_else(|e| fail(&format!("pipe: {e}")));
    let intermediate = match fork_retrying() {
        ForkResult::Child => {
            drop(done_r);
            intermediate(n, done_w)
        }
        ForkResult::Parent { child } => child,
    };
    drop(done_w);
    let status = loop {
        match waitpid(intermediate, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    if !matches!(status, Ok(WaitStatus::Exited(_, 0))) {
        fail(&format!("intermediate process failed: {status:?}"));
    }
    let mut sink = [0u8; 64];
    let mut done = std::fs::File::from(done_r);
    while matches!(done.read(&mut sink), Ok(n) if n > 0) {}
}

/// The intermediate process: forks `n` grandchildren, then exits so they become orphans.
fn intermediate(n: usize, done_w: OwnedFd) -> ! {
    // `release`: grandchildren block reading it until the intermediate exits and closes it.
    let (release_r, release_w) = pipe().unwrap_or_else(|e| child_fail(&format!("pipe: {e}")));
    for _ in 0..n {
        if let ForkResult::Child = fork_retrying_in_child() {
            drop(release_w);
            let mut sink = [0u8; 8];
            let mut release = std::fs::File::from(release_r);
            while matches!(release.read(&mut sink), Ok(n) if n > 0) {}
            drop(done_w);
            // SAFETY: `_exit` ends the process without running atexit handlers or destructors,
            // which belong to the parent.
            unsafe { libc::_exit(0) }
        }
    }
    // SAFETY: as above; exiting closes `release_w`, which lets every grandchild go.
    unsafe { libc::_exit(0) }
}

/// `fork()` with a few retries on EAGAIN/ENOMEM; exits 1 in the calling process when it gives up.
fn fork_retrying() -> ForkResult {
    try_fork().unwrap_or_else(|e| fail(&format!("fork: {e}")))
}

/// Like `fork_retrying`, but gives up with `_exit` (we are a forked child).
fn fork_retrying_in_child() -> ForkResult {
    try_fork().unwrap_or_else(|e| child_fail(&format!("fork: {e}")))
}

/// Forks, retrying with a growing back-off when the system is temporarily out of processes.
fn try_fork() -> Result<ForkResult, Errno> {
    let mut backoff = Duration::from_millis(5);
    let mut attempt = 0;
    loop {
        // SAFETY: this program is single-threaded whenever it forks (the stdin thread of `--wait`
        // starts only after the last fork), so the child may run arbitrary code.
        match unsafe { fork() } {
            Err(e @ (Errno::EAGAIN | Errno::ENOMEM)) if attempt < FORK_RETRIES => {
                warn("zombie_factory", &format!("fork: {e}, retrying"));
                std::thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Parses a non-negative number argument.
fn number<T: std::str::FromStr>(value: Option<String>, what: &str) -> T {
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| usage(&format!("{what} needs a number")))
}

/// Reports a fatal error and exits 1.
fn fail(problem: &str) -> ! {
    warn("zombie_factory", problem);
    std::process::exit(1);
}

/// Reports a fatal error in a forked child and leaves with `_exit(1)`.
fn child_fail(problem: &str) -> ! {
    warn("zombie_factory", problem);
    // SAFETY: ends the forked child without running the parent's exit handlers.
    unsafe { libc::_exit(1) }
}

/// Prints usage to stderr and exits 2.
fn usage(problem: &str) -> ! {
    warn(
        "zombie_factory",
        &format!(
            "{problem}\nusage: zombie_factory N [--wait]\n       zombie_factory --forever [--interval-ms M] [--batch B]"
        ),
    );
    std::process::exit(2);
}
