//! pidone: a tiny, correct PID 1 for containers.
//!
//! pidone runs one command as its child, forwards every catchable signal to it, reaps every
//! zombie, and exits with the child's status. It is a drop-in for tini, dumb-init and catatonit
//! (chosen by the name it is invoked as) and adds opt-in grace-period escalation, waiting for all
//! descendants, a pre-stop delay, privilege dropping and JSON logs.
//!
//! # Lifecycle
//! 1. `main` blocks every blockable signal; [`cli`] parses the command line with clap (getopt's rules: clusters, stopping at the first
//!    operand or `--`); [`config`] merges it with the environment and the persona's defaults.
//! 2. Set-up, where any failure ends pidone with one line on stderr: `--user` is resolved
//!    ([`user`]); a signalfd is opened; pidone becomes a subreaper when it is not PID 1; the
//!    child is spawned ([`spawn`]) with the signal mask pidone inherited and its environment
//!    ([`environment`]). Every blockable signal was blocked first thing in `main`
//!    ([`sys::Startup`]), before parsing, so a signal sent at any point of start-up waits for
//!    the loop instead of being discarded by the kernel (it does that to a namespace's PID 1
//!    for signals that are neither blocked nor handled).
//! 3. pidone moves to `/` and closes the descriptors it inherited, then enters the loop
//!    ([`supervise`]): signals are forwarded by number, SIGCHLD triggers a reap sweep ([`reap`]).
//! 4. When the main child has been reaped, pidone finishes the sweep and exits ([`status`]).
//!
//! # Invariants
//! - Once the child runs, only the main child's exit ends pidone; errors are logged and the loop
//!   goes on. No panics on runtime paths (no unwrap/expect/indexing); `panic = "abort"` would end
//!   pidone visibly rather than unwind half-way through a state change.
//! - Logging never panics and never kills pidone ([`log`]).
//! - No periodic wake-ups: the loop blocks with no timeout unless a timer is armed.
//! - All `unsafe` lives in [`sys`], except in `main.rs`: the C entry point (`#[unsafe(no_mangle)]`)
//!   and the one call that reads the C `argv`. Within `sys`, nix makes the system calls wherever
//!   its types fit; each remaining libc call says why nix cannot.
//! - The child inherits exactly the signal mask and dispositions pidone inherited: `main.rs` is
//!   `#![no_main]`, so Rust's start-up never sets SIGPIPE to SIG_IGN.
//!
//! # Exit codes
//! | situation | code |
//! |---|---|
//! | child exited with N | N (0 if N was given to `-e`) |
//! | child killed by signal N | 128 + N |
//! | command not found | 127 |
//! | command found but not executable, a directory, permission denied | 126 |
//! | usage error, other failure to start | 1 |
//! | `-h`, `--version`, `-l`/`-L`; pause mode on SIGTERM/SIGINT | 0 |

pub mod cli;
pub mod config;
pub mod environment;
pub mod log;
pub mod parse;
pub mod reap;
pub mod signals;
pub mod spawn;
pub mod status;
pub mod supervise;
pub mod sys;
pub mod tree;
pub mod user;

use std::ffi::CStr;

use cli::{Persona, Request};
use config::Config;
use log::Level;
use signals::SignalSet;
use spawn::{Inherited, StartError};
use supervise::Supervisor;
use sys::{Session, Startup};

