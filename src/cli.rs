//! The command line: personas, the option table, a getopt-style parser, help and version text.
//!
//! One parser accepts the union of tini's, dumb-init's and catatonit's options (their letters do
//! not clash) plus pidone's own long options. Parsing follows getopt with a leading `+`: short
//! options cluster (`-vvg`, `-e143`), option values may be attached or separate, and parsing stops
//! at the first operand or at the first `--`, so everything after belongs to the child untouched.
//! A hand-written parser keeps those exact semantics and the binary small: clap measured +185 KB
//! on a 360 KB static binary (see the README's size section).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use crate::log::Format;
use crate::parse::{self, ForwardTarget, UserSpec};
use crate::signals;

/// Which init pidone impersonates, chosen by the name it is invoked as (like busybox).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persona {
    /// pidone's own name: tini's defaults.
    Pidone,
    /// `tini` or `docker-init`: tini's defaults and log wording.
    Tini,
    /// `dumb-init`: new session for the child, signals to its group, TSTP/TTIN/TTOU → STOP.
    DumbInit,
    /// `catatonit` or `podman-init`: catatonit's defaults (SIGTSTP is forwarded, though).
    Catatonit,
}

impl Persona {
    /// Picks the persona from `argv[0]`'s file name.
    pub fn from_argv0(arg0: &[u8]) -> Persona {
        let file_name = arg0.rsplit(|&b| b == b'/').next().unwrap_or_default();
        match file_name {
            b"tini" | b"tini-static" | b"docker-init" => Persona::Tini,
            b"dumb-init" => Persona::DumbInit,
            b"catatonit" | b"podman-init" => Persona::Catatonit,
            _ => Persona::Pidone,
        }
    }

    /// The name used in log lines and help.
    pub fn name(self) -> &'static str {
        match self {
            Persona::Pidone => "pidone",
            Persona::Tini => "tini",
            Persona::DumbInit => "dumb-init",
            Persona::Catatonit => "catatonit",
        }
    }
}

/// Everything given on the command line (environment not yet applied).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliOptions {
    /// `-s`: register as subreaper (automatic anyway).
    pub subreaper: bool,
    /// `-p SIGNAL`: parent-death signal for pidone.
    pub pdeath_signal: Option<i32>,
    /// Number of `-v`.
    pub verbose: u8,
    /// `-w`: warn about every reaped process that is not the main child.
    pub warn_on_reap: bool,
    /// `-g`: forward to the child's process group.
    pub process_group: bool,
    /// `-e CODE`: exit codes remapped to 0.
    pub expect_exit: Vec<u8>,
    /// `-c`: dumb-init single-child mode.
    pub single_child: bool,
    /// `-r FROM:TO`: signal rewrites.
    pub rewrites: Vec<(i32, i32)>,
    /// `-P`: catatonit pause mode.
    pub pause: bool,
    /// `--grace-period`.
    pub grace_period: Option<Duration>,
    /// `--wait-all`.
    pub wait_all: bool,
    /// `--wait-all-signal`.
    pub wait_all_signal: Option<i32>,
    /// `--forward-to`.
    pub forward_to: Option<ForwardTarget>,
    /// `--stop-delay`.
    pub stop_delay: Option<Duration>,
    /// `--user`.
    pub user: Option<UserSpec>,
    /// `--log-format`.
    pub log_format: Option<Format>,
    /// The command and its arguments.
    pub command: Vec<Vec<u8>>,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Run (or pause) with these options.
    Run(CliOptions),
    /// Print help and exit 0.
    Help,
    /// Print the version line and exit 0.
    Version,
    /// Print the licence and exit 0.
    License,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptId {
    Subreaper,
    PdeathSignal,
    Verbose,
    WarnOnReap,
    ProcessGroup,
    ExpectExit,
    License,
    Version,
    Help,
    SingleChild,
    Rewrite,
    Pause,
    GracePeriod,
    WaitAll,
    WaitAllSignal,
    ForwardTo,
    StopDelay,
    User,
    LogFormat,
}

/// One row of the option table: drives the parser and the help text.
struct OptSpec {
    id: OptId,
    short: Option<char>,
    long: &'static str,
    value: Option<&'static str>,
    env: &'static str,
    help: &'static str,
}

