//! The `pidone` binary: hands the raw C arguments to the library and exits with what it returns.
//!
//! `#![no_main]` keeps Rust's runtime start-up out of PID 1: std's `lang_start` would set SIGPIPE to
//! `SIG_IGN` and reopen closed standard descriptors before `main`, and pidone must hand the child
//! exactly the dispositions and descriptors it inherited.
#![no_main]

use std::ffi::{c_char, c_int};

/// The C entry point, called by musl's start-up code.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`, alive for the
    // whole process.
    let args = unsafe { pidone::sys::args_from_c(argc, argv) };
    pidone::run(args)
}
