//! The signal loop: wait for signals, forward them, reap children, enforce the timers, and decide
//! when pidone exits.
//!
//! One blocking `read` on the signalfd drains up to 32 pending signals per wake-up; there is no
//! timeout unless a timer (grace period, stop delay, `--wait-all` drain) is armed, so an idle
//! pidone never wakes up. Once the child runs, nothing but the main child's exit (or, in pause
//! mode, SIGTERM/SIGINT) ends this loop: every other error is logged and the loop goes on.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::cli::Persona;
use crate::config::{Config, DEFAULT_WAIT_ALL_GRACE};
use crate::log::{self, Field, Level};
use crate::parse::{ForwardTarget, format_duration};
use crate::reap::reap_all;
use crate::signals::{self, JOB_CONTROL_STOPS, STOPPING_SIGNALS};
use crate::status::ChildExit;
use crate::sys::{self, Errno, Received, SIGNAL_BATCH, SignalInfo, SignalSource};
use crate::tree;

/// How long pidone waits for SIGKILLed descendants to disappear before it exits anyway.
const KILL_SETTLE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The main child runs (or pause mode waits for TERM/INT).
    Running,
    /// `--wait-all`: the main child is gone; waiting for the other descendants.
    Draining { deadline: Instant, killed: bool },
    /// Exit with this code.
    Done(i32),
}

/// Whom a signal for "everyone" reached (for log lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    /// PID 1: `kill(-1)`, every other process of the namespace.
    Namespace,
    /// Subreaper: this many descendants, found through /proc.
    Descendants(usize),
    /// No /proc: the child's process group only.
    ChildGroup,
}

impl fmt::Display for Reached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reached::Namespace => f.write_str("every process of the namespace"),
            Reached::Descendants(1) => f.write_str("1 descendant"),
            Reached::Descendants(count) => write!(f, "{count} descendants"),
            Reached::ChildGroup => f.write_str("the child's process group"),
        }
    }
}

/// The running supervisor.
pub struct Supervisor<'a> {
    config: &'a Config,
    signals: SignalSource,
    own_pid: i32,
    /// The main child; `None` in pause mode or once it has been reaped.
    child: Option<i32>,
    started: Instant,
    phase: Phase,
    exit_code: i32,
    /// When the grace period ends and which signal started it.
    grace: Option<(Instant, i32)>,
    /// When a SIGTERM held by `--stop-delay` is released.
    held_term: Option<Instant>,
    /// pidone gave up its controlling terminal (dumb-init session mode).
    detached_tty: bool,
    /// The fallback to signalling descendants without pidfds has been logged.
    pidfd_fallback_logged: Cell<bool>,
}

