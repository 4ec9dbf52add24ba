//! The command line: personas, one clap [`Command`] per persona, help and version text.
//!
//! One command accepts the union of tini's, dumb-init's and catatonit's options (their letters do
//! not clash) plus pidone's own long options. It keeps getopt's `+` semantics: short options
//! cluster (`-vvg`, `-e143`), values may be attached or separate, long options take unique
//! prefixes, and parsing stops at the first operand or at the first `--`, so everything after
//! belongs to the child untouched (non-UTF-8 bytes included). `PIDONE_*` variables that mean
//! exactly what their flag means are read by clap (`Arg::env`); the lists (`PIDONE_EXPECT_EXIT`,
//! `PIDONE_REWRITE`), the level `PIDONE_VERBOSITY` and the anchors' own variables are read by
//! [`crate::config`], with their own semantics.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

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

    /// Whose defaults this persona has, as the README names them: `tini's defaults`.
    pub fn defaults(self) -> &'static str {
        match self {
            Persona::Pidone | Persona::Tini => "tini's defaults",
            Persona::DumbInit => "dumb-init's defaults",
            Persona::Catatonit => "catatonit's defaults",
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

/// Everything given on the command line, and the `PIDONE_*` variables clap reads for its flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliOptions {
    /// `-s`: register as subreaper (automatic anyway).
    pub subreaper: bool,
    /// `-p SIGNAL`: parent-death signal for pidone.
    pub pdeath_signal: Option<i32>,
    /// Number of `-v` (clap's count saturates at 255).
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
    /// `--grace-signals`.
    pub grace_signals: Option<signals::SignalSet>,
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

/// A usage error: one line for stderr, exit code 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The help text of an option read from the variable `$name`: clap's own `[env: NAME]` suffix is
/// hidden and the text names the variable on a line of its own, so each option's text fits 80
/// columns (the variable's value never shows). Put together at compile time: building it with
/// `format!` cost every start of pidone 40,000 instructions.
macro_rules! env_help {
    ($help:literal, $name:literal) => {
        concat!($help, "\n[env: ", $name, "]")
    };
}

/// `arg`, read from the variable `name` when the command line does not give it.
fn with_env(arg: Arg, name: &'static str, help: &'static str) -> Arg {
    arg.env(name).hide_env(true).help(help)
}

/// A flag that takes no value.
fn flag(id: &'static str, short: char) -> Arg {
    Arg::new(id)
        .short(short)
        .long(id)
        .action(ArgAction::SetTrue)
}

/// A flag with its boolean `PIDONE_*` variable.
fn bool_flag(id: &'static str, short: char, name: &'static str, help: &'static str) -> Arg {
    with_env(flag(id, short), name, help).value_parser(parse::boolean)
}

/// An option that takes one value, read from its `PIDONE_*` variable when the flag is absent.
fn option(
    id: &'static str,
    value_name: &'static str,
    name: &'static str,
    help: &'static str,
) -> Arg {
    let arg = Arg::new(id)
        .long(id)
        .value_name(value_name)
        // getopt takes the next argument as the value whatever it looks like (`-1s`, `-v`).
        .allow_hyphen_values(true);
    with_env(arg, name, help)
}

/// [`bool_flag`] with its help text from [`env_help`].
macro_rules! env_flag {
    ($id:literal, $short:literal, $name:literal, $help:literal) => {
        bool_flag($id, $short, $name, env_help!($help, $name))
    };
}

/// [`option`] with its help text from [`env_help`].
macro_rules! env_option {
    ($id:literal, $value_name:literal, $name:literal, $help:literal) => {
        option($id, $value_name, $name, env_help!($help, $name))
    };
}

/// One line for the help's head and the man page's NAME: what pidone is, whose defaults apply.
fn about(persona: Persona) -> String {
    format!("a tiny init for containers, with {}", persona.defaults())
}

/// What pidone does with COMMAND: under the head of the help, and the man page's DESCRIPTION.
const DESCRIPTION: &str = "Runs COMMAND as its child, forwards signals to it, reaps zombies and \
                           exits\nwith the child's exit code (128+N when it was killed by signal N).";

/// The text below the options: the anchors' variables, exit codes, the persona's defaults.
fn after_help(persona: Persona) -> String {
    let persona_note = match persona {
        Persona::Pidone | Persona::Tini => {
            "tini's defaults: signals go to the child only; the child gets its own process\n\
             group and the terminal's foreground."
        }
        Persona::DumbInit => {
            "dumb-init's defaults: the child starts a new session; signals go to its process\n\
             group; SIGTSTP/SIGTTIN/SIGTTOU are forwarded as SIGSTOP; the group gets SIGTERM\n\
             when the child exits. -c or DUMB_INIT_SETSID=0 turns this off."
        }
        Persona::Catatonit => {
            "catatonit's defaults: signals go to the child only (SIGTSTP included); -P runs\n\
             nothing and exits 0 on SIGTERM or SIGINT."
        }
    };
    format!(
        "Signals: a name (TERM, SIGTERM, RTMIN+3) or a number (15), lists with commas.\n\
         Durations: 10s, 500ms, 1m, 1h or a number of seconds.\n\n\
         Environment (a flag wins over its PIDONE_* variable, which wins over these):\n\
         \x20 PIDONE_VERBOSITY          verbosity level 0-4 (default 1)\n\
         \x20 PIDONE_EXPECT_EXIT        exit codes for -e, comma-separated: 0,143\n\
         \x20 PIDONE_REWRITE            rewrites for -r, comma-separated: TERM:QUIT,USR1:0\n\
         \x20 TINI_SUBREAPER            set (any value) = -s\n\
         \x20 TINI_KILL_PROCESS_GROUP   set (any value) = -g\n\
         \x20 TINI_VERBOSITY            verbosity level 0-4\n\
         \x20 DUMB_INIT_SETSID          0 = single-child mode (-c)\n\
         \x20 DUMB_INIT_DEBUG           1 = verbose\n\
         \x20 CATATONIT_DEBUG           set (any value) = verbose\n\
         Boolean PIDONE_* variables take 1/0, true/false, yes/no, on/off.\n\n\
         Exit codes: the child's code; 128+N if it was killed by signal N; 127 command\n\
         not found; 126 command not executable; 1 usage error or failure to start;\n\
         0 for -h, -V, -l.\n\n\
         {persona_note}"
    )
}

/// The one usage line, the same in the help and in errors.
pub fn usage(program: &str) -> String {
    format!("{program} [OPTIONS] [--] COMMAND [ARGS...]")
}

/// What ends every usage error: where to read more.
pub fn help_hint(program: &str) -> String {
    format!("try '{program} --help'")
}

/// The name pidone was invoked as: `argv[0]`'s file name (`pidone` when there is none). Every
/// diagnostic starts with it, as `tini: ...` when it runs as tini.
pub fn program_name(args: &[Vec<u8>]) -> String {
    let file_name = args
        .first()
        .and_then(|arg0| arg0.rsplit(|&b| b == b'/').next())
        .filter(|name| !name.is_empty());
    file_name.map_or_else(
        || "pidone".to_string(),
        |name| String::from_utf8_lossy(name).into_owned(),
    )
}

/// The whole command line of `persona`: every option, its variable, help and usage. The man page
/// is generated from exactly this.
pub fn command(persona: Persona) -> Command {
    Command::new(persona.name())
        .version(env!("CARGO_PKG_VERSION"))
        .about(about(persona))
        .long_about(format!("{}\n\n{DESCRIPTION}", about(persona)))
        // Help's head is `NAME VERSION - about`, then the description; -h and --help print the
        // same compact help (the long form would only spread the same text over more lines).
        .help_template(format!(
            "{{name}} {{version}} - {{about-with-newline}}\n{DESCRIPTION}\n\n\
             {{usage-heading}} {{usage}}\n\n{{all-args}}{{after-help}}"
        ))
        .after_help(after_help(persona))
        // Each option's text on its own line under it, so the help fits 80 columns.
        .next_line_help(true)
        // Help and version are pidone's own flags: -V prints Docker's `tini version` line.
        .disable_help_flag(true)
        .disable_version_flag(true)
        // getopt_long accepts unique prefixes (`--single`); a flag given twice is no error.
        .infer_long_args(true)
        .args_override_self(true)
        .args([
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("print this help and exit"),
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::SetTrue)
                .help("print the version (in the 'tini version' form Docker reads) and exit"),
            Arg::new("license")
                .short('l')
                .long("license")
                .visible_short_alias('L')
                .alias("licence")
                .action(ArgAction::SetTrue)
                .help("print the licence and exit (-l as tini, -L as catatonit)"),
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::Count)
                .help("more diagnostics on stderr; repeat for more (or PIDONE_VERBOSITY)"),
            env_flag!(
                "subreaper",
                's',
                "PIDONE_SUBREAPER",
                "register as child subreaper (automatic when not PID 1)"
            ),
            env_option!(
                "pdeath-signal",
                "SIGNAL",
                "PIDONE_PDEATH_SIGNAL",
                "signal pidone gets (and forwards) when its parent dies"
            )
            .short('p')
            .value_parser(signals::parse),
            env_flag!(
                "warn-on-reap",
                'w',
                "PIDONE_WARN_ON_REAP",
                "warn about every reaped process that is not the main child"
            ),
            flag("process-group", 'g')
                .help("forward signals to the child's process group (= --forward-to group)"),
            Arg::new("expect-exit")
                .short('e')
                .long("expect-exit")
                .value_name("CODE")
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .value_parser(parse::exit_code)
                .help("exit 0 when the child exits with CODE (after 128+N); repeatable"),
            env_flag!(
                "single-child",
                'c',
                "PIDONE_SINGLE_CHILD",
                "dumb-init: no new session; signal the child only"
            ),
            Arg::new("rewrite")
                .short('r')
                .long("rewrite")
                .value_name("FROM:TO")
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .value_parser(parse::rewrite)
                .help("forward signal FROM as TO (TO=0 drops it); repeatable"),
            env_flag!(
                "pause",
                'P',
                "PIDONE_PAUSE",
                "pause mode: run nothing, reap zombies, exit 0 on SIGTERM or SIGINT"
            ),
            env_option!(
                "grace-period",
                "DURATION",
                "PIDONE_GRACE_PERIOD",
                "SIGKILL what signals go to this long after a stop signal"
            )
            .value_parser(parse::duration),
            env_option!(
                "grace-signals",
                "SIGNALS",
                "PIDONE_GRACE_SIGNALS",
                "received signals that start --grace-period (default TERM,INT)"
            )
            .value_parser(parse::signal_list),
            with_env(
                Arg::new("wait-all")
                    .long("wait-all")
                    .action(ArgAction::SetTrue)
                    .value_parser(parse::boolean),
                "PIDONE_WAIT_ALL",
                env_help!(
                    "when the child exits, stop the other descendants and wait for them",
                    "PIDONE_WAIT_ALL"
                ),
            ),
            env_option!(
                "wait-all-signal",
                "SIGNAL",
                "PIDONE_WAIT_ALL_SIGNAL",
                "what --wait-all sends the descendants (default SIGTERM)"
            )
            .value_parser(signals::parse),
            env_option!(
                "forward-to",
                "child|group|all",
                "PIDONE_FORWARD_TO",
                "who receives forwarded signals (default child)"
            )
            .value_parser(parse::forward_target),
            env_option!(
                "stop-delay",
                "DURATION",
                "PIDONE_STOP_DELAY",
                "hold SIGTERM this long before forwarding it"
            )
            .value_parser(parse::duration),
            env_option!(
                "user",
                "USER[:GROUP]",
                "PIDONE_USER",
                "run the child as this user (names: /etc/passwd, /etc/group)"
            )
            .value_parser(parse::user_spec),
            env_option!(
                "log-format",
                "text|json",
                "PIDONE_LOG_FORMAT",
                "diagnostics as text lines or JSON objects (default text)"
            )
            .value_parser(parse::log_format),
            // The first operand ends the options: it and everything after are the child's argv,
            // byte for byte. Only the first `--` is an end of options; a later one is an argument.
            Arg::new("command")
                .value_name("COMMAND")
                .num_args(1..)
                .trailing_var_arg(true)
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(OsString))
                .help("the program to run and its arguments"),
        ])
}

