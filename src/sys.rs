//! Every system call that needs `unsafe`, each behind a small safe function.
//!
//! This is the only module allowed to use `unsafe`; each block says why its preconditions hold.
//! Signals are handled as raw numbers and raw 64-bit kernel masks because pidone must block and
//! forward all 62 blockable signals, including 32..=34, which musl's `sigset_t` helpers refuse.
#![allow(unsafe_code)]

use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char, c_int};
use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicI32, Ordering};
use core::time::Duration;

use crate::signals::SignalSet;

/// A raw descriptor number.
pub type RawFd = c_int;

/// An OS error number (`errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
        Errno(unsafe { *libc::__errno_location() })
    }
}

impl fmt::Display for Errno {
    /// The C library's message for the error, e.g. `No such file or directory`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: strerror returns a pointer to a NUL-terminated static string (musl never
        // returns null); pidone is single-threaded, so no other call can overwrite it meanwhile.
        let text = unsafe { CStr::from_ptr(libc::strerror(self.0)) };
        f.write_str(&text.to_string_lossy())
    }
}

/// An owned descriptor, closed when dropped.
#[derive(Debug)]
pub struct Fd(RawFd);

impl Fd {
    /// The descriptor number.
    pub fn raw(&self) -> RawFd {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once.
        unsafe { libc::close(self.0) };
    }
}

/// Copies the C `argv` into owned strings.
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

unsafe extern "C" {
    /// The C library's environment array (NULL-terminated `NAME=value` strings).
    static environ: *const *const c_char;
}

/// The entries (`NAME=value`) of pidone's environment whose name starts with one of `prefixes`,
/// read in one pass without copying the rest.
pub fn environment_with_prefixes(prefixes: &[&str]) -> Vec<&'static [u8]> {
    let mut found = Vec::new();
    // SAFETY: `environ` is set up by the C runtime before main and pidone never modifies its
    // environment, so the array and its strings stay valid and unchanged for the whole process.
    let mut entry = unsafe { environ };
    while !entry.is_null() {
        // SAFETY: `entry` points into the NULL-terminated array (checked non-null above and
        // advanced only while the current element is non-null).
        let ptr = unsafe { *entry };
        if ptr.is_null() {
            break;
        }
        // SAFETY: each element is a valid NUL-terminated string that lives as long as the process.
        let bytes: &'static [u8] = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        if prefixes
            .iter()
            .any(|prefix| bytes.starts_with(prefix.as_bytes()))
        {
            found.push(bytes);
        }
        // SAFETY: the current element is non-null, so the next one is still inside the array.
        entry = unsafe { entry.add(1) };
    }
    found
}

/// The value of environment variable `name`, if set.
pub fn env_var(name: &str) -> Option<&'static [u8]> {
    value_in(&environment_with_prefixes(&[name]), name)
}

/// The value of `name` among `NAME=value` entries (e.g. a snapshot from
/// [`environment_with_prefixes`]).
pub fn value_in(entries: &[&'static [u8]], name: &str) -> Option<&'static [u8]> {
    entries
        .iter()
        .find_map(|entry| entry.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
}

/// Every `NAME=value` entry of pidone's environment, in order.
pub fn environment() -> Vec<&'static [u8]> {
    environment_with_prefixes(&[""])
}

/// Reads a whole file (e.g. /etc/passwd, `/proc/<pid>/stat`).
pub fn read_file(path: &CStr) -> Result<Vec<u8>, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = Fd(check(unsafe {
        libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC)
    })?);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // SAFETY: `chunk` is a writable buffer of its length.
        let n = unsafe { libc::read(fd.raw(), chunk.as_mut_ptr().cast(), chunk.len()) };
        match usize::try_from(n) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(_) if Errno::last().0 == libc::EINTR => {}
            Err(_) => return Err(Errno::last()),
        }
    }
}

