//! Processes: spawning the main child (fork, its set-up, exec), reaping, the subreaper flag,
//! pidone's own pid and its exit.

use std::convert::Infallible;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{AccessFlags, ForkResult, Pid, access, execv, execve, execvp, execvpe, fork};

use super::ids::{self, Credentials, IdStep};
use super::{signals, terminal};
use crate::environment::ChildEnvironment;
use crate::signals::SignalSet;

/// pidone's process id.
pub fn own_pid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// pidone's parent process id (0 when the parent is outside pidone's PID namespace).
pub fn parent_pid() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// The process group of `pid`, or why it cannot be read (ESRCH: gone).
pub fn process_group_of(pid: i32) -> Result<i32, Errno> {
    nix::unistd::getpgid(Some(Pid::from_raw(pid))).map(Pid::as_raw)
}

/// Ends the process at once with `code`: no atexit handlers, nothing to flush (every log line
/// is written directly). pidone's exit once the main child is reaped, and the forked child's exit
/// when its set-up fails (where running the parent's atexit handlers would be wrong).
pub fn exit_now(code: i32) -> ! {
    // libc, not nix: _exit (nix has no wrapper).
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

/// Registers pidone as child subreaper, so orphans of its tree are reparented to it.
pub fn set_child_subreaper() -> Result<(), Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// One `waitpid(-1, WNOHANG | __WALL)`: `Ok(Some((pid, raw status)))` for a reaped child,
/// `Ok(None)` when children exist but none has changed state, `Err(ECHILD)` when none exist.
pub fn reap_one() -> Result<Option<(i32, i32)>, Errno> {
    let mut status: libc::c_int = 0;
    loop {
        // libc, not nix: the raw wait status (nix's WaitStatus fails with EINVAL on a child
        // killed by a real-time signal, after the kernel has already reaped it).
        // SAFETY: `status` is a valid writable int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        match Errno::result(pid) {
            Ok(0) => return Ok(None),
            Ok(pid) => return Ok(Some((pid, status))),
            Err(Errno::EINTR) => {}
            Err(error) => return Err(error),
        }
    }
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

/// Everything the child does between `fork` and `exec`, prepared before forking.
pub struct ChildPlan<'a> {
    /// Program and arguments (`argv[0]` is looked up in PATH like execvp).
    pub argv: &'a [CString],
    /// The child's environment, or `None` to pass pidone's own unchanged.
    pub environment: Option<&'a ChildEnvironment>,
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
    /// Switching ids (`--user`).
    Ids(IdStep),
    /// `execvp`.
    Exec,
}

impl ChildStep {
    /// The step as one byte on the report pipe.
    fn to_byte(self) -> u8 {
        match self {
            ChildStep::Fork => 0,
            ChildStep::Session => 1,
            ChildStep::Signals => 2,
            ChildStep::Ids(IdStep::Groups) => 3,
            ChildStep::Ids(IdStep::GroupsDenied) => 4,
            ChildStep::Ids(IdStep::Gid) => 5,
            ChildStep::Ids(IdStep::Uid) => 6,
            ChildStep::Ids(IdStep::PartialDrop) => 7,
            ChildStep::Exec => 8,
        }
    }

    /// The step a report byte names; an unknown byte (which the child never writes) is read as
    /// the exec step, whose exit code depends only on the errno.
    fn from_byte(byte: u8) -> ChildStep {
        match byte {
            0 => ChildStep::Fork,
            1 => ChildStep::Session,
            2 => ChildStep::Signals,
            3 => ChildStep::Ids(IdStep::Groups),
            4 => ChildStep::Ids(IdStep::GroupsDenied),
            5 => ChildStep::Ids(IdStep::Gid),
            6 => ChildStep::Ids(IdStep::Uid),
            7 => ChildStep::Ids(IdStep::PartialDrop),
            _ => ChildStep::Exec,
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
    let Some(program) = plan.argv.first() else {
        return Err(fail(ChildStep::Exec, Errno::ENOENT));
    };
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fail(ChildStep::Fork, e))?;
    // SAFETY: pidone is single-threaded, so the child inherits a consistent process (allocator
    // included) and may run ordinary code; it ends in exec or _exit.
    match unsafe { fork() }.map_err(|e| fail(ChildStep::Fork, e))? {
        ForkResult::Child => {
            drop(read_end);
            let (step, error) = child_setup(plan, program);
            report_and_exit(&write_end, step, error)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            match read_report(&read_end) {
                None => Ok(child.as_raw()), // the pipe closed on a successful exec
                Some((step, error)) => {
                    // The child failed and has exited: collect it so it is no zombie.
                    let _ = nix::sys::wait::waitpid(child, None);
                    Err(fail(step, error))
                }
            }
        }
    }
}

/// Reads the child's 5-byte failure report; `None` when the pipe closed without one.
fn read_report(read_end: &OwnedFd) -> Option<(ChildStep, Errno)> {
    let mut report = [0u8; 5];
    let mut filled = 0;
    while let Some(rest) = report.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match nix::unistd::read(read_end.as_fd(), rest) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
    let [step, e0, e1, e2, e3] = report;
    let errno = Errno::from_raw(i32::from_ne_bytes([e0, e1, e2, e3]));
    Some((ChildStep::from_byte(step), errno))
}

/// In the child: tells pidone which step failed, then exits (127 for exec, like a shell).
fn report_and_exit(report: &OwnedFd, step: ChildStep, error: Errno) -> ! {
    let [e0, e1, e2, e3] = (error as i32).to_ne_bytes();
    let _ = nix::unistd::write(report.as_fd(), &[step.to_byte(), e0, e1, e2, e3]);
    exit_now(if step == ChildStep::Exec { 127 } else { 1 })
}

/// The child's half of [`spawn`]: returns only on failure, with the failed step. It allocates
/// (the environment's pointer array, and nix's exec calls do too), which is sound after `fork`
/// because pidone is single-threaded: no other thread can hold the allocator's lock.
fn child_setup(plan: &ChildPlan<'_>, program: &CString) -> (ChildStep, Errno) {
    let session = match plan.session {
        Session::OwnGroup => nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))
            .map(|()| terminal::take_foreground()),
        Session::NewSession => nix::unistd::setsid().map(|_| terminal::take_controlling_terminal()),
    };
    if let Err(error) = session {
        return (ChildStep::Session, error);
    }
    // The child's own pid is known only here, after the fork (LISTEN_PID).
    let environment = plan.environment.map(|env| env.for_child(own_pid()));
    if let Some(credentials) = plan.credentials
        && let Err((step, error)) = ids::switch_to(credentials)
    {
        return (ChildStep::Ids(step), error);
    }
    if plan.sigchld_ignored
        && let Err(error) = signals::ignore_sigchld()
    {
        return (ChildStep::Signals, error);
    }
    if let Err(error) = signals::set_signal_mask(plan.mask) {
        return (ChildStep::Signals, error);
    }
    let Err(error) = exec(program, plan.argv, environment.as_deref());
    if error == Errno::ENOEXEC {
        exec_with_shell(program, plan.argv, environment.as_deref());
    }
    (ChildStep::Exec, error)
}