const OPTIONS: &[OptSpec] = &[
    OptSpec {
        id: OptId::Help,
        short: Some('h'),
        long: "help",
        value: None,
        env: "",
        help: "print this help and exit",
    },
    OptSpec {
        id: OptId::Version,
        short: Some('V'),
        long: "version",
        value: None,
        env: "",
        help: "print the version (in the 'tini version' form Docker parses) and exit",
    },
    OptSpec {
        id: OptId::License,
        short: Some('l'),
        long: "license",
        value: None,
        env: "",
        help: "print the licence and exit (-L too)",
    },
    OptSpec {
        id: OptId::Verbose,
        short: Some('v'),
        long: "verbose",
        value: None,
        env: "PIDONE_VERBOSITY",
        help: "more diagnostics on stderr; repeat for more (env: level 0-4, default 1)",
    },
    OptSpec {
        id: OptId::Subreaper,
        short: Some('s'),
        long: "subreaper",
        value: None,
        env: "PIDONE_SUBREAPER",
        help: "register as child subreaper (automatic when not PID 1; accepted for tini)",
    },
    OptSpec {
        id: OptId::PdeathSignal,
        short: Some('p'),
        long: "pdeath-signal",
        value: Some("SIGNAL"),
        env: "PIDONE_PDEATH_SIGNAL",
        help: "signal pidone receives (and forwards) when its parent dies",
    },
    OptSpec {
        id: OptId::WarnOnReap,
        short: Some('w'),
        long: "warn-on-reap",
        value: None,
        env: "PIDONE_WARN_ON_REAP",
        help: "warn about every reaped process that is not the main child",
    },
    OptSpec {
        id: OptId::ProcessGroup,
        short: Some('g'),
        long: "process-group",
        value: None,
        env: "",
        help: "forward signals to the child's process group (= --forward-to group)",
    },
    OptSpec {
        id: OptId::ExpectExit,
        short: Some('e'),
        long: "expect-exit",
        value: Some("CODE"),
        env: "PIDONE_EXPECT_EXIT",
        help: "exit 0 when the child exits with CODE (after 128+N); repeatable (env: 0,143)",
    },
    OptSpec {
        id: OptId::SingleChild,
        short: Some('c'),
        long: "single-child",
        value: None,
        env: "PIDONE_SINGLE_CHILD",
        help: "dumb-init: no new session; signal the child only",
    },
    OptSpec {
        id: OptId::Rewrite,
        short: Some('r'),
        long: "rewrite",
        value: Some("FROM:TO"),
        env: "PIDONE_REWRITE",
        help: "forward signal FROM as TO (TO=0 drops it); repeatable (env: TERM:QUIT,USR1:0)",
    },
    OptSpec {
        id: OptId::Pause,
        short: Some('P'),
        long: "pause",
        value: None,
        env: "PIDONE_PAUSE",
        help: "pause mode: run nothing, reap zombies, exit 0 on SIGTERM or SIGINT",
    },
    OptSpec {
        id: OptId::GracePeriod,
        short: None,
        long: "grace-period",
        value: Some("DURATION"),
        env: "PIDONE_GRACE_PERIOD",
        help: "SIGKILL the child (and its target) this long after a stopping signal",
    },
    OptSpec {
        id: OptId::WaitAll,
        short: None,
        long: "wait-all",
        value: None,
        env: "PIDONE_WAIT_ALL",
        help: "when the child exits, stop and wait for all other descendants first",
    },
    OptSpec {
        id: OptId::WaitAllSignal,
        short: None,
        long: "wait-all-signal",
        value: Some("SIGNAL"),
        env: "PIDONE_WAIT_ALL_SIGNAL",
        help: "signal sent to the descendants with --wait-all (default SIGTERM)",
    },
    OptSpec {
        id: OptId::ForwardTo,
        short: None,
        long: "forward-to",
        value: Some("child|group|all"),
        env: "PIDONE_FORWARD_TO",
        help: "who receives forwarded signals (default child)",
    },
    OptSpec {
        id: OptId::StopDelay,
        short: None,
        long: "stop-delay",
        value: Some("DURATION"),
        env: "PIDONE_STOP_DELAY",
        help: "hold SIGTERM this long before forwarding it",
    },
    OptSpec {
        id: OptId::User,
        short: None,
        long: "user",
        value: Some("USER[:GROUP]"),
        env: "PIDONE_USER",
        help: "run the child as this user (names from /etc/passwd and /etc/group)",
    },
    OptSpec {
        id: OptId::LogFormat,
        short: None,
        long: "log-format",
        value: Some("text|json"),
        env: "PIDONE_LOG_FORMAT",
        help: "diagnostics as text lines or JSON objects (default text)",
    },
];

