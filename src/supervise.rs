//! The signal loop: wait for signals, forward them, reap children, enforce the timers, and decide
//! when pidone exits.
//!
//! One blocking `read` on the signalfd drains up to 32 pending signals per wake-up; there is no
//! timeout unless a timer (grace period, stop delay, `--wait-all` drain) is armed, so an idle
//! pidone never wakes up. Once the child runs, nothing but the main child's exit (or, in pause
//! mode, SIGTERM/SIGINT) ends this loop: every other error is logged and the loop goes on.
//! Every signal pidone sends to others goes through [`Supervisor::send`], whatever the target
//! (the main child, its process group or pidone's whole tree), but for the signal path's hot
//! spot: a forward to the main child by pid, which [`Supervisor::deliver`] makes itself.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::config::{Config, DEFAULT_WAIT_ALL_GRACE};
use crate::log::{self, Field, Level};
use crate::parse::{ForwardTarget, format_duration};
use crate::reap::{ending_fields, reap_all};
use crate::signals::{self, JOB_CONTROL_STOPS};
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

/// `--stop-delay`: only the first SIGTERM is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopDelay {
    /// No SIGTERM has arrived yet: the first one will be held.
    Waiting,
    /// A SIGTERM is held until then.
    Holding(Instant),
    /// The held SIGTERM went out (or its child is gone): later ones pass at once.
    Released,
}

/// Whom pidone sends a signal to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The main child.
    Child,
    /// The main child's process group, and the child itself if it has left the group.
    Group,
    /// pidone's tree: every descendant, orphans re-parented to pidone included.
    Tree,
}

impl From<ForwardTarget> for Target {
    fn from(target: ForwardTarget) -> Target {
        match target {
            ForwardTarget::Child => Target::Child,
            ForwardTarget::Group => Target::Group,
            ForwardTarget::All => Target::Tree,
        }
    }
}

/// Whom a signal reached, for log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    /// The main child, by pid.
    Child(i32),
    /// A process group (the main child's).
    Group(i32),
    /// This many processes of pidone's tree, found through /proc.
    Tree(usize),
    /// Nobody: no main child and no group (pause mode, or after the main child in child mode).
    Nobody,
}

impl Reached {
    /// The words for a text log line.
    fn describe(self) -> String {
        match self {
            Reached::Child(pid) => format!("the child (pid {pid})"),
            Reached::Group(pgid) => format!("the child's process group ({pgid})"),
            Reached::Tree(1) => "1 process of pidone's tree".to_string(),
            Reached::Tree(count) => format!("{count} processes of pidone's tree"),
            Reached::Nobody => "nobody".to_string(),
        }
    }

