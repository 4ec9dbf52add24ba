//! The settled configuration: command line, environment and persona defaults merged into one
//! plain value that the rest of pidone reads.
//!
//! Precedence, highest first: a command-line flag; its `PIDONE_*` variable; the anchors' own
//! variables (`TINI_*`, `DUMB_INIT_*`, `CATATONIT_DEBUG`, each with its anchor's semantics); the
//! persona's default. clap already applied the `PIDONE_*` variables that mean exactly what their
//! flag means (see [`crate::cli`]); this reads the others: `PIDONE_VERBOSITY` (a level, not a
//! count), `PIDONE_EXPECT_EXIT` and `PIDONE_REWRITE` (comma-separated lists for repeatable flags).
//! An invalid `PIDONE_*` value is a usage error naming the variable.

use std::time::Duration;

use crate::cli::{CliOptions, Persona};
use crate::log::{Format, Level};
use crate::parse::{self, ForwardTarget, UserSpec};
use crate::signals::{self, JOB_CONTROL_STOPS};
use crate::status::ExpectedCodes;

/// Where `--wait-all` takes its grace period from when `--grace-period` is not given.
pub const DEFAULT_WAIT_ALL_GRACE: Duration = Duration::from_secs(5);

/// Signal rewrites: `map[n]` is what signal `n` is forwarded as (0 = dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrites {
    map: [u8; 65],
    explicit: signals::SignalSet,
}

impl Default for Rewrites {
    fn default() -> Self {
        let mut map = [0u8; 65];
        for (sig, slot) in map.iter_mut().enumerate() {
            *slot = sig as u8;
        }
        Rewrites {
            map,
            explicit: signals::SignalSet::EMPTY,
        }
    }
}

impl Rewrites {
    /// Forward `from` as `to` (0 drops it).
    pub fn set(&mut self, from: i32, to: i32) {
        if let (Some(slot), Ok(to)) = (self.map.get_mut(from as usize), u8::try_from(to)) {
            *slot = to;
            self.explicit.insert(from);
        }
    }

    /// What `sig` is forwarded as (0 = drop).
    pub fn apply(&self, sig: i32) -> i32 {
        usize::try_from(sig)
            .ok()
            .and_then(|i| self.map.get(i))
            .map_or(sig, |&to| i32::from(to))
    }

    /// Whether the user rewrote `sig` explicitly.
    pub fn is_explicit(&self, sig: i32) -> bool {
        self.explicit.contains(sig)
    }
}

/// Everything pidone needs to know to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Persona chosen by `argv[0]`.
    pub persona: Persona,
    /// The child's argv (empty in pause mode).
    pub command: Vec<Vec<u8>>,
    /// catatonit's pause mode.
    pub pause: bool,
    /// Log level.
    pub verbosity: Level,
    /// Log format.
    pub log_format: Format,
    /// Warn about reaped processes other than the main child.
    pub warn_on_reap: bool,
    /// Where forwarded signals go.
    pub forward_to: ForwardTarget,
    /// dumb-init's setsid mode: new session, SIGTERM to the group when the child exits.
    pub new_session: bool,
    /// dumb-init: after forwarding a stop signal, suspend pidone itself.
    pub suspend_after_stop: bool,
    /// SIGTTIN and SIGTTOU that no rewrite changed are forwarded (dumb-init); the other
    /// personas drop them, as tini and catatonit do.
    pub forward_tty_stops: bool,
    /// Signal rewrites.
    pub rewrites: Rewrites,
    /// Exit codes mapped to 0.
    pub expected: ExpectedCodes,
    /// Parent-death signal.
    pub pdeath_signal: Option<i32>,
    /// `--grace-period`.
    pub grace_period: Option<Duration>,
    /// `--grace-signals`: the received signals that start the grace period.
    pub grace_signals: signals::SignalSet,
    /// `--wait-all`.
    pub wait_all: bool,
    /// Signal for `--wait-all`.
    pub wait_all_signal: i32,
    /// `--stop-delay`.
    pub stop_delay: Option<Duration>,
    /// `--user`.
    pub user: Option<UserSpec>,
}

