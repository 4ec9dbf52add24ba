//! Signal state and delivery: the mask, SIGCHLD's disposition, the signalfd pidone waits on,
//! sending signals (by pid, process group or pidfd) and the parent-death signal.
//!
//! Masks are raw 64-bit kernel masks ([`SignalSet`]): pidone blocks and forwards all 62 blockable
//! signals, and musl's `sigset_t` helpers (which nix's `SigSet` uses) refuse 32..=34.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::time::TimeSpec;

use crate::signals::SignalSet;

/// The size in bytes of the kernel's signal mask (64 signals on every Linux architecture).
const KERNEL_MASK_BYTES: usize = 8;

/// Replaces the signal mask with `set` and returns the mask pidone inherited.
pub fn set_signal_mask(set: SignalSet) -> Result<SignalSet, Errno> {
    let mut old: u64 = 0;
    // libc, not nix: the mask includes signals 32..=34.
    // SAFETY: the kernel reads 8 bytes from `set.0` and writes 8 bytes to `old`, both valid u64s.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &set.0 as *const u64,
            &mut old as *mut u64,
            KERNEL_MASK_BYTES,
        )
    };
    Errno::result(ret)?;
    Ok(SignalSet(old))
}

/// Sets SIGCHLD to SIG_DFL and returns true if it was SIG_IGN (children would have been reaped
/// by the kernel and their statuses lost). A disposition inherited through `exec` is either
/// SIG_DFL or SIG_IGN, so one call both reads and resets it.
pub fn reset_ignored_sigchld() -> Result<bool, Errno> {
    // SAFETY: SIG_DFL installs no handler, so no handler code can run at an unsafe moment.
    let previous = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
    Ok(matches!(previous, SigHandler::SigIgn))
}

/// Sets SIGCHLD back to SIG_IGN (in the child, when pidone inherited it ignored).
pub fn ignore_sigchld() -> Result<(), Errno> {
    // SAFETY: SIG_IGN installs no handler.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.map(drop)
}

/// One received signal: the parts of a `siginfo` pidone acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`: <= 0 when a process sent it, > 0 when the kernel did.
    pub code: i32,
    /// Sender's pid as seen from pidone's namespace (0 when outside it).
    pub sender: i32,
}

/// How many pending signals one wake-up drains at most.
pub const SIGNAL_BATCH: usize = 32;

/// Where pidone's blocked signals are read from: a signalfd, drained up to [`SIGNAL_BATCH`] at a
/// time. If the signalfd ever fails (an error from `poll` or `read` that is not an interruption),
/// the source falls back to `rt_sigtimedwait` on the same set for good: it needs no descriptor,
/// honours the timeout, and never turns a lasting error into a busy loop.
#[derive(Debug)]
pub struct SignalSource {
    fd: Option<OwnedFd>,
    set: SignalSet,
}

/// What one wait produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// This many entries of the batch were filled (0: interrupted, look again).
    Signals(usize),
    /// The timeout passed.
    TimedOut,
    /// The signalfd failed with this error; the source now waits with `rt_sigtimedwait`.
    FellBack(Errno),
}

impl SignalSource {
    /// A close-on-exec signalfd for `set`, which must already be blocked.
    pub fn open(set: SignalSet) -> Result<SignalSource, Errno> {
        // libc, not nix: the mask includes signals 32..=34.
        // SAFETY: the kernel reads an 8-byte mask from a valid u64; -1 asks for a new descriptor.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &set.0 as *const u64,
                KERNEL_MASK_BYTES,
                libc::SFD_CLOEXEC,
            )
        };
        let fd = Errno::result(fd)?;
        // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(SignalSource { fd: Some(fd), set })
    }

    /// A source that reads `set` from `fd`: the unit tests give it a descriptor that fails.
    #[cfg(test)]
    fn from_fd(fd: OwnedFd, set: SignalSet) -> SignalSource {
        SignalSource { fd: Some(fd), set }
    }

    /// The signalfd's number, while there is one (pidone keeps it open when it closes the rest).
    pub fn raw_fd(&self) -> Option<i32> {
        self.fd.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Waits for signals, at most `timeout` (`None`: without a time limit), and fills `out`.
    pub fn wait(
        &mut self,
        out: &mut [SignalInfo; SIGNAL_BATCH],
        timeout: Option<Duration>,
    ) -> Received {
        let Some(fd) = &self.fd else {
            return timed_wait(self.set, out, timeout);
        };
        if let Some(timeout) = timeout {
            // Rounded up, so a deadline is never reported early.
            let millis = timeout.as_millis().saturating_add(1);
            let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) => return Received::TimedOut,
                Ok(_) => {}
                Err(Errno::EINTR) => return Received::Signals(0),
                Err(error) => return self.fall_back(error),
            }
        }
        match read_batch(fd, out) {
            Ok(count) => Received::Signals(count),
            Err(Errno::EINTR | Errno::EAGAIN) => Received::Signals(0),
            Err(error) => self.fall_back(error),
        }
    }

    fn fall_back(&mut self, error: Errno) -> Received {
        self.fd = None;
        Received::FellBack(error)
    }
}