/// The numeric entries of a directory (pids in /proc, descriptors in /proc/self/fd).
pub fn numeric_entries(path: &CStr) -> Result<Vec<i32>, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let dir = unsafe { libc::opendir(path.as_ptr()) };
    if dir.is_null() {
        return Err(Errno::last());
    }
    let mut found = Vec::new();
    loop {
        // SAFETY: `dir` is an open directory stream until closedir below.
        let entry = unsafe { libc::readdir(dir) };
        if entry.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if let Some(number) = core::str::from_utf8(name.to_bytes())
            .ok()
            .and_then(|n| n.parse().ok())
        {
            found.push(number);
        }
    }
    // SAFETY: `dir` is open and closed exactly once.
    unsafe { libc::closedir(dir) };
    Ok(found)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut now = MaybeUninit::<libc::timespec>::zeroed();
    // SAFETY: `now` is valid for writing one timespec; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(id, now.as_mut_ptr()) };
    // SAFETY: zero-initialised and possibly filled by clock_gettime: a valid timespec either way.
    let now = unsafe { now.assume_init() };
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Time on the monotonic clock (for timers).
pub fn monotonic_now() -> Duration {
    clock(libc::CLOCK_MONOTONIC)
}

/// Time since the Unix epoch (for log timestamps).
pub fn realtime_now() -> Duration {
    clock(libc::CLOCK_REALTIME)
}

/// Waits until `fd` is readable or `timeout` passes; true if readable (or interrupted).
pub fn wait_readable(fd: &Fd, timeout: Duration) -> bool {
    let millis = timeout.as_millis().saturating_add(1).min(i32::MAX as u128) as c_int;
    let mut poll_fd = libc::pollfd {
        fd: fd.raw(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut poll_fd, 1, millis) != 0 }
}

/// Moves pidone's working directory to `/`, so it never pins a mount.
pub fn chdir_root() -> Result<(), Errno> {
    // SAFETY: a static NUL-terminated path.
    check(unsafe { libc::chdir(c"/".as_ptr()) }).map(drop)
}

/// Ends pidone at once with `code`: no destructors, no atexit handlers, nothing left to flush
/// (every log line is a direct `write`). This is the exit path after the main child is reaped,
/// so the container stops without any work that does not matter any more.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

/// The process id of pidone, read once.
pub fn own_pid() -> i32 {
    static PID: AtomicI32 = AtomicI32::new(0);
    match PID.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: getpid has no preconditions and cannot fail.
            let pid = unsafe { libc::getpid() };
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// Writes all of `bytes` to `fd`, giving up silently on any error (EPIPE, EBADF, ...).
pub fn write_all_ignoring_errors(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of `bytes.len()` bytes.
        let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(_) if Errno::last().0 == libc::EINTR => {}
            Err(_) => return,
        }
    }
}

fn check(ret: c_int) -> Result<c_int, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Replaces the signal mask with `set` and returns the mask pidone inherited.
pub fn set_signal_mask(set: SignalSet) -> Result<SignalSet, Errno> {
    let new = set.0;
    let mut old: u64 = 0;
    // SAFETY: the kernel reads 8 bytes from `new` and writes 8 bytes to `old`, both valid u64s;
    // the raw syscall is used so that signals 32..=34 (hidden by musl) are included.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &new as *const u64,
            &mut old as *mut u64,
            8usize,
        )
    };
    check(ret as c_int)?;
    Ok(SignalSet(old))
}

/// Returns true if SIGCHLD's disposition is SIG_IGN (children would be reaped by the kernel and
/// their statuses lost); in that case it is reset to SIG_DFL.
pub fn reset_ignored_sigchld() -> Result<bool, Errno> {
    let mut current = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries; `current` is valid for writing one sigaction.
    check(unsafe { libc::sigaction(libc::SIGCHLD, core::ptr::null(), current.as_mut_ptr()) })?;
    // SAFETY: sigaction succeeded and filled `current` (it was zero-initialised anyway).
    let current = unsafe { current.assume_init() };
    if current.sa_sigaction != libc::SIG_IGN {
        return Ok(false);
    }
    set_disposition(libc::SIGCHLD, libc::SIG_DFL)?;
    Ok(true)
}

fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> Result<(), Errno> {
    // SAFETY: an all-zero sigaction is valid: empty mask, no flags, SIG_DFL.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = handler;
    // SAFETY: `action` is a fully initialised sigaction; SIG_DFL/SIG_IGN are valid handlers.
    check(unsafe { libc::sigaction(sig, &action, core::ptr::null_mut()) })?;
    Ok(())
}

/// Creates a close-on-exec signalfd for `set` (which must already be blocked).
pub fn signalfd(set: SignalSet) -> Result<Fd, Errno> {
    let mask = set.0;
    // SAFETY: the kernel reads an 8-byte mask from a valid u64; -1 asks for a new descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &mask as *const u64,
            8usize,
            libc::SFD_CLOEXEC,
        )
    };
    let fd = check(fd as c_int)?;
    Ok(Fd(fd))
}

/// The parts of a `signalfd_siginfo` pidone acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`: <= 0 when a process sent it, > 0 when the kernel did.
    pub code: i32,
    /// Sender's pid as seen from pidone's namespace (0 when outside it).
    pub sender: i32,
}

/// How many pending signals one `read` drains at most.
pub const SIGNAL_BATCH: usize = 32;

/// Reads up to [`SIGNAL_BATCH`] pending signals in one `read(2)`, blocking until at least one
/// is pending. Returns how many entries of `out` were filled.
pub fn read_signals(fd: &Fd, out: &mut [SignalInfo; SIGNAL_BATCH]) -> Result<usize, Errno> {
    let mut raw = MaybeUninit::<[libc::signalfd_siginfo; SIGNAL_BATCH]>::uninit();
    let size = core::mem::size_of::<libc::signalfd_siginfo>();
    let count = loop {
        // SAFETY: `raw` is a writable buffer of SIGNAL_BATCH * size bytes.
        let n = unsafe { libc::read(fd.raw(), raw.as_mut_ptr().cast(), SIGNAL_BATCH * size) };
        match usize::try_from(n) {
            Ok(n) => break n / size,
            Err(_) => {
                let err = Errno::last();
                if err.0 != libc::EINTR {
                    return Err(err);
                }
            }
        }
    };
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

/// Sends `sig` to `pid` (negative: a process group; -1: every process pidone may signal).
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill has no memory preconditions; any pid/signal value is checked by the kernel.
    check(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// One `waitpid(-1, WNOHANG | __WALL)`: `Ok(Some((pid, status)))` for a reaped child,
/// `Ok(None)` when children exist but none has changed state, `Err(ECHILD)` when none exist.
pub fn reap_one() -> Result<Option<(i32, i32)>, Errno> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid writable int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        match pid {
            0 => return Ok(None),
            -1 => {
                let err = Errno::last();
                if err.0 != libc::EINTR {
                    return Err(err);
                }
            }
            pid => return Ok(Some((pid, status))),
        }
    }
}

/// Registers pidone as child subreaper, so orphans of its tree are reparented to it.
pub fn set_child_subreaper() -> Result<(), Errno> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag; no pointers are involved.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Asks the kernel to send `sig` to pidone when its parent dies.
pub fn set_parent_death_signal(sig: i32) -> Result<(), Errno> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers are involved.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// Returns true if `fd` refers to a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// Gives up pidone's controlling terminal (dumb-init's `TIOCNOTTY`), so that the child can take
/// it in its new session. If pidone leads the session, the kernel sends SIGHUP and SIGCONT to the
/// terminal's foreground group; pidone sees itself as their sender and drops them.
pub fn detach_controlling_tty() -> Result<(), Errno> {
    // SAFETY: TIOCNOTTY takes no argument.
    check(unsafe { libc::ioctl(libc::STDIN_FILENO, libc::TIOCNOTTY) }).map(drop)
}

