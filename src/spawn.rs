//! Starting the main child: argv and environment byte for byte, session, signal state, ids.
//!
//! The preparation (C strings, `LISTEN_PID`, `HOME`) happens here in safe code; `sys::spawn`
//! does the fork and the child's side. A failure maps to pidone's exit code the way a shell and
//! tini do: 127 not found, 126 found but not executable, 1 anything else.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::signals::SignalSet;
use crate::sys::{self, ChildPlan, ChildStep, Credentials, Errno, Session};
use crate::user::ResolvedUser;

/// What the child inherits from pidone's start-up.
pub struct Inherited {
    /// The signal mask pidone was started with.
    pub mask: SignalSet,
    /// Whether SIGCHLD was ignored when pidone started.
    pub sigchld_ignored: bool,
}

/// A failure to start the child: the message and pidone's exit code.
#[derive(Debug)]
pub struct StartError {
    /// One line: `<what>: <why>`.
    pub message: String,
    /// 127, 126 or 1.
    pub exit_code: i32,
}

/// The exit code for a failed `execvp`, as a shell reports it.
pub fn exec_failure_code(error: Errno) -> i32 {
    match error.0 {
        libc::ENOENT => 127,
        libc::EACCES
        | libc::EPERM
        | libc::ENOEXEC
        | libc::EISDIR
        | libc::ETXTBSY
        | libc::ENOTDIR => 126,
        _ => 1,
    }
}

fn c_string(bytes: Vec<u8>, what: &str) -> Result<CString, StartError> {
    CString::new(bytes).map_err(|_| StartError {
        message: format!("{what} contains a NUL byte"),
        exit_code: 1,
    })
}

/// Spawns `command` as the main child; returns its pid.
pub fn spawn_child(
    command: &[Vec<u8>],
    session: Session,
    inherited: &Inherited,
    user: Option<&ResolvedUser>,
) -> Result<i32, StartError> {
    let argv = command
        .iter()
        .map(|arg| c_string(arg.clone(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    // The environment is copied only when something in it must change; otherwise the child gets
    // pidone's own, untouched (the common case, and the cheapest start-up).
    let own_pid = sys::own_pid().to_string();
    let rewrite_listen_pid = sys::env_var("LISTEN_PID").is_some_and(|v| v == own_pid.as_bytes());
    let add_home = user.is_some() && sys::env_var("HOME").is_none();
    let mut listen_pid_index = None;
    let mut envp = Vec::new();
    if rewrite_listen_pid || add_home {
        let listen_pid_entry = [b"LISTEN_PID=".as_slice(), own_pid.as_bytes()].concat();
        for entry in sys::environment() {
            if entry == listen_pid_entry.as_slice() {
                listen_pid_index = Some(envp.len());
            }
            envp.push(c_string(entry.to_vec(), "an environment variable")?);
        }
        if let (Some(user), true) = (user, add_home) {
            envp.push(c_string(
                format!("HOME={}", user.home).into_bytes(),
                "HOME",
            )?);
        }
    }
    let credentials: Option<&Credentials> = user.map(|u| &u.credentials);
    let plan = ChildPlan {
        argv: &argv,
        envp: (rewrite_listen_pid || add_home).then_some(envp.as_slice()),
        listen_pid_index,
        session,
        mask: inherited.mask,
        sigchld_ignored: inherited.sigchld_ignored,
        credentials,
    };
    let program = command
        .first()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    sys::spawn(&plan).map_err(|failure| {
        let (what, exit_code) = match failure.step {
            ChildStep::Exec => (
                format!("cannot run '{program}'"),
                exec_failure_code(failure.error),
            ),
            ChildStep::Fork => ("cannot start the child".to_string(), 1),
            ChildStep::Session => (
                "cannot set the child's session or process group".to_string(),
                1,
            ),
            ChildStep::Signals => ("cannot restore the child's signal state".to_string(), 1),
            ChildStep::Groups => ("--user: cannot set supplementary groups".to_string(), 1),
            ChildStep::Gid => ("--user: cannot set the group id".to_string(), 1),
            ChildStep::Uid => ("--user: cannot set the user id".to_string(), 1),
            ChildStep::PartialDrop => (
                "--user: the ids were not dropped completely, refusing to run".to_string(),
                1,
            ),
        };
        StartError {
            message: format!("{what}: {}", failure.error),
            exit_code,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_like_a_shell() {
        let code = |errno| exec_failure_code(Errno(errno));
        assert_eq!(code(libc::ENOENT), 127);
        assert_eq!(code(libc::EACCES), 126);
        assert_eq!(code(libc::ENOEXEC), 126);
        assert_eq!(code(libc::E2BIG), 1);
        assert_eq!(code(libc::ENOMEM), 1);
    }

    #[test]
    fn errors_read_like_the_c_library_says() {
        assert_eq!(Errno(libc::ENOENT).to_string(), "No such file or directory");
    }
}
