//! Every system call pidone makes, behind small safe functions, one module per concern.
//!
//! nix is used wherever its types can say what pidone must do. libc stays only where they cannot,
//! and each such place names which of these it is in a one-line comment:
//! - masks that include signals 32..=34 (musl's `sigfillset` and `pthread_sigmask` drop them);
//! - `kill`/`killpg`/parent-death signal with real-time signals (nix's `Signal` has none);
//! - the raw wait status (nix's `WaitStatus` returns EINVAL *after* the kernel has reaped a
//!   child killed by a real-time signal, so that status would be lost);
//! - batched signalfd reads;
//! - `pidfd_open`, `pidfd_send_signal` and `close_range`, and `_exit`, which nix does not wrap.
//!
//! These modules are the only place allowed to use `unsafe`; each block says why it holds.
#![allow(unsafe_code)]

pub mod fds;
pub mod ids;
pub mod process;
pub mod signals;
pub mod terminal;

use std::ffi::{CStr, c_char, c_int};

pub use fds::{chdir_root, close_inherited_fds};
pub use ids::Credentials;
pub use nix::errno::Errno;
pub use process::{
    ChildPlan, ChildStep, Session, exit_now, own_pid, reap_one, set_child_subreaper, spawn,
};
pub use signals::{
    Received, SIGNAL_BATCH, SignalInfo, SignalSource, kill, pidfd_open, pidfd_send_signal,
    reset_ignored_sigchld, set_parent_death_signal, set_signal_mask,
};
pub use terminal::{detach_controlling_tty, stdin_is_tty};

/// Copies the C `argv` into owned byte strings (arguments need not be UTF-8).
///
/// # Safety
/// `argv` must point to `argc` pointers, each null or a valid NUL-terminated string.
pub unsafe fn args_from_c(argc: c_int, argv: *const *const c_char) -> Vec<Vec<u8>> {
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: the caller guarantees `argv` holds `argc` readable pointers.
        let ptr = unsafe { *argv.add(i) };
        if ptr.is_null() {
            break;
        }
        // SAFETY: each non-null entry is a valid NUL-terminated string (caller's contract).
        args.push(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec());
    }
    args
}