/// Parses `args` (including `argv[0]`, which chose the persona and names the program in errors).
pub fn parse(args: &[Vec<u8>]) -> Result<Request, UsageError> {
    let persona = args
        .first()
        .map_or(Persona::Pidone, |arg0| Persona::from_argv0(arg0));
    let program = program_name(args);
    let os_args = args.iter().map(|a| OsString::from_vec(a.clone()));
    let matches = match command(persona).try_get_matches_from(os_args) {
        Ok(matches) => matches,
        Err(error) if error.kind() == ErrorKind::DisplayHelp => return Ok(Request::Help),
        Err(error) => {
            let message = usage_error(persona, &error);
            return Err(UsageError(format!("{message}; {}", help_hint(&program))));
        }
    };
    if matches.get_flag("version") {
        return Ok(Request::Version);
    }
    if matches.get_flag("license") {
        return Ok(Request::License);
    }
    let options = options_from(&matches);
    if options.command.is_empty() && !options.pause {
        return Err(UsageError(format!(
            "no command given (usage: {}); {}",
            usage(&program),
            help_hint(&program)
        )));
    }
    Ok(Request::Run(options))
}

fn one<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Option<T> {
    matches.get_one::<T>(id).cloned()
}

fn all<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Vec<T> {
    matches
        .get_many::<T>(id)
        .map(|values| values.cloned().collect())
        .unwrap_or_default()
}