/// A usage error: one line for stderr, exit code 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

fn find_short(c: char) -> Option<&'static OptSpec> {
    if c == 'L' {
        return OPTIONS.iter().find(|spec| spec.id == OptId::License);
    }
    OPTIONS.iter().find(|spec| spec.short == Some(c))
}

/// Exact long name, else a unique prefix (getopt_long accepts `--single` for `--single-child`).
fn find_long(name: &str) -> Result<&'static OptSpec, UsageError> {
    if let Some(spec) = OPTIONS.iter().find(|spec| spec.long == name) {
        return Ok(spec);
    }
    let mut matches = OPTIONS
        .iter()
        .filter(|spec| !name.is_empty() && spec.long.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(spec), None) => Ok(spec),
        (Some(_), Some(_)) => Err(UsageError(format!("option '--{name}' is ambiguous"))),
        _ => Err(UsageError(format!("unrecognized option '--{name}'"))),
    }
}

/// Parses `args` (including `argv[0]`).
pub fn parse(args: &[Vec<u8>]) -> Result<Request, UsageError> {
    let mut options = CliOptions::default();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let bytes = arg.as_slice();
        if bytes == b"--" {
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let long = String::from_utf8_lossy(long);
            let (name, attached) = match long.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (long.to_string(), None),
            };
            let spec = find_long(&name)?;
            let value = match (spec.value, attached) {
                (None, Some(_)) => {
                    return Err(UsageError(format!(
                        "option '--{}' takes no value",
                        spec.long
                    )));
                }
                (None, None) => None,
                (Some(_), Some(value)) => Some(value),
                (Some(_), None) => Some(next_value(&mut rest, &format!("--{}", spec.long))?),
            };
            if let Some(request) = apply(
                &mut options,
                spec,
                value.as_deref(),
                &format!("--{}", spec.long),
            )? {
                return Ok(request);
            }
            continue;
        }
        if bytes.len() > 1 && bytes.first() == Some(&b'-') {
            let cluster = String::from_utf8_lossy(bytes.get(1..).unwrap_or_default()).into_owned();
            for (index, c) in cluster.char_indices() {
                let Some(spec) = find_short(c) else {
                    return Err(UsageError(format!("invalid option -- '{c}'")));
                };
                let flag = format!("-{c}");
                let value = if spec.value.is_some() {
                    let attached = cluster.get(index + c.len_utf8()..).unwrap_or_default();
                    let value = if attached.is_empty() {
                        next_value(&mut rest, &flag)?
                    } else {
                        attached.to_string()
                    };
                    Some(value)
                } else {
                    None
                };
                let takes_value = value.is_some();
                if let Some(request) = apply(&mut options, spec, value.as_deref(), &flag)? {
                    return Ok(request);
                }
                if takes_value {
                    break;
                }
            }
            continue;
        }
        // First operand: it and everything after it is the command.
        options.command.push(arg.clone());
        break;
    }
    options.command.extend(rest.cloned());
    Ok(Request::Run(options))
}

fn next_value<'a>(
    rest: &mut impl Iterator<Item = &'a Vec<u8>>,
    flag: &str,
) -> Result<String, UsageError> {
    match rest.next() {
        Some(value) => Ok(String::from_utf8_lossy(value).into_owned()),
        None => Err(UsageError(format!("option '{flag}' requires a value"))),
    }
}

/// Records one option; returns a request when the option ends parsing (help, version, licence).
fn apply(
    options: &mut CliOptions,
    spec: &OptSpec,
    value: Option<&str>,
    flag: &str,
) -> Result<Option<Request>, UsageError> {
    let value = value.unwrap_or_default();
    let bad = |why: String| UsageError(format!("{flag}: {why}"));
    match spec.id {
        OptId::Help => return Ok(Some(Request::Help)),
        OptId::Version => return Ok(Some(Request::Version)),
        OptId::License => return Ok(Some(Request::License)),
        OptId::Verbose => options.verbose = options.verbose.saturating_add(1),
        OptId::Subreaper => options.subreaper = true,
        OptId::PdeathSignal => options.pdeath_signal = Some(signals::parse(value).map_err(bad)?),
        OptId::WarnOnReap => options.warn_on_reap = true,
        OptId::ProcessGroup => options.process_group = true,
        OptId::ExpectExit => options
            .expect_exit
            .push(parse::exit_code(value).map_err(bad)?),
        OptId::SingleChild => options.single_child = true,
        OptId::Rewrite => options.rewrites.push(parse::rewrite(value).map_err(bad)?),
        OptId::Pause => options.pause = true,
        OptId::GracePeriod => options.grace_period = Some(parse::duration(value).map_err(bad)?),
        OptId::WaitAll => options.wait_all = true,
        OptId::WaitAllSignal => options.wait_all_signal = Some(signals::parse(value).map_err(bad)?),
        OptId::ForwardTo => options.forward_to = Some(parse::forward_target(value).map_err(bad)?),
        OptId::StopDelay => options.stop_delay = Some(parse::duration(value).map_err(bad)?),
        OptId::User => options.user = Some(parse::user_spec(value).map_err(bad)?),
        OptId::LogFormat => options.log_format = Some(parse::log_format(value).map_err(bad)?),
    }
    Ok(None)
}