/// `execvp`, or `execvpe` with an environment.
fn exec(program: &CStr, argv: &[CString], envp: Option<&[CString]>) -> Result<Infallible, Errno> {
    match envp {
        Some(envp) => execvpe(program, argv, envp),
        None => execvp(program, argv),
    }
}

/// POSIX `execvp` on ENOEXEC (a script without `#!`): run it with `/bin/sh`, as glibc (and so
/// tini and dumb-init) do and musl does not. Returns only if that is impossible (no `/bin/sh`),
/// and then the caller reports the original ENOEXEC.
fn exec_with_shell(program: &CStr, argv: &[CString], envp: Option<&[CString]>) {
    let path_variable = match envp {
        Some(envp) => envp
            .iter()
            .find_map(|entry| entry.to_bytes().strip_prefix(b"PATH="))
            .map(<[u8]>::to_vec),
        None => std::env::var_os("PATH").map(std::os::unix::ffi::OsStringExt::into_vec),
    };
    let Some(script) = script_path(program, path_variable.as_deref()) else {
        return;
    };
    let mut shell_argv = vec![c"/bin/sh".to_owned(), script];
    shell_argv.extend(argv.iter().skip(1).cloned());
    let _ = match envp {
        Some(envp) => execve(c"/bin/sh", &shell_argv, envp),
        None => execv(c"/bin/sh", &shell_argv),
    };
}

/// The file `execvp` found for `program`: itself if it contains a slash, else the first
/// executable `DIR/program` along PATH (musl's default PATH when unset).
fn script_path(program: &CStr, path_variable: Option<&[u8]>) -> Option<CString> {
    let name = program.to_bytes();
    if name.contains(&b'/') {
        return Some(program.to_owned());
    }
    let search = path_variable.unwrap_or(b"/usr/local/bin:/bin:/usr/bin");
    search.split(|&b| b == b':').find_map(|dir| {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let candidate = CString::new([dir, b"/", name].concat()).ok()?;
        access(candidate.as_c_str(), AccessFlags::X_OK)
            .is_ok()
            .then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_steps_survive_the_report_pipe() {
        let steps = [
            ChildStep::Fork,
            ChildStep::Session,
            ChildStep::Signals,
            ChildStep::Ids(IdStep::Groups),
            ChildStep::Ids(IdStep::GroupsDenied),
            ChildStep::Ids(IdStep::Gid),
            ChildStep::Ids(IdStep::Uid),
            ChildStep::Ids(IdStep::PartialDrop),
            ChildStep::Exec,
        ];
        let bytes: std::collections::BTreeSet<u8> = steps.iter().map(|s| s.to_byte()).collect();
        assert_eq!(bytes.len(), steps.len(), "two steps share a byte");
        for step in steps {
            assert_eq!(ChildStep::from_byte(step.to_byte()), step);
        }
        assert_eq!(ChildStep::from_byte(200), ChildStep::Exec);
    }

    #[test]
    fn script_path_follows_path_like_execvp() {
        assert_eq!(
            script_path(c"./x", None).as_deref(),
            Some(c"./x"),
            "a name with a slash is used as it is"
        );
        assert_eq!(
            script_path(c"sh", Some(b"/nonexistent:/bin")).as_deref(),
            Some(c"/bin/sh")
        );
        assert_eq!(script_path(c"no-such-program-here", Some(b"/bin")), None);
    }
}