/// Closes every descriptor >= 3 except `keep` (pidone's signalfd): the child has its own copies,
/// and pidone must not pin files, sockets or pipes it does not use.
pub fn close_inherited_fds(keep: RawFd) {
    let close_range = |first: u32, last: u32| -> bool {
        if first > last {
            return true;
        }
        // SAFETY: close_range only closes descriptors in the range; it touches no memory.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) == 0 }
    };
    let keep = u32::try_from(keep).unwrap_or(u32::MAX);
    if keep >= 3
        && close_range(3, keep.saturating_sub(1))
        && close_range(keep.saturating_add(1), u32::MAX)
    {
        return;
    }
    // Old kernels: close what /proc lists, or a bounded sweep without /proc.
    let fds: Vec<i32> = match numeric_entries(c"/proc/self/fd") {
        Ok(fds) => fds,
        Err(_) => (3..4096).collect(),
    };
    for fd in fds {
        if fd >= 3 && fd as u32 != keep {
            // SAFETY: closing a descriptor number touches no memory; unowned numbers give EBADF.
            unsafe { libc::close(fd) };
        }
    }
}

/// Opens a pidfd for `pid` (stable handle: a recycled pid cannot be signalled through it).
pub fn pidfd_open(pid: i32) -> Result<Fd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    let fd = check(fd as c_int)?;
    Ok(Fd(fd))
}

/// Sends `sig` through a pidfd.
pub fn pidfd_send_signal(pidfd: &Fd, sig: i32) -> Result<(), Errno> {
    // SAFETY: a null siginfo makes the kernel build a SI_USER one; the fd is open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.raw(),
            sig,
            core::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    check(ret as c_int).map(drop)
}

/// How the child joins a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// Own process group in pidone's session (tini, catatonit); made the terminal's foreground
    /// group when stdin is a terminal.
    OwnGroup,
    /// New session (dumb-init), taking stdin's terminal as controlling terminal if it can.
    NewSession,
}

/// The ids the child switches to before exec (`--user`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Target uid.
    pub uid: u32,
    /// Target primary gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Everything the child does between `fork` and `exec`, prepared before forking.
pub struct ChildPlan<'a> {
    /// Program and arguments (`argv[0]` is looked up in PATH like execvp).
    pub argv: &'a [CString],
    /// Complete environment, or `None` to pass pidone's own unchanged.
    pub envp: Option<&'a [CString]>,
    /// Index in `envp` of a `LISTEN_PID` entry to rewrite to the child's own pid.
    pub listen_pid_index: Option<usize>,
    /// Process group or new session.
    pub session: Session,
    /// The signal mask to restore (what pidone inherited).
    pub mask: SignalSet,
    /// Whether pidone inherited SIGCHLD as SIG_IGN (restored in the child).
    pub sigchld_ignored: bool,
    /// Ids to switch to, if any.
    pub credentials: Option<&'a Credentials>,
}

/// The step of child set-up that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStep {
    /// `fork` itself (in pidone).
    Fork,
    /// `setpgid`/`setsid`.
    Session,
    /// Restoring the signal mask or SIGCHLD disposition.
    Signals,
    /// `setgroups`.
    Groups,
    /// `setgid`.
    Gid,
    /// `setuid`.
    Uid,
    /// The drop left a way back to the old ids.
    PartialDrop,
    /// `execvp`.
    Exec,
}

impl ChildStep {
    fn from_byte(byte: u8) -> ChildStep {
        match byte {
            1 => ChildStep::Session,
            2 => ChildStep::Signals,
            3 => ChildStep::Groups,
            4 => ChildStep::Gid,
            5 => ChildStep::Uid,
            6 => ChildStep::PartialDrop,
            _ => ChildStep::Exec,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            ChildStep::Fork => 0,
            ChildStep::Session => 1,
            ChildStep::Signals => 2,
            ChildStep::Groups => 3,
            ChildStep::Gid => 4,
            ChildStep::Uid => 5,
            ChildStep::PartialDrop => 6,
            ChildStep::Exec => 7,
        }
    }
}