fn options_from(matches: &ArgMatches) -> CliOptions {
    let process_group = matches.get_flag("process-group");
    // `-g` on the command line wins over PIDONE_FORWARD_TO; `--forward-to` wins over both.
    let forward_to = match matches.value_source("forward-to") {
        Some(ValueSource::EnvVariable) if process_group => None,
        _ => one(matches, "forward-to"),
    };
    CliOptions {
        subreaper: matches.get_flag("subreaper"),
        pdeath_signal: one(matches, "pdeath-signal"),
        verbose: matches.get_count("verbose"),
        warn_on_reap: matches.get_flag("warn-on-reap"),
        process_group,
        expect_exit: all(matches, "expect-exit"),
        single_child: matches.get_flag("single-child"),
        rewrites: all(matches, "rewrite"),
        pause: matches.get_flag("pause"),
        grace_period: one(matches, "grace-period"),
        grace_signals: one(matches, "grace-signals"),
        wait_all: matches.get_flag("wait-all"),
        wait_all_signal: one(matches, "wait-all-signal"),
        forward_to,
        stop_delay: one(matches, "stop-delay"),
        user: one(matches, "user"),
        log_format: one(matches, "log-format"),
        command: matches
            .get_many::<OsString>("command")
            .map(|values| values.map(|v| v.as_bytes().to_vec()).collect())
            .unwrap_or_default(),
    }
}