impl<'a> Supervisor<'a> {
    /// A supervisor for `child` (None: pause mode), reading signals from `signals`.
    pub fn new(
        config: &'a Config,
        signals: SignalSource,
        child: Option<i32>,
        detached_tty: bool,
    ) -> Supervisor<'a> {
        Supervisor {
            config,
            signals,
            own_pid: sys::own_pid(),
            child,
            started: Instant::now(),
            phase: Phase::Running,
            exit_code: 0,
            grace: None,
            held_term: None,
            detached_tty,
            pidfd_fallback_logged: Cell::new(false),
        }
    }

    /// Runs until the main child has exited, then ends the process with its exit code.
    pub fn run(mut self) -> ! {
        let mut batch = [SignalInfo::default(); SIGNAL_BATCH];
        // Children that exited before SIGCHLD was blocked (left by the program that exec'd
        // pidone, or during a slow start such as under an emulator) raised a SIGCHLD that was
        // discarded: sweep once now, or they stay zombies until some other child exits.
        self.reap();
        loop {
            if let Phase::Done(code) = self.phase {
                if log::enabled(Level::Info) {
                    let message = format!("Exiting with status {code}");
                    log::event(
                        Level::Info,
                        "exiting",
                        &message,
                        &[Field::Int("exit_code", code.into())],
                    );
                }
                sys::exit_now(code);
            }
            let timeout = match self.next_deadline() {
                None => None,
                Some(deadline) => {
                    let now = Instant::now();
                    if deadline <= now {
                        self.on_deadline(now);
                        continue;
                    }
                    Some(deadline.saturating_duration_since(now))
                }
            };
            let count = match self.signals.wait(&mut batch, timeout) {
                Received::Signals(count) => count,
                Received::TimedOut => {
                    self.on_deadline(Instant::now());
                    continue;
                }
                Received::FellBack(error) => {
                    log::warn(
                        "signalfd_failed",
                        &format!(
                            "waiting on the signalfd failed ({}); waiting with sigtimedwait from now on",
                            error.desc()
                        ),
                    );
                    continue;
                }
            };
            let mut sigchld = false;
            for info in batch.iter().take(count) {
                if info.signo == libc::SIGCHLD {
                    sigchld = true;
                } else {
                    self.on_signal(*info);
                }
            }
            if sigchld {
                log::event(Level::Trace, "sigchld", "Received SIGCHLD", &[]);
                self.reap();
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.grace.is_none() && self.held_term.is_none() && self.phase == Phase::Running {
            return None; // the common case: no timer armed, block without a timeout
        }
        let draining = match self.phase {
            Phase::Draining { deadline, .. } => Some(deadline),
            _ => None,
        };
        [self.grace.map(|(at, _)| at), self.held_term, draining]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_deadline(&mut self, now: Instant) {
        if self.held_term.is_some_and(|at| at <= now) {
            self.held_term = None;
            self.forward(libc::SIGTERM);
        }
        if let Some((at, cause)) = self.grace
            && at <= now
        {
            self.grace = None;
            self.escalate(cause);
        }
        if let Phase::Draining { deadline, killed } = self.phase
            && deadline <= now
        {
            if killed {
                log::warn(
                    "wait_all_gave_up",
                    "descendants still present after SIGKILL; exiting anyway",
                );
                self.phase = Phase::Done(self.exit_code);
            } else {
                let reached = self.signal_everyone(libc::SIGKILL);
                log::event(
                    Level::Warn,
                    "wait_all_killed",
                    &format!(
                        "--wait-all: descendants still running after the grace period; sent SIGKILL to {reached}"
                    ),
                    &[
                        Field::Str("signal", "SIGKILL"),
                        Field::Str("target", &reached.to_string()),
                    ],
                );
                self.phase = Phase::Draining {
                    deadline: later(now, KILL_SETTLE),
                    killed: true,
                };
            }
        }
    }

    /// Grace period over: SIGKILL the main child and everything it forwards to.
    fn escalate(&mut self, cause: i32) {
        let Some(child) = self.child else { return };
        let target = match self.config.forward_to {
            ForwardTarget::Child => {
                let _ = sys::kill(child, libc::SIGKILL);
                format!("the child (pid {child})")
            }
            ForwardTarget::Group => {
                let _ = sys::kill(-child, libc::SIGKILL);
                let _ = sys::kill(child, libc::SIGKILL);
                format!("the child's process group ({child})")
            }
            ForwardTarget::All => self.signal_everyone(libc::SIGKILL).to_string(),
        };
        let period = self
            .config
            .grace_period
            .map(format_duration)
            .unwrap_or_default();
        log::event(
            Level::Warn,
            "escalated",
            &format!(
                "grace period {period} expired after {}: sent SIGKILL to {target}",
                signals::name(cause)
            ),
            &[
                Field::Str("signal", "SIGKILL"),
                Field::Str("after", &signals::name(cause)),
                Field::Int(
                    "grace_period_ms",
                    self.config.grace_period.map_or(0, |d| d.as_millis() as i64),
                ),
                Field::Str("target", &target),
            ],
        );
    }

    fn on_signal(&mut self, info: SignalInfo) {
        let sig = info.signo;
        // pidone's own SIGPIPE (a broken stderr), SIGXFSZ (a stderr file past RLIMIT_FSIZE: each
        // forwarded one would log, fail and raise the next) or the SIGHUP/SIGCONT of its
        // TIOCNOTTY: the kernel names pidone as their sender. Other self-sent signals (a wrapper
        // that did `kill -USR1 $$; exec pidone`) are forwarded like any other.
        if info.sender == self.own_pid
            && signals::sent_by_process(info.code)
            && (sig == libc::SIGPIPE
                || sig == libc::SIGXFSZ
                || (self.detached_tty && (sig == libc::SIGHUP || sig == libc::SIGCONT)))
        {
            return;
        }
        // A fault signal is only forwarded when a process sent it; a real fault never gets here.
        if signals::is_fault(sig) && !signals::sent_by_process(info.code) {
            return;
        }
        if log::enabled(Level::Trace) {
            log::event(
                Level::Trace,
                "signal_received",
                &format!("Received signal: '{}'", signals::name(sig)),
                &[Field::Int("signo", sig.into())],
            );
        }
        if self.config.pause {
            if sig == libc::SIGTERM || sig == libc::SIGINT {
                self.phase = Phase::Done(0);
            }
            return;
        }
        if self.config.stop_delay.is_some() && self.child.is_some() {
            if sig == libc::SIGTERM {
                self.hold_or_release_term();
                return;
            }
            if sig == libc::SIGINT && self.held_term.take().is_some() {
                self.forward(libc::SIGTERM);
            }
        }
        self.forward(sig);
    }

    /// `--stop-delay`: the first SIGTERM is held; a second one releases it at once.
    fn hold_or_release_term(&mut self) {
        if self.held_term.take().is_some() {
            self.forward(libc::SIGTERM);
            return;
        }
        let delay = self.config.stop_delay.unwrap_or_default();
        self.held_term = Some(later(Instant::now(), delay));
        log::event(
            Level::Info,
            "stop_delayed",
            &format!(
                "Holding SIGTERM for {} (--stop-delay)",
                format_duration(delay)
            ),
            &[Field::Int("delay_ms", delay.as_millis() as i64)],
        );
    }

    /// Rewrites `sig` and delivers it to the configured target. dumb-init persona: after a
    /// SIGTSTP, SIGTTIN or SIGTTOU (whatever it was rewritten to, even dropped), pidone suspends
    /// itself too, as dumb-init does; as PID 1 the kernel ignores that.
    fn forward(&mut self, sig: i32) {
        self.forward_rewritten(sig);
        if self.config.suspend_after_stop && JOB_CONTROL_STOPS.contains(&sig) {
            let _ = sys::kill(self.own_pid, libc::SIGSTOP);
        }
    }

    fn forward_rewritten(&mut self, sig: i32) {
        let to = self.config.rewrites.apply(sig);
        let job_control_input = sig == libc::SIGTTIN || sig == libc::SIGTTOU;
        if to == 0 || (job_control_input && to == sig && self.config.persona != Persona::DumbInit) {
            if log::enabled(Level::Debug) {
                let name = signals::name(sig);
                log::event(
                    Level::Debug,
                    "signal_dropped",
                    &format!("Dropping signal: '{name}'"),
                    &[Field::Str("signal", &name)],
                );
            }
            return;
        }
        if to != sig && log::enabled(Level::Debug) {
            let (from_name, to_name) = (signals::name(sig), signals::name(to));
            log::event(
                Level::Debug,
                "signal_rewritten",
                &format!("Rewriting signal '{from_name}' to '{to_name}'"),
                &[Field::Str("from", &from_name), Field::Str("to", &to_name)],
            );
        }
        self.deliver(to);
        if STOPPING_SIGNALS.contains(&to)
            && self.grace.is_none()
            && self.child.is_some()
            && let Some(period) = self.config.grace_period
        {
            self.grace = Some((later(Instant::now(), period), to));
        }
    }

    fn deliver(&self, sig: i32) {
        if log::enabled(Level::Debug) {
            log::event(
                Level::Debug,
                "signal_forwarded",
                &format!("Passing signal: '{}'", signals::name(sig)),
                &[
                    Field::Str("signal", &signals::name(sig)),
                    Field::Int("signo", sig.into()),
                ],
            );
        }
        let Some(child) = self.child else {
            // The main child is gone (--wait-all drain): signals go to what is left.
            self.signal_everyone(sig);
            return;
        };
        let result = match self.config.forward_to {
            ForwardTarget::Child => sys::kill(child, sig),
            // A child that left its process group still gets the signal.
            ForwardTarget::Group => sys::kill(-child, sig).or_else(|_| sys::kill(child, sig)),
            ForwardTarget::All => {
                self.signal_everyone(sig);
                Ok(())
            }
        };
        if let Err(error) = result
            && error != Errno::ESRCH
        {
            log::warn(
                "forward_failed",
                &format!(
                    "Passing signal '{}' failed: {}",
                    signals::name(sig),
                    error.desc()
                ),
            );
        }
    }

    /// Signals every process pidone may reach in its tree and says whom it reached.
    fn signal_everyone(&self, sig: i32) -> Reached {
        if self.own_pid == 1 {
            let _ = sys::kill(-1, sig); // ESRCH: nobody else is left
            return Reached::Namespace;
        }
        match tree::signal_descendants(self.own_pid, sig, self.child) {
            Ok(signalled) => {
                // The main child always gets it, by pid (it cannot be recycled before pidone
                // reaps it), whatever happened to the rest of the tree.
                let child = self.child.map(|child| sys::kill(child, sig));
                if let Some(error) = signalled.without_pidfd
                    && !self.pidfd_fallback_logged.replace(true)
                {
                    log::warn(
                        "pidfd_unavailable",
                        &format!(
                            "pidfd_open failed ({}): signalling descendants by pid instead",
                            error.desc()
                        ),
                    );
                }
                Reached::Descendants(
                    signalled.count + usize::from(child.is_some_and(|sent| sent.is_ok())),
                )
            }
            Err(error) => {
                // Without /proc pidone cannot find its tree; it still reaches the child's group.
                log::warn(
                    "tree_unavailable",
                    &format!("cannot list descendants (/proc): {error}"),
                );
                if let Some(child) = self.child {
                    let _ = sys::kill(-child, sig).or_else(|_| sys::kill(child, sig));
                }
                Reached::ChildGroup
            }
        }
    }

    fn reap(&mut self) {
        let sweep = reap_all(self.child, self.config.warn_on_reap);
        if let Some(exit) = sweep.main_exit {
            self.on_main_child_exit(exit, sweep.no_children_left);
        } else if matches!(self.phase, Phase::Draining { .. }) && sweep.no_children_left {
            self.phase = Phase::Done(self.exit_code);
        }
    }

    fn on_main_child_exit(&mut self, exit: ChildExit, no_children_left: bool) {
        let Some(child) = self.child.take() else {
            return;
        };
        self.grace = None;
        self.held_term = None;
        let code = i32::from(self.config.expected.remap(exit.shell_code()));
        self.exit_code = code;
        if log::enabled(Level::Info) {
            let runtime_ms = self.started.elapsed().as_millis() as i64;
            let (message, detail, signal_name) = match exit {
                ChildExit::Code(status) => (
                    format!("Main child exited normally (with status '{status}')"),
                    Field::Int("status", status.into()),
                    None,
                ),
                ChildExit::Signal(sig) => (
                    format!(
                        "Main child exited with signal (with signal '{}')",
                        signals::name(sig)
                    ),
                    Field::Int("signo", sig.into()),
                    Some(signals::name(sig)),
                ),
            };
            let mut fields = vec![
                Field::Int("pid", child.into()),
                detail,
                Field::Int("exit_code", code.into()),
                Field::Int("runtime_ms", runtime_ms),
            ];
            if let Some(name) = &signal_name {
                fields.push(Field::Str("signal", name));
            }
            log::event(Level::Info, "child_exited", &message, &fields);
        }

        if self.config.new_session {
            // dumb-init: the child's session/group gets SIGTERM (after rewriting) on exit.
            let term = self.config.rewrites.apply(libc::SIGTERM);
            if term != 0 {
                let _ = sys::kill(-child, term);
            }
        }
        if !self.config.wait_all || no_children_left {
            self.phase = Phase::Done(code);
            return;
        }
        let sig = self.config.wait_all_signal;
        let reached = self.signal_everyone(sig);
        let grace = self.config.grace_period.unwrap_or(DEFAULT_WAIT_ALL_GRACE);
        if log::enabled(Level::Info) {
            log::event(
                Level::Info,
                "wait_all",
                &format!(
                    "--wait-all: sent {} to {reached}; waiting up to {}",
                    signals::name(sig),
                    format_duration(grace)
                ),
                &[
                    Field::Str("signal", &signals::name(sig)),
                    Field::Str("target", &reached.to_string()),
                ],
            );
        }
        self.phase = Phase::Draining {
            deadline: later(Instant::now(), grace),
            killed: false,
        };
        // Descendants may already have exited between the sweep and the signal.
        let sweep = reap_all(None, self.config.warn_on_reap);
        if sweep.no_children_left {
            self.phase = Phase::Done(code);
        }
    }
}

/// `now + delay`; pidone's durations are at most 30 days, so this never saturates in practice.
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay).unwrap_or(now)
}
