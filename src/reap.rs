//! Reaping: collect every child that has exited, in one non-blocking sweep.
//!
//! SIGCHLD means "one or more children changed state": signals of one kind coalesce, so pidone
//! never counts them and never trusts `si_pid`. Each SIGCHLD batch runs `waitpid(-1, WNOHANG)`
//! until nothing is left and checks every pid against the main child.

use crate::log::{self, Field, Level};
use crate::status::ChildExit;
use crate::sys;

/// The result of one sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// The main child's exit, if it was reaped in this sweep.
    pub main_exit: Option<ChildExit>,
    /// How many processes were reaped.
    pub reaped: usize,
    /// True when pidone has no children left at all (`ECHILD`).
    pub no_children_left: bool,
}

/// Reaps every exited child; `main_child` is the pid whose status pidone exits with.
pub fn reap_all(main_child: Option<i32>, warn_on_reap: bool) -> Sweep {
    let mut sweep = Sweep::default();
    loop {
        match sys::reap_one() {
            Ok(Some((pid, status))) => {
                sweep.reaped += 1;
                if Some(pid) == main_child {
                    sweep.main_exit = ChildExit::from_raw(status);
                    log::event(
                        Level::Debug,
                        "main_child_reaped",
                        &format!("Reaped child with pid: '{pid}'"),
                        &[Field::Int("pid", pid.into())],
                    );
                } else {
                    let level = if warn_on_reap {
                        Level::Warn
                    } else {
                        Level::Debug
                    };
                    if log::enabled(level) {
                        log::event(
                            level,
                            "zombie_reaped",
                            &format!("Reaped zombie process with pid={pid}"),
                            &[
                                Field::Int("pid", pid.into()),
                                Field::Int("status", status.into()),
                            ],
                        );
                    }
                }
            }
            Ok(None) => break,
            Err(error) => {
                if error == sys::Errno::ECHILD {
                    sweep.no_children_left = true;
                } else {
                    log::warn("reap_failed", &format!("waitpid failed: {}", error.desc()));
                }
                break;
            }
        }
    }
    sweep
}
