//! The `pidone` binary: hands the raw C arguments to the library and exits with what it returns.
//!
//! `#![no_main]`: musl's start-up code calls the C `main` below directly, so Rust's runtime
//! start-up (`lang_start`) never runs. That start-up sets SIGPIPE to SIG_IGN before `main`, and
//! the child would inherit that ignored SIGPIPE: a PID 1 must hand its child exactly the signal
//! dispositions it inherited (docs/design.md, "Why `#![no_main]`", weighs the alternatives).
#![no_main]

use std::ffi::{c_char, c_int};

/// The C entry point, called by musl's start-up code with the arguments and the environment.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // First of all, before anything can wait or fail: block every signal (see `Startup`).
    let startup = pidone::sys::Startup::begin();
    // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`, alive for the
    // whole process.
    let args = unsafe { pidone::sys::args_from_c(argc, argv) };
    // SAFETY: the C runtime passes the environment as a null-terminated array of valid,
    // NUL-terminated strings.
    let environment = unsafe { pidone::sys::environment_from_c(envp) };
    pidone::run(args, environment, startup)
}