/// Reads one environment variable; injected so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

/// A usage error in the environment: `VARIABLE: reason`.
fn env_error(name: &str, why: String) -> String {
    format!("{name}: {why}")
}

/// Reads and parses `PIDONE_<...>`; `Ok(None)` when unset.
fn env_value<T>(
    env: EnvLookup<'_>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match env(name) {
        None => Ok(None),
        Some(raw) => {
            let text = std::str::from_utf8(&raw)
                .map_err(|_| env_error(name, "not valid UTF-8".to_string()))?;
            parse(text).map(Some).map_err(|why| env_error(name, why))
        }
    }
}

/// C's `atoi`, which tini applies to `TINI_VERBOSITY`: leading white space, an optional sign,
/// then the leading digits; 0 when there are none. Saturates where C's is undefined.
fn c_atoi(text: &[u8]) -> i64 {
    let text = text.trim_ascii_start();
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative { -magnitude } else { magnitude }
}

/// A verbosity level 0..=4 from `TINI_VERBOSITY` (below 0: errors only, as 0).
fn tini_verbosity(raw: &[u8]) -> u8 {
    c_atoi(raw).clamp(0, 4) as u8
}

fn level_from(number: u8) -> Level {
    match number {
        0 => Level::Error,
        1 => Level::Warn,
        2 => Level::Info,
        3 => Level::Debug,
        _ => Level::Trace,
    }
}

