//! Test helper: starts a program with some signals already blocked or ignored, the way a
//! careless parent (or a container runtime) might hand them to pidone.
//!
//! ```text
//! with_mask [--block SIG,SIG...] [--ignore SIG,SIG...] [--raise SIG,SIG...] -- CMD [ARGS...]
//! ```
//! Blocks (sigprocmask) and ignores (SIG_IGN) the given signals, then execs CMD via the PATH.
//! `--raise` sends those (blocked) signals to itself first: they stay pending across the exec,
//! which is how a test delivers a signal "during start-up" without racing.
//! If the exec fails it reports on stderr and exits 127.
//!
//! It has no Rust `main` (`#![no_main]`) because std's start-up code sets SIGPIPE to SIG_IGN,
//! which the exec'd program would inherit.
#![no_main]
#![allow(unsafe_code)] // the C entry point reads the raw argv.

#[path = "common/mod.rs"]
mod common;

use std::ffi::{CString, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

use common::warn;

/// The C entry point, called by the C runtime with the raw arguments.
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
    let args: Vec<std::ffi::OsString> = unsafe { pidone::sys::args_from_c(argc, argv) }
        .into_iter()
        .map(std::os::unix::ffi::OsStringExt::from_vec)
        .collect();
    run(args.into_iter().skip(1).collect())
}

/// Applies the signal state and execs the command; returns only on failure.
fn run(args: Vec<OsString>) -> c_int {
    let mut args = args.into_iter();
    let mut block = Vec::new();
    let mut ignore = Vec::new();
    let mut raise = Vec::new();
    let mut command: Vec<CString> = Vec::new();
    while let Some(arg) = args.next() {
        let list = match arg.to_str() {
            Some("--") => {
                command = args
                    .by_ref()
                    .filter_map(|a| CString::new(a.into_vec()).ok())
                    .collect();
                break;
            }
            Some("--block") => &mut block,
            Some("--ignore") => &mut ignore,
            Some("--raise") => &mut raise,
            _ => return usage(&format!("unknown argument {arg:?}")),
        };
        let value = args.next().unwrap_or_default();
        match value.to_str().and_then(common::parse_sig_list) {
            Some(sigs) => list.extend(sigs),
            None => return usage(&format!("bad signal list {value:?}")),
        }
    }
    let Some(program) = command.first() else {
        return usage("missing command after --");
    };
    for &sig in &ignore {
        if let Err(e) = common::set_disposition(sig, libc::SIG_IGN) {
            warn(
                "with_mask",
                &format!("ignore {}: {e}", common::sig_name(sig)),
            );
            return 1;
        }
    }
    if let Err(e) = common::mask(libc::SIG_BLOCK, &block) {
        warn("with_mask", &format!("sigprocmask: {e}"));
        return 1;
    }
    for &sig in &raise {
        // SAFETY: kill takes plain integers; the signal is blocked, so it only becomes pending.
        if unsafe { libc::kill(libc::getpid(), sig) } != 0 {
            warn(
                "with_mask",
                &format!(
                    "raise {}: {}",
                    common::sig_name(sig),
                    std::io::Error::last_os_error()
                ),
            );
            return 1;
        }
    }
    let Err(e) = nix::unistd::execvp(program, &command);
    warn("with_mask", &format!("cannot execute {program:?}: {e}"));
    127
}

/// Prints usage to stderr and returns exit code 2.
fn usage(problem: &str) -> c_int {
    warn(
        "with_mask",
        &format!(
            "{problem}\nusage: with_mask [--block SIG,...] [--ignore SIG,...] -- CMD [ARGS...]"
        ),
    );
    2
}