/// A failed spawn: which step and the OS error.
#[derive(Debug)]
pub struct SpawnError {
    /// Failed step.
    pub step: ChildStep,
    /// The error the step returned.
    pub error: Errno,
}

/// Forks and execs the child as `plan` says; returns its pid once `exec` has succeeded, or the
/// step that failed (reported by the child through a close-on-exec pipe).
pub fn spawn(plan: &ChildPlan<'_>) -> Result<i32, SpawnError> {
    let fail = |step, error| SpawnError { step, error };
    // Everything the child needs is allocated before fork: the child only makes async-signal-safe
    // calls and writes to memory it owns after the fork.
    let mut argv: Vec<*const c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(core::ptr::null());
    let mut envp: Vec<*const c_char> = match plan.envp {
        Some(entries) => entries.iter().map(|e| e.as_ptr()).collect(),
        None => Vec::new(),
    };
    envp.push(core::ptr::null());
    let mut listen_pid = *b"LISTEN_PID=\0\0\0\0\0\0\0\0\0\0\0\0";
    let groups: Vec<libc::gid_t> = plan
        .credentials
        .map(|c| c.groups.clone())
        .unwrap_or_default();
    let Some(program) = plan.argv.first() else {
        return Err(fail(ChildStep::Exec, Errno(libc::ENOENT)));
    };

    let mut pipe_fds = [0 as c_int; 2];
    // SAFETY: `pipe_fds` is a valid array of two ints for pipe2 to fill.
    check(unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) })
        .map_err(|e| fail(ChildStep::Fork, e))?;
    // pipe2 succeeded: both descriptors are new and owned here.
    let (read_end, write_end) = (Fd(pipe_fds[0]), Fd(pipe_fds[1]));

    // SAFETY: pidone is single-threaded, so the child may run any code; it still restricts itself
    // to async-signal-safe calls and ends in exec or _exit.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(fail(ChildStep::Fork, Errno::last()));
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; `child_setup` never returns.
        unsafe {
            child_setup(
                plan,
                program,
                &argv,
                &mut envp,
                &mut listen_pid,
                &groups,
                write_end.raw(),
            )
        }
    }
    drop(write_end);
    let mut report = [0u8; 5];
    let mut filled = 0;
    while filled < report.len() {
        let rest = report.get_mut(filled..).unwrap_or_default();
        // SAFETY: `rest` is a valid writable buffer of its length.
        let n = unsafe { libc::read(read_end.raw(), rest.as_mut_ptr().cast(), rest.len()) };
        match n {
            0 => break,
            n if n > 0 => filled += n as usize,
            _ if Errno::last().0 == libc::EINTR => {}
            _ => break,
        }
    }
    if filled < report.len() {
        return Ok(pid); // the pipe closed on a successful exec
    }
    // The child failed and has exited: collect it so it does not linger as a zombie.
    let mut status = 0;
    // SAFETY: `status` is a valid writable int; `pid` is our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let [step, e0, e1, e2, e3] = report;
    let errno = i32::from_ne_bytes([e0, e1, e2, e3]);
    Err(fail(ChildStep::from_byte(step), Errno(errno)))
}

