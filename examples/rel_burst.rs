//! Reliability workload: the main child exits at the same instant as N orphans.
//!
//! ```text
//! rel_burst N CODE
//! rel_burst N --kill
//! ```
//! Forks an intermediate process that forks N grandchildren and exits, so they are re-parented to
//! the init (or subreaper) above. Every grandchild blocks reading a pipe whose only write end this
//! process holds, then exits 3. Once the intermediate has been reaped, this process exits with
//! CODE (or SIGKILLs itself with `--kill`): its exit closes the pipe, so the N orphans and the main
//! child die together and the init sees one coalesced burst of SIGCHLD. Nothing is printed.
#![allow(unsafe_code)] // fork() and _exit(); this program is single-threaded while forking.

#[path = "common/mod.rs"]
mod common;

use std::io::Read;

use common::warn;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, pipe};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, how) = match args.as_slice() {
        [n, how] => (n.parse::<usize>().ok(), how.as_str()),
        _ => (None, ""),
    };
    let (Some(n), exit) = (n, how.parse::<i32>().ok()) else {
        fail("usage: rel_burst N (CODE | --kill)");
    };
    if exit.is_none() && how != "--kill" {
        fail("usage: rel_burst N (CODE | --kill)");
    }
    let (release_r, release_w) = pipe().unwrap_or_else(|e| fail(&format!("pipe: {e}")));
    // SAFETY: single-threaded; the child only forks and calls async-signal-safe functions.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(release_w);
            for _ in 0..n {
                // SAFETY: as above.
                if let Ok(ForkResult::Child) = unsafe { fork() } {
                    let mut sink = [0u8; 8];
                    let mut release = std::fs::File::from(release_r);
                    while matches!(release.read(&mut sink), Ok(n) if n > 0) {}
                    // SAFETY: leaves the forked child without running the parent's destructors.
                    unsafe { libc::_exit(3) }
                }
            }
            // SAFETY: as above.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(release_r);
            let _ = waitpid(child, None);
        }
        Err(e) => fail(&format!("fork: {e}")),
    }
    match exit {
        // SAFETY: _exit ends the process at once; the kernel closes `release_w` with it.
        Some(code) => unsafe { libc::_exit(code) },
        None => {
            // SAFETY: kill takes plain integers; SIGKILL ends this process (and closes the pipe).
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            fail("survived SIGKILL");
        }
    }
}

fn fail(problem: &str) -> ! {
    warn("rel_burst", problem);
    std::process::exit(2);
}
