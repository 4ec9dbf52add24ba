//! Helpers shared by the example programs: signal names, line output, raw signal masks.
//!
//! Included with `#[path = "common/mod.rs"] mod common;`; not every example uses every helper.
#![allow(dead_code)]
// Raw `sigset_t` handling: nix's `SigSet` cannot hold real-time signals.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::io::Write;

/// Highest signal number on Linux.
pub const SIG_MAX: c_int = 64;

/// Writes one line to stdout and flushes it at once; write errors (EPIPE...) are ignored.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes one diagnostic line to stderr, prefixed by the program name; errors are ignored.
pub fn warn(prog: &str, line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{prog}: {line}");
    let _ = err.flush();
}

/// The name of signal `sig` in the kernel's numbering, as pidone logs it (`SIGTERM`,
/// `SIGRTMIN+3` for 37): the examples share pidone's signal vocabulary.
pub fn sig_name(sig: c_int) -> String {
    pidone::signals::name(sig).into_owned()
}

/// Parses a signal as pidone does: a number (`15`) or a name with or without `SIG`, in any case
/// (`TERM`, `sigterm`, `RTMIN+3`, `RTMAX-1`).
pub fn parse_sig(text: &str) -> Option<c_int> {
    pidone::signals::parse(text.trim()).ok()
}

/// Parses a comma-separated signal list (`TERM,INT,10`).
pub fn parse_sig_list(text: &str) -> Option<Vec<c_int>> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(parse_sig)
        .collect()
}

/// Every signal a process can catch or block: 1..=64 without SIGKILL and SIGSTOP. This includes
/// 32..SIGRTMIN, which the C libraries reserve for their threads; single-threaded programs may
/// block them (see [`mask`]).
pub fn catchable() -> Vec<c_int> {
    (1..=SIG_MAX)
        .filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
        .collect()
}

/// The signals below SIGRTMIN that the C library reserves for itself (32..SIGRTMIN).
pub fn reserved() -> Vec<c_int> {
    (32..libc::SIGRTMIN()).collect()
}

/// The kernel's 64-bit mask for `sigs`: bit N-1 stands for signal N.
fn kernel_bits(sigs: &[c_int]) -> u64 {
    sigs.iter()
        .filter(|&&s| (1..=SIG_MAX).contains(&s))
        .fold(0, |bits, &s| bits | 1 << (s - 1))
}

/// A signal set holding `sigs`, including the numbers `sigaddset` refuses (32..SIGRTMIN).
pub fn sigset(sigs: &[c_int]) -> libc::sigset_t {
    // SAFETY: an all-zero `sigset_t` is a valid, empty set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: on Linux, glibc's and musl's `sigset_t` are arrays of `unsigned long` (at least
    // 128 bytes, suitably aligned) whose first 64 bits are the kernel mask for signals 1..=64.
    unsafe { (&raw mut set).cast::<u64>().write(kernel_bits(sigs)) };
    set
}

/// Adds `sigs` to (`how = SIG_BLOCK`) or removes them from (`SIG_UNBLOCK`) the calling thread's
/// signal mask. It calls the kernel directly because glibc's wrapper silently drops the reserved
/// signals 32 and 33, and sigprint must block everything it can.
pub fn mask(how: c_int, sigs: &[c_int]) -> std::io::Result<()> {
    let bits = kernel_bits(sigs);
    // SAFETY: rt_sigprocmask reads 8 bytes (the kernel's sigset size) from `bits`, which lives
    // across the call; a null old-set pointer is allowed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &raw const bits,
            std::ptr::null_mut::<u64>(),
            std::mem::size_of::<u64>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sets the disposition of `sig` to `SIG_DFL` or `SIG_IGN` (no handler functions here).
pub fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> std::io::Result<()> {
    // SAFETY: an all-zero `sigaction` is valid (empty mask, no flags) before we fill it in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    // SAFETY: `action` is initialised; `SIG_DFL`/`SIG_IGN` run no code in this process.
    let rc = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Waits for one of the signals in `set` (which must be blocked); `None` on timeout.
/// Interruptions (EINTR) are retried.
pub fn wait_signal(set: &libc::sigset_t, timeout: Option<std::time::Duration>) -> Option<c_int> {
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = match timeout {
            None => {
                // SAFETY: `set` and `info` are valid for the duration of the call.
                unsafe { libc::sigwaitinfo(set, &mut info) }
            }
            Some(t) => {
                // SAFETY: an all-zero `timespec` is valid; both fields are set below.
                let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
                // Capped at a day, which fits every C library's `time_t`.
                ts.tv_sec = t.as_secs().min(86_400).try_into().unwrap_or_default();
                // Below 10^9, so it fits a 32-bit `c_long` (i686) as well as a 64-bit one; `as`
                // because `From<u32>` exists only for the 64-bit one.
                ts.tv_nsec = t.subsec_nanos() as libc::c_long;
                // SAFETY: `set`, `info` and `ts` are valid for the duration of the call.
                unsafe { libc::sigtimedwait(set, &mut info, &ts) }
            }
        };
        if rc > 0 {
            return Some(rc);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            _ => return None,
        }
    }
}
