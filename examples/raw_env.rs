//! Test helper for environments that `std::env` and `env(1)` cannot express: entries without
//! `=`, with an empty name, duplicates.
//!
//! ```text
//! raw_env exec ENTRY... -- CMD [ARGS...]   exec CMD (found through PATH) with exactly ENTRY...
//! raw_env print                             print each entry of its own environment, in order,
//!                                           as `env <hex bytes>`, then `end`
//! ```
//! It has no Rust `main` (`#![no_main]`): it reads the raw `envp` the C runtime passes to `main`.
#![no_main]
#![allow(unsafe_code)] // the C entry point reads the raw argv and envp.

#[path = "common/mod.rs"]
mod common;

use std::ffi::{CString, c_char, c_int};

use common::{say, warn};

/// The C entry point, called by the C runtime with the raw arguments and environment.
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
    let args = unsafe { pidone::sys::args_from_c(argc, argv) };
    // SAFETY: the C runtime passes a null-terminated array of NUL-terminated strings.
    let environment = unsafe { pidone::sys::environment_from_c(envp) };
    match args.get(1).map(Vec::as_slice) {
        Some(b"print") => {
            for entry in environment {
                let hex: String = entry
                    .to_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                say(&format!("env {hex}"));
            }
            say("end");
            0
        }
        Some(b"exec") => exec(args.get(2..).unwrap_or_default()),
        _ => {
            warn(
                "raw_env",
                "usage: raw_env exec ENTRY... -- CMD [ARGS...] | raw_env print",
            );
            2
        }
    }
}

/// Execs the command after `--` with the entries before it as its whole environment.
fn exec(args: &[Vec<u8>]) -> c_int {
    let Some(split) = args.iter().position(|a| a == b"--") else {
        warn("raw_env", "exec: missing --");
        return 2;
    };
    let to_c = |list: &[Vec<u8>]| -> Option<Vec<CString>> {
        list.iter().map(|a| CString::new(a.clone()).ok()).collect()
    };
    let (before, after) = args.split_at(split);
    let after = after.get(1..).unwrap_or_default();
    let (Some(entries), Some(command)) = (to_c(before), to_c(after)) else {
        warn("raw_env", "exec: an argument contains a NUL byte");
        return 2;
    };
    let Some(program) = command.first() else {
        warn("raw_env", "exec: missing command");
        return 2;
    };
    let Err(error) = nix::unistd::execvpe(program, &command, &entries);
    warn("raw_env", &format!("exec {program:?}: {error}"));
    127
}
