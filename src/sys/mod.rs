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
//! The environment comes from `main`'s third argument ([`environment_from_c`]): the libc crate
//! declares `environ` for glibc only, and `std::env` drops entries without `=`.
//!
//! These modules are the only place allowed to use `unsafe`; each block says why it holds.
#![allow(unsafe_code)]

pub mod fds;
pub mod ids;
pub mod process;
pub mod signals;
pub mod terminal;

use std::ffi::{CStr, c_char, c_int};

use crate::signals::SignalSet;

pub use fds::{StderrWrite, chdir_root, close_inherited_fds, write_stderr_if_room};
pub use ids::Credentials;
pub use nix::errno::Errno;
pub use process::{
    ChildPlan, ChildStep, Session, exit_now, own_pid, parent_pid, process_group_of, reap_one,
    set_child_subreaper, spawn,
};
pub use signals::{
    Received, SIGNAL_BATCH, SignalInfo, SignalSource, kill, pidfd_open, pidfd_send_signal,
    reset_ignored_sigchld, set_parent_death_signal, set_signal_mask,
};
pub use terminal::{detach_controlling_tty, stdin_is_tty};

/// What pidone found when it started, captured first thing in `main`, before anything can wait
/// or fail.
#[derive(Clone, Copy, Debug)]
pub struct Startup {
    /// The signal mask pidone inherited (the child gets it back), or why blocking failed.
    pub inherited_mask: Result<SignalSet, Errno>,
    /// pidone's parent at that moment (0 when it is outside pidone's PID namespace).
    pub parent: i32,
}

impl Startup {
    /// Blocks every blockable signal and records the inherited mask and the parent. The kernel
    /// discards a default-action signal sent to a namespace's PID 1 unless it is blocked, so
    /// from here on no signal sent during start-up (parsing, `--user` look-ups) is lost: it
    /// waits, pending, for the signalfd.
    pub fn begin() -> Startup {
        let inherited_mask = set_signal_mask(SignalSet::blockable());
        Startup {
            inherited_mask,
            parent: parent_pid(),
        }
    }
}

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

/// The C `envp` (main's third argument) as it is: every entry, entries without `=` or with an
/// empty name included, which `std::env::vars_os` drops. Nothing is copied: the strings are the
/// ones the kernel put on the stack, alive for the whole process, and pidone never changes its
/// own environment.
///
/// # Safety
/// `envp` must be null or point to a null-terminated array of valid NUL-terminated strings that
/// stay valid and unchanged for the rest of the process (true of the `envp` the C runtime passes
/// to `main` while nothing calls `setenv` or `putenv`).
pub unsafe fn environment_from_c(envp: *const *const c_char) -> Vec<&'static CStr> {
    if envp.is_null() {
        return Vec::new();
    }
    // SAFETY: the array is null-terminated (caller's contract); counting stops at the null.
    let count = (0..)
        .take_while(|&i| !unsafe { *envp.add(i) }.is_null())
        .count();
    (0..count)
        .map(|i| {
            // SAFETY: entry `i` is below the terminating null, a valid NUL-terminated string that
            // lives, unchanged, for the rest of the process (caller's contract).
            unsafe { CStr::from_ptr(*envp.add(i)) }
        })
        .collect()
}