impl Config {
    /// Merges the command line, the environment and the persona's defaults.
    pub fn build(persona: Persona, cli: CliOptions, env: EnvLookup<'_>) -> Result<Config, String> {
        let is_set = |name: &str| env(name).is_some();
        let is_exactly = |name: &str, want: &str| env(name).is_some_and(|v| v == want.as_bytes());

        let verbosity = if cli.verbose > 0 {
            // Saturating: 255 `-v` once wrapped to 0 (silent) or panicked in a debug build.
            let level = cli.verbose.saturating_add(1);
            if persona == Persona::DumbInit {
                level.max(3)
            } else {
                level
            }
        } else if let Some(level) = env_value(env, "PIDONE_VERBOSITY", parse::verbosity)? {
            level
        } else if let Some(raw) = env("TINI_VERBOSITY") {
            tini_verbosity(&raw)
        } else if is_exactly("DUMB_INIT_DEBUG", "1") || is_set("CATATONIT_DEBUG") {
            3
        } else {
            1
        };

        // Accepted for tini compatibility: pidone registers as subreaper whenever it is not PID 1.
        let _subreaper = cli.subreaper || is_set("TINI_SUBREAPER");

        let single_child = cli.single_child || is_exactly("DUMB_INIT_SETSID", "0");
        let new_session = persona == Persona::DumbInit && !single_child;

        // `cli.forward_to` holds --forward-to, or PIDONE_FORWARD_TO when -g was not given.
        let forward_to = if let Some(target) = cli.forward_to {
            target
        } else if cli.process_group || is_set("TINI_KILL_PROCESS_GROUP") || new_session {
            ForwardTarget::Group
        } else {
            ForwardTarget::Child
        };

        let mut rewrites = Rewrites::default();
        let rewrite_list = if cli.rewrites.is_empty() {
            env_value(env, "PIDONE_REWRITE", parse::rewrite_list)?.unwrap_or_default()
        } else {
            cli.rewrites
        };
        for (from, to) in rewrite_list {
            rewrites.set(from, to);
        }
        if new_session {
            for sig in JOB_CONTROL_STOPS {
                if !rewrites.is_explicit(sig) {
                    rewrites.set(sig, libc::SIGSTOP);
                }
            }
        }

        let mut expected = ExpectedCodes::default();
        let expect_list = if cli.expect_exit.is_empty() {
            env_value(env, "PIDONE_EXPECT_EXIT", parse::exit_code_list)?.unwrap_or_default()
        } else {
            cli.expect_exit
        };
        for code in expect_list {
            expected.insert(code);
        }

        let pause = cli.pause;
        if cli.command.is_empty() && !pause {
            return Err("no command given".to_string());
        }

        Ok(Config {
            persona,
            command: if pause { Vec::new() } else { cli.command },
            pause,
            verbosity: level_from(verbosity),
            log_format: cli.log_format.unwrap_or_default(),
            warn_on_reap: cli.warn_on_reap,
            forward_to,
            new_session,
            suspend_after_stop: persona == Persona::DumbInit,
            forward_tty_stops: persona == Persona::DumbInit,
            rewrites,
            expected,
            pdeath_signal: cli.pdeath_signal,
            grace_period: cli.grace_period,
            grace_signals: cli
                .grace_signals
                .unwrap_or_else(|| signals::SignalSet::of(&signals::DEFAULT_GRACE_SIGNALS)),
            wait_all: cli.wait_all,
            wait_all_signal: cli.wait_all_signal.unwrap_or(libc::SIGTERM),
            stop_delay: cli.stop_delay,
            user: cli.user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn build(persona: Persona, cli: CliOptions, vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: HashMap<String, Vec<u8>> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        Config::build(persona, cli, &|name: &str| vars.get(name).cloned())
    }

    fn with_command() -> CliOptions {
        CliOptions {
            command: vec!["true".into()],
            ..CliOptions::default()
        }
    }

    #[test]
    fn cli_and_pidone_env_beat_anchor_env() {
        // clap has put --forward-to or PIDONE_FORWARD_TO into the options already.
        let cli = CliOptions {
            forward_to: Some(ForwardTarget::Child),
            ..with_command()
        };
        let config = build(Persona::Pidone, cli, &[("TINI_KILL_PROCESS_GROUP", "")]);
        assert_eq!(config.map(|c| c.forward_to), Ok(ForwardTarget::Child));
        let cli = CliOptions {
            verbose: 1,
            ..with_command()
        };
        let config = build(Persona::Tini, cli, &[("TINI_VERBOSITY", "0")]);
        assert_eq!(config.map(|c| c.verbosity), Ok(Level::Info));
        let config = build(
            Persona::Tini,
            with_command(),
            &[("PIDONE_VERBOSITY", "3"), ("TINI_VERBOSITY", "0")],
        );
        assert_eq!(config.map(|c| c.verbosity), Ok(Level::Debug));
        let cli = CliOptions {
            expect_exit: vec![3],
            ..with_command()
        };
        let config = build(Persona::Pidone, cli, &[("PIDONE_EXPECT_EXIT", "4")]);
        let expected = config.map(|c| c.expected).unwrap_or_default();
        assert!(expected.contains(3) && !expected.contains(4));
    }

    #[test]
    fn many_v_flags_saturate_at_trace() {
        for persona in [Persona::Pidone, Persona::DumbInit] {
            for verbose in [3, 4, 254, 255] {
                let cli = CliOptions {
                    verbose,
                    ..with_command()
                };
                let config = build(persona, cli, &[]);
                assert_eq!(config.map(|c| c.verbosity), Ok(Level::Trace), "{verbose}");
            }
        }
    }

    #[test]
    fn anchor_env_semantics() {
        let group = |vars: &[(&str, &str)]| {
            build(Persona::Tini, with_command(), vars).map(|c| c.forward_to)
        };
        assert_eq!(
            group(&[("TINI_KILL_PROCESS_GROUP", "0")]),
            Ok(ForwardTarget::Group)
        );
        assert_eq!(group(&[]), Ok(ForwardTarget::Child));
        let session = |vars: &[(&str, &str)]| {
            build(Persona::DumbInit, with_command(), vars).map(|c| c.new_session)
        };
        assert_eq!(session(&[]), Ok(true));
        assert_eq!(session(&[("DUMB_INIT_SETSID", "0")]), Ok(false));
        assert_eq!(session(&[("DUMB_INIT_SETSID", "1")]), Ok(true));
        assert_eq!(session(&[("DUMB_INIT_SETSID", "false")]), Ok(true));
        let level = |persona, vars: &[(&str, &str)]| {
            build(persona, with_command(), vars).map(|c| c.verbosity)
        };
        assert_eq!(
            level(Persona::DumbInit, &[("DUMB_INIT_DEBUG", "1")]),
            Ok(Level::Debug)
        );
        assert_eq!(
            level(Persona::DumbInit, &[("DUMB_INIT_DEBUG", "yes")]),
            Ok(Level::Warn)
        );
        assert_eq!(
            level(Persona::Catatonit, &[("CATATONIT_DEBUG", "")]),
            Ok(Level::Debug)
        );
        assert_eq!(
            level(Persona::Tini, &[("TINI_VERBOSITY", "junk")]),
            Ok(Level::Error)
        );
    }

    /// `TINI_VERBOSITY` is read with C's atoi, as tini does.
    #[test]
    fn tini_verbosity_is_read_like_c_atoi() {
        for (raw, want) in [
            ("3", 3),
            ("  2x", 2),
            ("+3", 3),
            ("\t\n4", 4),
            ("-1", 0),
            ("-", 0),
            ("x3", 0),
            ("", 0),
            ("9", 4),
            ("99999999999999999999999", 4),
            ("-99999999999999999999999", 0),
        ] {
            assert_eq!(tini_verbosity(raw.as_bytes()), want, "{raw:?}");
        }
        assert_eq!(c_atoi(b" -42abc"), -42);
        assert_eq!(c_atoi(b"- 4"), 0);
    }

    #[test]
    fn dumb_init_rewrites_job_control_unless_the_user_did() {
        let config = build(Persona::DumbInit, with_command(), &[]).map(|c| c.rewrites);
        let rewrites = config.unwrap_or_default();
        assert_eq!(rewrites.apply(libc::SIGTSTP), libc::SIGSTOP);
        assert_eq!(rewrites.apply(libc::SIGTTIN), libc::SIGSTOP);
        let cli = CliOptions {
            rewrites: vec![(libc::SIGTSTP, libc::SIGUSR1)],
            ..with_command()
        };
        let rewrites = build(Persona::DumbInit, cli, &[])
            .map(|c| c.rewrites)
            .unwrap_or_default();
        assert_eq!(rewrites.apply(libc::SIGTSTP), libc::SIGUSR1);
        assert_eq!(rewrites.apply(libc::SIGTTOU), libc::SIGSTOP);
        let cli = CliOptions {
            single_child: true,
            ..with_command()
        };
        let rewrites = build(Persona::DumbInit, cli, &[])
            .map(|c| c.rewrites)
            .unwrap_or_default();
        assert_eq!(rewrites.apply(libc::SIGTSTP), libc::SIGTSTP);
    }

    #[test]
    fn invalid_environment_names_the_variable() {
        // The other PIDONE_* variables are clap's (`Arg::env`): tests/features.rs checks them.
        for (name, value) in [
            ("PIDONE_REWRITE", "TERM"),
            ("PIDONE_EXPECT_EXIT", "300"),
            ("PIDONE_VERBOSITY", "loud"),
        ] {
            let err = build(Persona::Pidone, with_command(), &[(name, value)])
                .err()
                .unwrap_or_default();
            assert!(
                err.starts_with(&format!("{name}: ")),
                "{name}={value}: {err}"
            );
        }
    }

    #[test]
    fn no_command_is_an_error_except_in_pause_mode() {
        assert!(build(Persona::Pidone, CliOptions::default(), &[]).is_err());
        let config = build(
            Persona::Catatonit,
            CliOptions {
                pause: true,
                ..CliOptions::default()
            },
            &[],
        );
        assert!(config.is_ok_and(|c| c.pause));
    }
}