/// The help text for a persona: every option and every environment variable.
pub fn help(persona: Persona) -> String {
    let name = persona.name();
    let mut text = format!(
        "pidone {} - a tiny init for containers (persona: {name})\n\n\
         Usage: {name} [OPTIONS] [--] COMMAND [ARGS...]\n\n\
         Runs COMMAND as its child, forwards signals to it, reaps zombies and exits with the\n\
         child's exit code (128+N when it was killed by signal N).\n\nOptions:\n",
        env!("CARGO_PKG_VERSION")
    );
    for spec in OPTIONS {
        let short = spec
            .short
            .map(|c| format!("-{c}, "))
            .unwrap_or_else(|| "    ".to_string());
        let value = spec.value.map(|v| format!(" {v}")).unwrap_or_default();
        let flags = format!("{short}--{}{value}", spec.long);
        text.push_str(&format!("  {flags:<34} {}\n", spec.help));
        if !spec.env.is_empty() {
            text.push_str(&format!("  {:<34} env: {}\n", "", spec.env));
        }
    }
    text.push_str(
        "\nEnvironment (command-line flags win over the environment):\n\
         \x20 PIDONE_*                  one per option, as listed above\n\
         \x20 TINI_SUBREAPER            set (any value) = -s\n\
         \x20 TINI_KILL_PROCESS_GROUP   set (any value) = -g\n\
         \x20 TINI_VERBOSITY            verbosity level 0-4\n\
         \x20 DUMB_INIT_SETSID          0 = single-child mode (-c)\n\
         \x20 DUMB_INIT_DEBUG           1 = verbose\n\
         \x20 CATATONIT_DEBUG           set (any value) = verbose\n\
         \nExit codes: the child's code; 128+N if it was killed by signal N; 127 command not found;\n\
         126 command not executable; 1 usage error or failure to start.\n",
    );
    let persona_note = match persona {
        Persona::Pidone | Persona::Tini => {
            "Persona defaults (tini): signals go to the child only; the child gets its own\n\
             process group and the terminal's foreground.\n"
        }
        Persona::DumbInit => {
            "Persona defaults (dumb-init): the child starts a new session; signals go to its\n\
             process group; SIGTSTP/SIGTTIN/SIGTTOU are forwarded as SIGSTOP; the group gets\n\
             SIGTERM when the child exits. -c or DUMB_INIT_SETSID=0 turns this off.\n"
        }
        Persona::Catatonit => {
            "Persona defaults (catatonit): signals go to the child only (SIGTSTP included);\n\
             -P runs nothing and exits 0 on SIGTERM or SIGINT.\n"
        }
    };
    text.push('\n');
    text.push_str(persona_note);
    text
}

/// The version line Docker's `docker info` accepts: `tini version X - git.H`.
pub fn version_line() -> String {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("PIDONE_GIT_HASH") {
        Some(hash) if !hash.is_empty() => format!("tini version {version}_pidone - git.{hash}\n"),
        _ => format!("tini version {version}_pidone\n"),
    }
}

