//! Reaping: collect every child that has exited, in one non-blocking sweep.
//!
//! SIGCHLD means "one or more children changed state": signals of one kind coalesce, so pidone
//! never counts them and never trusts `si_pid`. Each SIGCHLD batch runs `waitpid(-1, WNOHANG)`
//! until nothing is left and checks every pid against the main child.

use crate::log::{self, Field, Level};
use crate::signals;
use crate::status::ChildExit;
use crate::sys;

/// The log fields saying how a process ended, the same in every event: `status`, the code it
/// exited with, or `signo` and `signal` (`signal_name`), the signal that killed it.
pub fn ending_fields<'a>(exit: Option<ChildExit>, signal_name: Option<&'a str>) -> Vec<Field<'a>> {
    match exit {
        Some(ChildExit::Code(code)) => vec![Field::Int("status", code.into())],
        Some(ChildExit::Signal(sig)) => vec![
            Field::Int("signo", sig.into()),
            Field::Str("signal", signal_name.unwrap_or_default()),
        ],
        None => Vec::new(),
    }
}

/// The result of one sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// The main child's exit, if it was reaped in this sweep.
    pub main_exit: Option<ChildExit>,
    /// How many processes other than the main child were reaped.
    pub others: usize,
    /// True when pidone has no children left at all (`ECHILD`).
    pub no_children_left: bool,
}

/// Reaps every exited child; `main_child` is the pid whose status pidone exits with.
pub fn reap_all(main_child: Option<i32>, warn_on_reap: bool) -> Sweep {
    let mut sweep = Sweep::default();
    loop {
        match sys::reap_one() {
            Ok(Some((pid, status))) => {
                if Some(pid) == main_child {
                    sweep.main_exit = ChildExit::from_raw(status);
                    log::event(
                        Level::Debug,
                        "main_child_reaped",
                        &format!("Reaped child with pid: '{pid}'"),
                        &[Field::Int("pid", pid.into())],
                    );
                } else {
                    sweep.others += 1;
                    let level = if warn_on_reap {
                        Level::Warn
                    } else {
                        Level::Debug
                    };
                    if log::enabled(level) {
                        let exit = ChildExit::from_raw(status);
                        let name = exit.and_then(ChildExit::signal).map(signals::name);
                        let mut fields = vec![Field::Int("pid", pid.into())];
                        fields.extend(ending_fields(exit, name.as_deref()));
                        log::event(
                            level,
                            "zombie_reaped",
                            &format!("Reaped zombie process with pid={pid}"),
                            &fields,
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