/// The child's half of [`spawn`].
///
/// # Safety
/// Must only be called in the child right after `fork`; never returns.
unsafe fn child_setup(
    plan: &ChildPlan<'_>,
    program: &CString,
    argv: &[*const c_char],
    envp: &mut [*const c_char],
    listen_pid: &mut [u8; 23],
    groups: &[libc::gid_t],
    report_fd: RawFd,
) -> ! {
    let report = |step: ChildStep| -> ! {
        let errno = Errno::last().0;
        let [e0, e1, e2, e3] = errno.to_ne_bytes();
        let bytes = [step.to_byte(), e0, e1, e2, e3];
        // SAFETY: write and _exit are async-signal-safe; `bytes` is a valid buffer.
        unsafe {
            libc::write(report_fd, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(if step == ChildStep::Exec { 127 } else { 1 })
        }
    };
    // SAFETY: only async-signal-safe system calls follow, on pointers to memory this process
    // owns (argv/envp arrays and the LISTEN_PID buffer built before fork).
    unsafe {
        match plan.session {
            Session::OwnGroup => {
                if libc::setpgid(0, 0) == -1 {
                    report(ChildStep::Session);
                }
                // Best effort: errors (no terminal, not our terminal) leave the tty as it is.
                // SIGTTOU is still blocked here, so a background tcsetpgrp cannot stop us.
                if libc::isatty(libc::STDIN_FILENO) == 1 {
                    libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
                }
            }
            Session::NewSession => {
                if libc::setsid() == -1 {
                    report(ChildStep::Session);
                }
                if libc::isatty(libc::STDIN_FILENO) == 1 {
                    libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY, 0);
                }
            }
        }
        if let Some(index) = plan.listen_pid_index {
            write_decimal(
                libc::getpid(),
                listen_pid.get_mut(11..22).unwrap_or_default(),
            );
            if let Some(slot) = envp.get_mut(index) {
                *slot = listen_pid.as_ptr().cast();
            }
        }
        if let Some(credentials) = plan.credentials {
            if libc::setgroups(groups.len(), groups.as_ptr()) == -1 {
                report(ChildStep::Groups);
            }
            if libc::setgid(credentials.gid) == -1 {
                report(ChildStep::Gid);
            }
            if libc::setuid(credentials.uid) == -1 {
                report(ChildStep::Uid);
            }
            let (mut r, mut e, mut s) = (0, 0, 0);
            let (mut gr, mut ge, mut gs) = (0, 0, 0);
            if libc::getresuid(&mut r, &mut e, &mut s) == -1
                || libc::getresgid(&mut gr, &mut ge, &mut gs) == -1
                || [r, e, s] != [credentials.uid; 3]
                || [gr, ge, gs] != [credentials.gid; 3]
                || (credentials.uid != 0 && libc::setuid(0) == 0)
            {
                *libc::__errno_location() = libc::EPERM;
                report(ChildStep::PartialDrop);
            }
        }
        if plan.sigchld_ignored {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = libc::SIG_IGN;
            if libc::sigaction(libc::SIGCHLD, &action, core::ptr::null_mut()) == -1 {
                report(ChildStep::Signals);
            }
        }
        let mask = plan.mask.0;
        if libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask as *const u64,
            core::ptr::null_mut::<u64>(),
            8usize,
        ) == -1
        {
            report(ChildStep::Signals);
        }
        if plan.envp.is_some() {
            libc::execvpe(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
        } else {
            libc::execvp(program.as_ptr(), argv.as_ptr());
        }
        report(ChildStep::Exec)
    }
}

/// Writes `value` as decimal digits followed by NUL into `out` (async-signal-safe, no alloc).
fn write_decimal(value: i32, out: &mut [u8]) {
    let mut digits = [0u8; 10];
    let mut n = value.unsigned_abs();
    let mut len = 0;
    loop {
        if let Some(slot) = digits.get_mut(len) {
            *slot = b'0' + (n % 10) as u8;
        }
        len += 1;
        n /= 10;
        if n == 0 || len == digits.len() {
            break;
        }
    }
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = if i < len {
            digits.get(len - 1 - i).copied().unwrap_or(b'0')
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writer_pads_with_nul() {
        let mut out = [0xffu8; 11];
        write_decimal(4_194_304, &mut out);
        assert_eq!(&out, b"4194304\0\0\0\0");
        write_decimal(1, &mut out);
        assert_eq!(&out[..2], b"1\0");
    }
}