/// One line for a clap error, without the hint. A bad `PIDONE_*` value names the variable.
fn usage_error(persona: Persona, error: &clap::Error) -> String {
    if let Some(message) = bad_variable(persona, error) {
        return message;
    }
    // clap's message says what is wrong (it may quote a value with newlines: log::fatal escapes
    // them); tips, usage and "try --help" follow after a blank line.
    let rendered = error.render().to_string();
    let end = ["\n\n  tip:", "\n\nUsage:", "\n\nFor more information"]
        .iter()
        .filter_map(|section| rendered.find(section))
        .min()
        .unwrap_or(rendered.len());
    let text = rendered.get(..end).unwrap_or_default().trim_end();
    let mut message = text.strip_prefix("error: ").unwrap_or(text).to_string();
    // A prefix of several long options is unknown to clap; say which options it could mean.
    if error.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg)
        && let Some(prefix) = given.strip_prefix("--").filter(|p| !p.is_empty())
    {
        let command = command(persona);
        let candidates: Vec<String> = command
            .get_arguments()
            .filter_map(Arg::get_long)
            .filter(|long| long.starts_with(prefix))
            .map(|long| format!("--{long}"))
            .collect();
        if candidates.len() > 1 {
            message = format!("{message} (ambiguous: {})", candidates.join(", "));
        }
    }
    message
}

