//! Exits with a chosen code, or dies by a chosen signal, to show how pidone passes the child's
//! fate on as its own exit code (`128 + N` for signal N).
//!
//! ```text
//! exit_with [--after-ms N] CODE
//! exit_with [--after-ms N] --signal SIG
//! ```
//! `CODE` is 0..=255. `--signal` resets SIG to its default action, unblocks it and raises it;
//! if the process is still alive afterwards (PID 1 ignores signals it has no handler for), it
//! exits 100. `--after-ms` sleeps first.

#[path = "common/mod.rs"]
mod common;

use common::warn;

/// Exit code when the process survives its own signal.
const SURVIVED: i32 = 100;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut delay_ms: u64 = 0;
    let mut code: Option<i32> = None;
    let mut signal: Option<i32> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--after-ms" => {
                delay_ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage("--after-ms needs a number"));
            }
            "--signal" => {
                let value = args.next().unwrap_or_default();
                signal = Some(
                    common::parse_sig(&value)
                        .unwrap_or_else(|| usage(&format!("unknown signal {value:?}"))),
                );
            }
            _ => match arg.parse::<i32>() {
                Ok(c) if (0..=255).contains(&c) && code.is_none() => code = Some(c),
                _ => usage(&format!("bad argument {arg:?}")),
            },
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    match (code, signal) {
        (Some(code), None) => std::process::exit(code),
        (None, Some(sig)) => {
            if sig == libc::SIGKILL {
                let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::SIGKILL);
            } else {
                let _ = common::set_disposition(sig, libc::SIG_DFL);
                let _ = common::mask(libc::SIG_UNBLOCK, &[sig]);
                raise(sig);
            }
            std::process::exit(SURVIVED);
        }
        _ => usage("give either CODE or --signal SIG"),
    }
}

/// Sends `sig` to the calling thread.
#[allow(unsafe_code)] // raise() takes any signal number, including real-time ones.
fn raise(sig: i32) {
    // SAFETY: raise has no memory-safety preconditions; the signal's default action applies.
    unsafe { libc::raise(sig) };
}

/// Prints usage to stderr and exits 2.
fn usage(problem: &str) -> ! {
    warn(
        "exit_with",
        &format!("{problem}\nusage: exit_with [--after-ms N] CODE | --signal SIG"),
    );
    std::process::exit(2);
}