/// One `read(2)` of up to [`SIGNAL_BATCH`] entries from a signalfd.
fn read_batch(fd: &OwnedFd, out: &mut [SignalInfo; SIGNAL_BATCH]) -> Result<usize, Errno> {
    let mut raw = MaybeUninit::<[libc::signalfd_siginfo; SIGNAL_BATCH]>::uninit();
    let size = size_of::<libc::signalfd_siginfo>();
    // libc, not nix: a batched read into kernel structures (nix's SignalFd reads one at a time).
    // SAFETY: `raw` is a writable buffer of SIGNAL_BATCH * size bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), raw.as_mut_ptr().cast(), SIGNAL_BATCH * size) };
    let count = usize::try_from(Errno::result(n)?).unwrap_or(0) / size;
    if count == 0 {
        // A signalfd never reads 0 bytes: this is not a signalfd (or a short buffer).
        return Err(Errno::EINVAL);
    }
    let raw = raw.as_ptr().cast::<libc::signalfd_siginfo>();
    for (i, slot) in out.iter_mut().enumerate().take(count) {
        // SAFETY: the kernel wrote `count` complete entries at the start of the buffer.
        let info = unsafe { raw.add(i).read() };
        *slot = SignalInfo {
            signo: info.ssi_signo as i32,
            code: info.ssi_code,
            sender: info.ssi_pid as i32,
        };
    }
    Ok(count)
}

/// The fallback wait: one signal of `set` via `rt_sigtimedwait`.
fn timed_wait(
    set: SignalSet,
    out: &mut [SignalInfo; SIGNAL_BATCH],
    timeout: Option<Duration>,
) -> Received {
    let limit = timeout.map(TimeSpec::from);
    let limit_ptr = limit
        .as_ref()
        .map_or(std::ptr::null(), |t| t.as_ref() as *const libc::timespec);
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    // libc, not nix: the mask includes signals 32..=34 (nix has no sigtimedwait either).
    // SAFETY: the kernel reads an 8-byte mask and an optional timespec, both valid, and writes
    // one siginfo_t into `info`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            &set.0 as *const u64,
            info.as_mut_ptr(),
            limit_ptr,
            KERNEL_MASK_BYTES,
        )
    };
    match Errno::result(ret) {
        Ok(_) => {
            // SAFETY: zero-initialised, then filled by the kernel.
            let info = unsafe { info.assume_init() };
            // SAFETY: si_pid is meaningful for the codes pidone checks it for (SI_USER and the
            // other process codes); for kernel codes it reads as whatever the kernel left, which
            // pidone only compares with its own pid together with a process code.
            let sender = unsafe { info.si_pid() };
            let Some(slot) = out.first_mut() else {
                return Received::Signals(0);
            };
            *slot = SignalInfo {
                signo: info.si_signo,
                code: info.si_code,
                sender,
            };
            Received::Signals(1)
        }
        Err(Errno::EAGAIN) => Received::TimedOut,
        Err(_) => Received::Signals(0),
    }
}

/// Sends `sig` to `pid` (negative: a process group; -1: every process pidone may signal).
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // libc, not nix: real-time signals (nix's `Signal` has none).
    // SAFETY: kill has no memory preconditions; any pid/signal value is checked by the kernel.
    Errno::result(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Asks the kernel to send `sig` to pidone when its parent dies.
pub fn set_parent_death_signal(sig: i32) -> Result<(), Errno> {
    match Signal::try_from(sig) {
        Ok(standard) => nix::sys::prctl::set_pdeathsig(standard),
        Err(_) => {
            // libc, not nix: a real-time parent-death signal (nix's `Signal` has none).
            // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers are involved.
            let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
            Errno::result(ret).map(drop)
        }
    }
}

/// Opens a pidfd for `pid` (stable handle: a recycled pid cannot be signalled through it).
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // libc, not nix: pidfd_open (nix has no wrapper).
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) })?;
    // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `sig` through a pidfd.
pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> Result<(), Errno> {
    // libc, not nix: pidfd_send_signal (nix has no wrapper).
    // SAFETY: a null siginfo makes the kernel build a SI_USER one; the fd is open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    Errno::result(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose descriptor fails (here: /dev/null reads 0 bytes, which no signalfd does)
    /// falls back to `rt_sigtimedwait` at once: the next waits still honour their timeout and
    /// still receive signals, instead of failing again and again in a busy loop.
    #[test]
    fn a_failing_signalfd_falls_back_to_timed_waits() {
        let mut set = SignalSet::EMPTY;
        set.insert(libc::SIGUSR2);
        // Blocked in this test thread only; raise() directs the signal to this thread.
        let old = set_signal_mask_for_thread(set);
        let null = std::fs::File::open("/dev/null").map(OwnedFd::from);
        let Ok(null) = null else {
            panic!("/dev/null");
        };
        let mut source = SignalSource::from_fd(null, set);
        let mut out = [SignalInfo::default(); SIGNAL_BATCH];
        let first = source.wait(&mut out, None);
        assert_eq!(first, Received::FellBack(Errno::EINVAL));
        assert_eq!(source.raw_fd(), None);
        let started = std::time::Instant::now();
        let timed_out = source.wait(&mut out, Some(Duration::from_millis(50)));
        assert_eq!(timed_out, Received::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
        // SAFETY: raise has no preconditions; SIGUSR2 is blocked, so it stays pending.
        unsafe { libc::raise(libc::SIGUSR2) };
        let got = source.wait(&mut out, Some(Duration::from_secs(5)));
        assert_eq!(got, Received::Signals(1));
        assert_eq!(out[0].signo, libc::SIGUSR2);
        set_signal_mask_for_thread(old);
    }

    fn set_signal_mask_for_thread(set: SignalSet) -> SignalSet {
        match set_signal_mask(set) {
            Ok(old) => old,
            Err(error) => panic!("rt_sigprocmask: {error}"),
        }
    }
}