/// `VARIABLE: reason` when the rejected value came from a `PIDONE_*` variable. clap names the
/// argument (`--grace-period <DURATION>`) and the value it rejected; it reads a variable only
/// for a flag the command line did not give, so the variable is to blame when it holds exactly
/// that value. clap names no argument for invalid UTF-8: then the first variable that is not
/// UTF-8 is named (it is invalid whichever flag clap tripped on).
fn bad_variable(persona: Persona, error: &clap::Error) -> Option<String> {
    let command = command(persona);
    let mut variables = command
        .get_arguments()
        .filter_map(|arg| Some((arg, arg.get_env()?)));
    let (name, why) = match (error.kind(), error.get(ContextKind::InvalidArg)) {
        (ErrorKind::InvalidUtf8, _) => {
            let (_, name) = variables
                .find(|(_, name)| std::env::var_os(name).is_some_and(|v| v.to_str().is_none()))?;
            (name, "not valid UTF-8".to_string())
        }
        (ErrorKind::ValueValidation, Some(ContextValue::String(rendered))) => {
            let (_, name) = variables.find(|(arg, _)| {
                arg.get_long().is_some_and(|long| {
                    let named = format!("--{long}");
                    *rendered == named || rendered.starts_with(&format!("{named} "))
                })
            })?;
            let rejected = match error.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(rejected)) => rejected,
                _ => return None,
            };
            if std::env::var_os(name)?.as_bytes() != rejected.as_bytes() {
                return None;
            }
            let why = std::error::Error::source(error)
                .map_or_else(|| "invalid value".to_string(), ToString::to_string);
            (name, why)
        }
        _ => return None,
    };
    Some(format!("{}: {why}", name.to_string_lossy()))
}

