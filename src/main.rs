//! The `pidone` binary: hands the raw C arguments to the library and exits with what it returns.
//!
//! pidone does not link Rust's std (`#![no_std]`): std's panic machinery (backtrace symbolisation,
//! unwinding, demangling) stays linked even with `panic = "abort"` and would double the binary and
//! its resident memory. `#![no_main]` also keeps a runtime start-up out of PID 1: pidone hands the
//! child exactly the signal dispositions and descriptors it inherited.
// `cargo clippy --all-targets` also builds this file as a test harness (with std); the items
// below exist only in the real binary.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use core::ffi::{c_char, c_int};

/// Memory comes from the C library's malloc.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: pidone::sys::LibcAlloc = pidone::sys::LibcAlloc;

/// A bug (there is no panic on purpose) ends pidone visibly: `abort` raises SIGABRT, and as PID 1
/// musl's abort falls back to a crash the kernel cannot ignore.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    pidone::sys::abort()
}

/// Rust's precompiled `alloc` is built for unwinding, so its objects name the unwinder's entry
/// points even though pidone aborts on panic and never unwinds. These stand-ins satisfy the
/// linker; neither can be reached (no unwinding ever starts), and if one were, pidone aborts.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {
    pidone::sys::abort()
}

/// See [`rust_eh_personality`].
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    pidone::sys::abort()
}

/// The C entry point, called by musl's start-up code.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`, alive for the
    // whole process.
    let args = unsafe { pidone::sys::args_from_c(argc, argv) };
    pidone::run(args)
}