/// Runs pidone with `args` (including `argv[0]`) and its raw `environment`, after `startup`
/// has blocked every signal. Returns the exit code of help, version, licence and start-up
/// failures; once the child runs, the process ends in the supervisor with the child's status
/// and this never returns.
pub fn run(args: Vec<Vec<u8>>, environment: Vec<&'static CStr>, startup: Startup) -> i32 {
    let persona = args
        .first()
        .map_or(Persona::Pidone, |arg0| Persona::from_argv0(arg0));
    let program = cli::program_name(&args);
    let in_log_lines = if persona == Persona::Tini {
        "tini"
    } else {
        &program
    };
    log::name(&program, in_log_lines);
    let options = match cli::parse(&args) {
        Ok(Request::Run(options)) => options,
        Ok(Request::Help) => return print(&cli::help(persona, &program)),
        Ok(Request::Version) => return print(&cli::version_line()),
        Ok(Request::License) => return print(cli::license()),
        Err(cli::UsageError(message)) => {
            log::fatal(&message);
            return 1;
        }
    };
    // From here on a failure is reported in the format asked for.
    log::init(Level::Warn, options.log_format.unwrap_or_default());
    let lookup = |name: &str| std::env::var_os(name).map(std::os::unix::ffi::OsStringExt::into_vec);
    let config = match Config::build(persona, options, &lookup) {
        Ok(config) => config,
        Err(message) => {
            log::fatal(&format!("{message}; {}", cli::help_hint(&program)));
            return 1;
        }
    };
    log::init(config.verbosity, config.log_format);
    match start(&config, &environment, startup) {
        Ok(supervisor) => supervisor.run(),
        Err(error) => {
            log::fatal(&error.message);
            error.exit_code
        }
    }
}

/// Prints help, version or licence; a closed or broken stdout is ignored (exit 0 all the same).
fn print(text: &str) -> i32 {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    0
}

fn setup_error(what: &str, error: sys::Errno) -> StartError {
    StartError {
        message: format!("{what}: {}", error.desc()),
        exit_code: 1,
    }
}

/// Set-up: everything that may still fail before the child runs.
fn start<'a>(
    config: &'a Config,
    environment: &[&CStr],
    startup: Startup,
) -> Result<Supervisor<'a>, StartError> {
    let inherited_mask = startup
        .inherited_mask
        .map_err(|e| setup_error("cannot block signals", e))?;
    let user = match &config.user {
        Some(spec) => Some(user::resolve(spec).map_err(|why| StartError {
            message: format!("--user: {why}"),
            exit_code: 1,
        })?),
        None => None,
    };
    let sigchld_ignored =
        sys::reset_ignored_sigchld().map_err(|e| setup_error("cannot reset SIGCHLD", e))?;
    let signals = sys::SignalSource::open(SignalSet::blockable())
        .map_err(|e| setup_error("cannot create a signalfd", e))?;
    if sys::own_pid() != 1
        && let Err(error) = sys::set_child_subreaper()
    {
        log::warn(
            "subreaper_failed",
            &format!(
                "cannot register as child subreaper ({}); orphans will not be reaped by pidone",
                error.desc()
            ),
        );
    }
    // The parent may have died before the parent-death signal was armed: the kernel then never
    // sends it, so pidone acts on it itself (a parent that changed since `main` began is gone).
    let mut parent_died = None;
    if let Some(sig) = config.pdeath_signal {
        sys::set_parent_death_signal(sig)
            .map_err(|e| setup_error("cannot set the parent-death signal", e))?;
        if sys::parent_pid() != startup.parent {
            parent_died = Some(sig);
        }
    }
    let mut detached_tty = false;
    let child = if config.pause {
        None
    } else {
        let session = if config.new_session {
            if sys::stdin_is_tty() {
                detached_tty = sys::detach_controlling_tty().is_ok();
            }
            Session::NewSession
        } else {
            Session::OwnGroup
        };
        let inherited = Inherited {
            mask: inherited_mask,
            sigchld_ignored,
        };
        let pid = spawn::spawn_child(
            &config.command,
            environment,
            session,
            &inherited,
            user.as_ref(),
        )?;
        if log::enabled(Level::Info) {
            let program = config
                .command
                .first()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            log::event(
                Level::Info,
                "child_started",
                &format!("Spawned child process '{program}' with pid '{pid}'"),
                &[
                    log::Field::Int("pid", pid.into()),
                    log::Field::Args("argv", &config.command),
                ],
            );
        }
        Some(pid)
    };
    // pidone must not pin a mount or hold the files it inherited; the child has its own copies.
    let _ = sys::chdir_root();
    sys::close_inherited_fds(signals.raw_fd());
    let supervisor = Supervisor::new(config, signals, child, detached_tty);
    Ok(match parent_died {
        Some(sig) => supervisor.with_pending_signal(sig),
        None => supervisor,
    })
}