/// The help text for a persona invoked as `program`, generated by clap from [`command`].
pub fn help(persona: Persona, program: &str) -> String {
    command(persona)
        .display_name(program)
        .override_usage(usage(program))
        .render_help()
        .to_string()
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

    fn child_argv(args: &[&str]) -> Vec<String> {
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
        assert_eq!(child_argv(&["pidone", "ls", "-l"]), ["ls", "-l"]);
        assert_eq!(
            child_argv(&["pidone", "-v", "echo", "-n", "--", "x"]),
            ["echo", "-n", "--", "x"]
        );
        assert_eq!(child_argv(&["pidone", "--", "ls", "-l"]), ["ls", "-l"]);
        assert_eq!(child_argv(&["pidone", "--", "--", "true"]), ["--", "true"]);
        assert_eq!(child_argv(&["pidone", "--", "-v"]), ["-v"]);
        assert!(run(&["pidone"]).is_err(), "no command");
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
    fn usage_errors_name_the_problem_on_one_line() {
        let err = |args: &[&str]| run(args).err().map(|e| e.0).unwrap_or_default();
        for (args, needles) in [
            (&["x", "-Z", "true"][..], &["'-Z'"][..]),
            (&["x", "--bogus"], &["'--bogus'"]),
            (&["x", "-p"], &["--pdeath-signal", "value"]),
            (
                &["x", "-p", "NOPE", "true"],
                &["invalid signal 'NOPE'", "TERM, SIGTERM or RTMIN+3"],
            ),
            (&["x", "-e", "256", "true"], &["invalid exit code '256'"]),
            (&["x", "--wait-all=1"], &["'1'", "--wait-all"]),
            (&["x", "--w"], &["'--w'", "ambiguous", "--wait-all-signal"]),
            (&["x", "--wait-all-signal", "0"], &["'0'", "out of range"]),
            (&["x", "--forward-to", "x"], &["invalid target 'x'"]),
            (&["x", "--log-format", "xml"], &["invalid log format 'xml'"]),
            (&["x", "-r", "TERM"], &["invalid rewrite 'TERM'"]),
            (&["x", "--user", ""], &["invalid user ''"]),
            (&["x", "--stop-delay", "1y"], &["invalid duration '1y'"]),
            (&["x", "--stop-delay", "-1s"], &["invalid duration '-1s'"]),
            (&["x", "-e", "-1"], &["invalid exit code '-1'"]),
            (&["x", "-p", "-v", "true"], &["invalid signal '-v'"]),
            (&["x", "-r", "--", "true"], &["invalid rewrite '--'"]),
        ] {
            let message = err(args);
            assert!(!message.contains('\n'), "{args:?}: {message:?}");
            assert!(!message.starts_with("error"), "{args:?}: {message:?}");
            for needle in needles {
                assert!(message.contains(needle), "{args:?}: {message:?}");
            }
        }
    }

    #[test]
    fn flags_may_repeat_and_the_last_value_wins() {
        let options = run(&["x", "-s", "-s", "-gg", "-pTERM", "-p", "HUP", "--", "y"]);
        let options = options.unwrap_or_default();
        assert!(options.subreaper && options.process_group);
        assert_eq!(options.pdeath_signal, Some(1));
        assert_eq!(options.command, [b"y".to_vec()]);
    }

    #[test]
    fn three_hundred_v_saturate() {
        let mut args = vec!["x"; 301];
        args.push("true");
        for arg in args.iter_mut().skip(1).take(300) {
            *arg = "-v";
        }
        assert_eq!(run(&args).map(|o| o.verbose), Ok(u8::MAX));
        let cluster = format!("-{}", "v".repeat(300));
        assert_eq!(
            run(&["x", &cluster, "true"]).map(|o| o.verbose),
            Ok(u8::MAX)
        );
    }

    #[test]
    fn the_command_passes_byte_for_byte() {
        let args: Vec<Vec<u8>> = vec![
            b"pidone".to_vec(),
            b"-v".to_vec(),
            b"prog\xff".to_vec(),
            b"--\xfe".to_vec(),
            b"-\x80".to_vec(),
            b"--".to_vec(),
            Vec::new(),
        ];
        match parse(&args) {
            Ok(Request::Run(options)) => assert_eq!(Some(&options.command[..]), args.get(2..)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_has_no_escape_codes() {
        assert!(!help(Persona::Pidone, "pidone").contains('\x1b'));
    }

    const PERSONAS: [(Persona, &str); 4] = [
        (Persona::Pidone, "init"),
        (Persona::Tini, "tini"),
        (Persona::DumbInit, "dumb-init"),
        (Persona::Catatonit, "podman-init"),
    ];

    /// Every line of every persona's help fits 80 columns, and it names the program as invoked
    /// in its head and its one usage line, which the errors repeat.
    #[test]
    fn help_fits_80_columns_and_names_the_program() {
        for (persona, program) in PERSONAS {
            let text = help(persona, program);
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{program}: {line:?}");
            }
            assert!(text.starts_with(&format!("{program} ")), "{text}");
            assert!(
                text.contains(&format!("Usage: {}\n", usage(program))),
                "{text}"
            );
            assert!(
                text.contains(&format!("with {}", persona.defaults())),
                "{text}"
            );
        }
        let args = vec![b"/sbin/docker-init".to_vec()];
        let missing = parse(&args).err().map(|e| e.0).unwrap_or_default();
        assert!(missing.contains(&usage("docker-init")), "{missing}");
    }

    /// Every usage error ends with a hint naming the program as invoked.
    #[test]
    fn usage_errors_end_with_a_help_hint() {
        for (_, program) in PERSONAS {
            for bad in [
                &["--frobnicate"][..],
                &["-p", "NOPE", "x"],
                &[],
                &["--grace-period"],
            ] {
                let mut args = vec![format!("/usr/bin/{program}").into_bytes()];
                args.extend(bad.iter().map(|a| a.as_bytes().to_vec()));
                let message = parse(&args).err().map(|e| e.0).unwrap_or_default();
                assert!(
                    message.ends_with(&format!("; try '{program} --help'")),
                    "{program} {bad:?}: {message}"
                );
            }
        }
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
            let text = help(persona, persona.name());
            let command = super::command(persona);
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    assert!(text.contains(&format!("--{long}")), "{long}");
                }
                if let Some(short) = arg.get_short() {
                    assert!(text.contains(&format!("-{short}, --")), "{short}");
                }
                if let Some(env) = arg.get_env().and_then(|e| e.to_str()) {
                    assert!(text.contains(env), "{env}");
                }
            }
            for variable in [
                "PIDONE_VERBOSITY",
                "PIDONE_EXPECT_EXIT",
                "PIDONE_REWRITE",
                "TINI_SUBREAPER",
                "TINI_KILL_PROCESS_GROUP",
                "TINI_VERBOSITY",
                "DUMB_INIT_SETSID",
                "DUMB_INIT_DEBUG",
                "CATATONIT_DEBUG",
                "Exit codes",
            ] {
                assert!(text.contains(variable), "{variable}");
            }
        }
    }
}