    /// The JSON fields: `target` (`child`, `group`, `tree` or `none`) and its pid, pgid or count.
    fn fields(self) -> Vec<Field<'static>> {
        match self {
            Reached::Child(pid) => vec![
                Field::Str("target", "child"),
                Field::Int("target_pid", pid.into()),
            ],
            Reached::Group(pgid) => vec![
                Field::Str("target", "group"),
                Field::Int("target_pgid", pgid.into()),
            ],
            Reached::Tree(count) => vec![
                Field::Str("target", "tree"),
                Field::Int("processes", count as i64),
            ],
            Reached::Nobody => vec![Field::Str("target", "none")],
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
    /// The main child's process group (its pid: the child leads its own group or session). It
    /// outlives the reap, so `--wait-all` and dumb-init's exit TERM still reach the group.
    group: Option<i32>,
    started: Instant,
    phase: Phase,
    exit_code: i32,
    /// When the grace period ends and which received signal started it.
    grace: Option<(Instant, i32)>,
    stop_delay: StopDelay,
    /// pidone gave up its controlling terminal (dumb-init session mode).
    detached_tty: bool,
    /// A signal to act on first, as if it had been received.
    pending: Option<i32>,
    /// How many processes other than the main child pidone has reaped.
    reaped_others: u64,
    /// The fallback to signalling descendants without pidfds has been logged.
    pidfd_fallback_logged: Cell<bool>,
    /// The fallback to the child's group without a usable /proc has been logged.
    tree_fallback_logged: Cell<bool>,
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
            group: child,
            started: Instant::now(),
            phase: Phase::Running,
            exit_code: 0,
            grace: None,
            stop_delay: StopDelay::Waiting,
            detached_tty,
            pending: None,
            reaped_others: 0,
            pidfd_fallback_logged: Cell::new(false),
            tree_fallback_logged: Cell::new(false),
        }
    }

    /// Acts on `sig` as soon as the loop starts, as if pidone had received it (the parent died
    /// before the parent-death signal was armed, so the kernel will never send it).
    pub fn with_pending_signal(mut self, sig: i32) -> Supervisor<'a> {
        self.pending = Some(sig);
        self
    }

    /// Runs until the main child has exited, then ends the process with its exit code.
    pub fn run(mut self) -> ! {
        let mut batch = [SignalInfo::default(); SIGNAL_BATCH];
        // Children that exited before SIGCHLD was blocked (left by the program that exec'd
        // pidone, or during a slow start such as under an emulator) raised a SIGCHLD that was
        // discarded: sweep once now, or they stay zombies until some other child exits.
        self.reap();
        if let Some(sig) = self.pending.take() {
            log::event(
                Level::Info,
                "parent_died",
                &format!(
                    "pidone's parent died during start-up: acting on {} as if it had arrived",
                    signals::name(sig)
                ),
                &[Field::Str("signal", &signals::name(sig))],
            );
            self.on_signal(SignalInfo {
                signo: sig,
                code: 0,
                sender: 0,
            });
        }
        loop {
            if let Phase::Done(code) = self.phase {
                self.log_exit(code);
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

    fn log_exit(&self, code: i32) {
        if !log::enabled(Level::Info) {
            return;
        }
        let message = match self.reaped_others {
            0 => format!("Exiting with status {code}"),
            1 => format!("Exiting with status {code} (reaped 1 process besides the main child)"),
            n => {
                format!("Exiting with status {code} (reaped {n} processes besides the main child)")
            }
        };
        log::event(
            Level::Info,
            "exiting",
            &message,
            &[
                Field::Int("exit_code", code.into()),
                Field::Int(
                    "reaped",
                    i64::try_from(self.reaped_others).unwrap_or(i64::MAX),
                ),
            ],
        );
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.grace.is_none()
            && self.phase == Phase::Running
            && !matches!(self.stop_delay, StopDelay::Holding(_))
        {
            return None; // the common case: no timer armed, block without a timeout
        }
        let held = match self.stop_delay {
            StopDelay::Holding(at) => Some(at),
            _ => None,
        };
        let draining = match self.phase {
            Phase::Draining { deadline, .. } => Some(deadline),
            _ => None,
        };
        [self.grace.map(|(at, _)| at), held, draining]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_deadline(&mut self, now: Instant) {
        if matches!(self.stop_delay, StopDelay::Holding(at) if at <= now) {
            self.release_held_term();
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
                let reached = self.send(libc::SIGKILL, Target::Tree);
                let mut fields = vec![Field::Str("signal", "SIGKILL")];
                fields.extend(reached.fields());
                log::event(
                    Level::Warn,
                    "wait_all_killed",
                    &format!(
                        "--wait-all: descendants still running after the grace period; sent SIGKILL to {}",
                        reached.describe()
                    ),
                    &fields,
                );
                self.phase = Phase::Draining {
                    deadline: later(now, KILL_SETTLE),
                    killed: true,
                };
            }
        }
    }

    /// Grace period over: SIGKILL whatever the signals go to.
    fn escalate(&mut self, cause: i32) {
        if self.child.is_none() {
            return;
        }
        let reached = self.send(libc::SIGKILL, self.config.forward_to.into());
        let period = self
            .config
            .grace_period
            .map(format_duration)
            .unwrap_or_default();
        let cause = signals::name(cause);
        let mut fields = vec![
            Field::Str("signal", "SIGKILL"),
            Field::Str("after", &cause),
            Field::Int(
                "grace_period_ms",
                self.config.grace_period.map_or(0, |d| d.as_millis() as i64),
            ),
        ];
        fields.extend(reached.fields());
        log::event(
            Level::Warn,
            "escalated",
            &format!(
                "grace period {period} expired after {cause}: sent SIGKILL to {}",
                reached.describe()
            ),
            &fields,
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
            match (sig, self.stop_delay) {
                (libc::SIGTERM, StopDelay::Waiting) => return self.hold_term(),
                // A second SIGTERM releases the held one at once (and is not sent twice).
                (libc::SIGTERM, StopDelay::Holding(_)) => return self.release_held_term(),
                // SIGINT releases the held SIGTERM, then goes out itself.
                (libc::SIGINT, StopDelay::Holding(_)) => self.release_held_term(),
                _ => {}
            }
        }
        self.forward(sig);
    }

    /// `--stop-delay`: holds the first SIGTERM for the delay.
    fn hold_term(&mut self) {
        let delay = self.config.stop_delay.unwrap_or_default();
        self.stop_delay = StopDelay::Holding(later(Instant::now(), delay));
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

    fn release_held_term(&mut self) {
        self.stop_delay = StopDelay::Released;
        self.forward(libc::SIGTERM);
    }

    /// Forwards the received signal `received`, rewritten, to the configured target, and starts
    /// the grace period if `received` is one of `--grace-signals` (the signal pidone received
    /// decides, not what a rewrite made of it: `-r TERM:WINCH` is still a stop, `-r USR2:HUP` is
    /// not). dumb-init persona: after a SIGTSTP, SIGTTIN or SIGTTOU (whatever it was rewritten
    /// to, even dropped), pidone suspends itself too, as dumb-init does; as PID 1 the kernel
    /// ignores that. Inlined: it is the signal path, and a call costs as much as its body.
    #[inline]
    fn forward(&mut self, received: i32) {
        let to = self.config.rewrites.apply(received);
        let tty_stop = received == libc::SIGTTIN || received == libc::SIGTTOU;
        if to == 0 || (tty_stop && to == received && !self.config.forward_tty_stops) {
            log_dropped(received);
        } else {
            if to != received {
                log_rewritten(received, to);
            }
            self.deliver(to);
            self.start_grace_period(received);
        }
        if self.config.suspend_after_stop && JOB_CONTROL_STOPS.contains(&received) {
            let _ = sys::kill(self.own_pid, libc::SIGSTOP);
        }
    }

    fn start_grace_period(&mut self, received: i32) {
        if self.grace.is_none()
            && self.child.is_some()
            && self.config.grace_signals.contains(received)
            && let Some(period) = self.config.grace_period
        {
            self.grace = Some((later(Instant::now(), period), received));
        }
    }

    /// Passes `sig` on to the configured target (to what is left of the tree once the main child
    /// is gone, in the `--wait-all` drain). The common case, the main child by pid, is the
    /// signal path's hot spot and goes straight to `kill`.
    #[inline]
    fn deliver(&self, sig: i32) {
        if log::enabled(Level::Debug) {
            log_forwarded(sig);
        }
        match (self.child, self.config.forward_to) {
            (Some(child), ForwardTarget::Child) => {
                if let Err(error) = sys::kill(child, sig) {
                    report_failure(sig, error);
                }
            }
            (Some(_), target) => {
                self.send(sig, target.into());
            }
            (None, _) => {
                self.send(sig, Target::Tree);
            }
        }
    }

    /// Sends `sig` to `target` and says whom it reached. The one way pidone signals a group or
    /// its tree (and the main child, except on the forwarding hot path of [`Self::deliver`]).
    fn send(&self, sig: i32, target: Target) -> Reached {
        match (target, self.child) {
            (Target::Child, Some(child)) => {
                if let Err(error) = sys::kill(child, sig) {
                    report_failure(sig, error);
                }
                Reached::Child(child)
            }
            (Target::Child, None) => Reached::Nobody,
            (Target::Group, _) => self.send_to_group(sig),
            (Target::Tree, _) => self.send_to_tree(sig),
        }
    }

    /// The main child's process group, and the main child by pid if it has left the group.
    fn send_to_group(&self, sig: i32) -> Reached {
        let Some(group) = self.group else {
            return Reached::Nobody;
        };
        let result = match self.child {
            Some(child) if sys::process_group_of(child) != Ok(group) => {
                let _ = sys::kill(-group, sig);
                sys::kill(child, sig)
            }
            _ => sys::kill(-group, sig),
        };
        if let Err(error) = result {
            report_failure(sig, error);
        }
        Reached::Group(group)
    }

    /// Every process of pidone's tree (see [`crate::tree`]); without a usable /proc, the main
    /// child's process group, the part of the tree pidone can still name.
    fn send_to_tree(&self, sig: i32) -> Reached {
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
                Reached::Tree(signalled.count + usize::from(child.is_some_and(|sent| sent.is_ok())))
            }
            Err(why) => {
                if !self.tree_fallback_logged.replace(true) {
                    log::warn(
                        "tree_unavailable",
                        &format!(
                            "cannot list pidone's descendants ({why}): signalling the child's process group instead"
                        ),
                    );
                }
                self.send_to_group(sig)
            }
        }
    }

    fn reap(&mut self) {
        let sweep = reap_all(self.child, self.config.warn_on_reap);
        self.reaped_others += sweep.others as u64;
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
        if matches!(self.stop_delay, StopDelay::Holding(_)) {
            self.stop_delay = StopDelay::Released; // the held SIGTERM has nobody left to stop
        }
        let code = i32::from(self.config.expected.remap(exit.shell_code()));
        self.exit_code = code;
        self.log_child_exit(child, exit, code);
        if self.config.new_session {
            // dumb-init: the child's session/group gets SIGTERM (after rewriting) on exit.
            let term = self.config.rewrites.apply(libc::SIGTERM);
            if term != 0 {
                self.send(term, Target::Group);
            }
        }
        if self.config.wait_all && !no_children_left {
            self.start_draining();
        } else {
            self.phase = Phase::Done(code);
        }
    }

    fn log_child_exit(&self, child: i32, exit: ChildExit, code: i32) {
        if !log::enabled(Level::Info) {
            return;
        }
        let name = exit.signal().map(signals::name);
        let message = match (exit, &name) {
            (ChildExit::Code(status), _) => {
                format!("Main child exited normally (with status '{status}')")
            }
            (ChildExit::Signal(_), Some(name)) => {
                format!("Main child exited with signal (with signal '{name}')")
            }
            (ChildExit::Signal(sig), None) => format!("Main child exited with signal {sig}"),
        };
        let mut fields = vec![Field::Int("pid", child.into())];
        fields.extend(ending_fields(Some(exit), name.as_deref()));
        fields.extend([
            Field::Int("exit_code", code.into()),
            Field::Int("runtime_ms", self.started.elapsed().as_millis() as i64),
        ]);
        log::event(Level::Info, "child_exited", &message, &fields);
    }

    /// `--wait-all`: the main child is gone; signal the rest of the tree and wait for it.
    fn start_draining(&mut self) {
        let sig = self.config.wait_all_signal;
        let reached = self.send(sig, Target::Tree);
        let grace = self.config.grace_period.unwrap_or(DEFAULT_WAIT_ALL_GRACE);
        if log::enabled(Level::Info) {
            let name = signals::name(sig);
            let mut fields = vec![Field::Str("signal", &name)];
            fields.extend(reached.fields());
            log::event(
                Level::Info,
                "wait_all",
                &format!(
                    "--wait-all: sent {name} to {}; waiting up to {}",
                    reached.describe(),
                    format_duration(grace)
                ),
                &fields,
            );
        }
        self.phase = Phase::Draining {
            deadline: later(Instant::now(), grace),
            killed: false,
        };
        // Descendants may already have exited between the sweep and the signal.
        let sweep = reap_all(None, self.config.warn_on_reap);
        self.reaped_others += sweep.others as u64;
        if sweep.no_children_left {
            self.phase = Phase::Done(self.exit_code);
        }
    }
}

/// Logs a failed send, unless the target is simply gone already (ESRCH).
#[cold]
fn report_failure(sig: i32, error: Errno) {
    if error != Errno::ESRCH {
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

#[cold]
fn log_dropped(sig: i32) {
    if log::enabled(Level::Debug) {
        let name = signals::name(sig);
        log::event(
            Level::Debug,
            "signal_dropped",
            &format!("Dropping signal: '{name}'"),
            &[Field::Str("signal", &name)],
        );
    }
}

fn log_rewritten(from: i32, to: i32) {
    if log::enabled(Level::Debug) {
        let (from_name, to_name) = (signals::name(from), signals::name(to));
        log::event(
            Level::Debug,
            "signal_rewritten",
            &format!("Rewriting signal '{from_name}' to '{to_name}'"),
            &[Field::Str("from", &from_name), Field::Str("to", &to_name)],
        );
    }
}

#[cold]
fn log_forwarded(sig: i32) {
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

/// `now + delay`; pidone's durations are at most 30 days, so this never saturates in practice.
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay).unwrap_or(now)
}