/// The licence text (`-l`, `-L`).
pub fn license() -> &'static str {
    include_str!("../LICENSE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<CliOptions, UsageError> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        match parse(&args)? {
            Request::Run(options) => Ok(options),
            other => Err(UsageError(format!("unexpected {other:?}"))),
        }
    }

    fn command(args: &[&str]) -> Vec<String> {
        run(args)
            .map(|o| {
                o.command
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn parsing_stops_at_the_first_operand() {
        assert_eq!(command(&["pidone", "ls", "-l"]), ["ls", "-l"]);
        assert_eq!(
            command(&["pidone", "-v", "echo", "-n", "--", "x"]),
            ["echo", "-n", "--", "x"]
        );
        assert_eq!(command(&["pidone", "--", "ls", "-l"]), ["ls", "-l"]);
        assert_eq!(command(&["pidone", "--", "--", "true"]), ["--", "true"]);
        assert_eq!(command(&["pidone", "--", "-v"]), ["-v"]);
        assert_eq!(command(&["pidone"]), Vec::<String>::new());
    }

    #[test]
    fn short_options_cluster_and_take_values() {
        let options = run(&[
            "pidone",
            "-vvg",
            "-e143",
            "-e",
            "2",
            "-pSIGKILL",
            "-r",
            "TERM:QUIT",
            "x",
        ]);
        let options = options.unwrap_or_default();
        assert_eq!(options.verbose, 2);
        assert!(options.process_group);
        assert_eq!(options.expect_exit, [143, 2]);
        assert_eq!(options.pdeath_signal, Some(9));
        assert_eq!(options.rewrites, [(15, 3)]);
    }

    #[test]
    fn long_options_with_values_and_prefixes() {
        let options = run(&[
            "pidone",
            "--grace-period=2s",
            "--stop-delay",
            "500ms",
            "--forward-to",
            "all",
            "--single",
            "--log-format=json",
            "--user",
            "app:grp",
            "--",
            "x",
        ])
        .unwrap_or_default();
        assert_eq!(options.grace_period, Some(Duration::from_secs(2)));
        assert_eq!(options.stop_delay, Some(Duration::from_millis(500)));
        assert_eq!(options.forward_to, Some(ForwardTarget::All));
        assert!(options.single_child);
        assert_eq!(options.log_format, Some(Format::Json));
        assert_eq!(options.user.map(|u| u.user), Some("app".to_string()));
    }

    #[test]
    fn help_version_license_requests() {
        for (args, want) in [
            (&["x", "-h"][..], Request::Help),
            (&["x", "--help"][..], Request::Help),
            (&["x", "--version"][..], Request::Version),
            (&["x", "-V"][..], Request::Version),
            (&["x", "-l"][..], Request::License),
            (&["x", "-L"][..], Request::License),
        ] {
            let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            assert_eq!(parse(&args), Ok(want));
        }
    }

    #[test]
    fn usage_errors_name_the_problem() {
        let err = |args: &[&str]| run(args).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(err(&["x", "-Z", "true"]), "invalid option -- 'Z'");
        assert_eq!(err(&["x", "--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(err(&["x", "-p"]), "option '-p' requires a value");
        assert_eq!(
            err(&["x", "-p", "NOPE", "true"]),
            "-p: invalid signal 'NOPE'"
        );
        assert_eq!(
            err(&["x", "-e", "256", "true"]),
            "-e: invalid exit code '256' (0..=255)"
        );
        assert_eq!(
            err(&["x", "--wait-all=1"]),
            "option '--wait-all' takes no value"
        );
        assert!(err(&["x", "--w"]).contains("ambiguous"));
    }

    #[test]
    fn personas_from_argv0() {
        for (name, persona) in [
            ("/sbin/docker-init", Persona::Tini),
            ("tini", Persona::Tini),
            ("/usr/bin/dumb-init", Persona::DumbInit),
            ("/run/podman-init", Persona::Catatonit),
            ("catatonit", Persona::Catatonit),
            ("/init", Persona::Pidone),
            ("pidone", Persona::Pidone),
        ] {
            assert_eq!(Persona::from_argv0(name.as_bytes()), persona, "{name}");
        }
    }

    #[test]
    fn version_line_matches_dockers_rule() {
        let line = version_line();
        let rest = line
            .trim_end()
            .strip_prefix("tini version ")
            .unwrap_or_default();
        let version = rest.split(" - ").next().unwrap_or_default();
        assert!(!version.is_empty(), "{line}");
        if let Some(commit) = rest.split(" - ").nth(1) {
            assert!(commit.starts_with("git."), "{line}");
        }
    }

    #[test]
    fn help_lists_every_option_and_variable() {
        for persona in [
            Persona::Pidone,
            Persona::Tini,
            Persona::DumbInit,
            Persona::Catatonit,
        ] {
            let text = help(persona);
            assert!(text.contains(persona.name()));
            for spec in OPTIONS {
                assert!(text.contains(&format!("--{}", spec.long)), "{}", spec.long);
                assert!(text.contains(spec.env), "{}", spec.env);
            }
        }
    }
}
