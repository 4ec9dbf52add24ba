//! Starting the main child: argv and environment byte for byte, session, signal state, ids.
//!
//! The preparation (C strings, the environment from [`crate::environment`]) happens here;
//! `sys::spawn` does the fork and the child's side. A failure maps to pidone's exit code the way a shell and
//! tini do: 127 not found, 126 found but not executable, 1 anything else.

use std::ffi::{CStr, CString};

use crate::environment::ChildEnvironment;

use crate::signals::SignalSet;
use crate::sys::ids::IdStep;
use crate::sys::{self, ChildPlan, ChildStep, Errno, Session};
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
    match error {
        Errno::ENOENT => 127,
        Errno::EACCES
        | Errno::EPERM
        | Errno::ENOEXEC
        | Errno::EISDIR
        | Errno::ETXTBSY
        | Errno::ENOTDIR => 126,
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
    environment: &[&CStr],
    session: Session,
    inherited: &Inherited,
    user: Option<&ResolvedUser>,
) -> Result<i32, StartError> {
    let argv = command
        .iter()
        .map(|arg| c_string(arg.clone(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let home = user.map(|u| u.home.as_bytes());
    let environment =
        ChildEnvironment::prepare(environment, sys::own_pid(), home).map_err(|message| {
            StartError {
                message,
                exit_code: 1,
            }
        })?;
    let plan = ChildPlan {
        argv: &argv,
        environment: environment.as_ref(),
        session,
        mask: inherited.mask,
        sigchld_ignored: inherited.sigchld_ignored,
        credentials: user.map(|u| &u.credentials),
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
            ChildStep::Ids(IdStep::Groups) => {
                ("--user: cannot set supplementary groups".to_string(), 1)
            }
            ChildStep::Ids(IdStep::GroupsDenied) => (
                "--user: cannot set supplementary groups (this user namespace denies setgroups, \
                 and pidone holds groups --user does not ask for)"
                    .to_string(),
                1,
            ),
            ChildStep::Ids(IdStep::Gid) => ("--user: cannot set the group id".to_string(), 1),
            ChildStep::Ids(IdStep::Uid) => ("--user: cannot set the user id".to_string(), 1),
            ChildStep::Ids(IdStep::PartialDrop) => (
                "--user: the ids were not dropped completely, refusing to run".to_string(),
                1,
            ),
        };
        StartError {
            message: format!("{what}: {}", failure.error.desc()),
            exit_code,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_like_a_shell() {
        assert_eq!(exec_failure_code(Errno::ENOENT), 127);
        assert_eq!(exec_failure_code(Errno::EACCES), 126);
        assert_eq!(exec_failure_code(Errno::ENOEXEC), 126);
        assert_eq!(exec_failure_code(Errno::E2BIG), 1);
        assert_eq!(exec_failure_code(Errno::ENOMEM), 1);
    }

    #[test]
    fn errors_read_like_the_c_library_says() {
        assert_eq!(Errno::ENOENT.desc(), "No such file or directory");
    }
}
