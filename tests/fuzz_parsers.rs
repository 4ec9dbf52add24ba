//! Parser fuzzing on stable Rust (cargo-fuzz needs nightly): a deterministic xorshift PRNG feeds
//! random strings and mutations of a seed corpus of valid values into every parser of user input.
//! Properties checked on every execution:
//! - no panic (a panic fails the test; the release profile aborts, which fails it too);
//! - every rejection is a non-empty, single-line message (what pidone prints after `pidone: `);
//! - accepted values are consistent: signal names round-trip, durations stay within 30 days and
//!   re-parse from their formatted form, exit-code lists have one code per item, user specs keep
//!   their parts, `Config::build` errors name the variable or the missing command.
//!
//! The normal suite runs `PIDONE_FUZZ_EXECS` executions in total (default 200,000, a few seconds);
//! with `PIDONE_LONG_TESTS=1` the default is 10,000,000. The seed is fixed (override with
//! `PIDONE_FUZZ_SEED`) so a failure is reproducible; each test prints its executions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::time::Instant;

use pidone::cli::{self, CliOptions, Persona, Request};
use pidone::config::Config;
use pidone::parse;
use pidone::signals;
use pidone::user;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Bytes that matter to the parsers, plus anything.
const INTERESTING: &[u8] = b"0123456789:,.+-=sSmhHtTrRiInNxX \t\n\0\\'\"/";

fn seed() -> u64 {
    std::env::var("PIDONE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1D0E)
}

fn total_execs() -> u64 {
    let long = std::env::var("PIDONE_LONG_TESTS").is_ok_and(|v| v == "1");
    std::env::var("PIDONE_FUZZ_EXECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if long { 10_000_000 } else { 200_000 })
}

/// A random input: a mutation of a corpus entry most of the time, else random bytes. Invalid
/// UTF-8 is kept for the parsers that take `OsString`s; `as_text` makes it lossy for `&str` ones.
fn input(rng: &mut Rng, corpus: &[&str]) -> Vec<u8> {
    let mut bytes: Vec<u8> = if rng.chance(4) {
        let len = rng.below(24);
        (0..len)
            .map(|_| {
                if rng.chance(2) {
                    *rng.pick(INTERESTING)
                } else {
                    rng.next() as u8
                }
            })
            .collect()
    } else {
        rng.pick(corpus).as_bytes().to_vec()
    };
    for _ in 0..rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(7) {
            0 => bytes.insert(at, *rng.pick(INTERESTING)),
            1 => bytes.insert(at, rng.next() as u8),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 if at < bytes.len() => bytes[at] = *rng.pick(INTERESTING),
            4 => {
                let other = rng.pick(corpus).as_bytes();
                bytes.splice(at..at, other.iter().copied());
            }
            5 if !bytes.is_empty() => {
                let from = rng.below(bytes.len());
                let piece: Vec<u8> = bytes[from..].iter().copied().take(8).collect();
                bytes.splice(at..at, piece);
            }
            6 => {
                bytes.splice(at..at, b"99999999999999999999".iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

fn as_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A rejection must be something pidone can print as one line: non-empty, and any line break in
/// it comes from the (quoted) input, never from pidone's own wording.
fn check_message(parser: &str, input: &str, message: &str) {
    assert!(
        !message.trim().is_empty(),
        "{parser}({input:?}): empty error"
    );
    assert!(
        input.contains('\n') || !message.contains('\n'),
        "{parser}({input:?}): multi-line error {message:?}"
    );
}

fn check<T>(parser: &str, input: &str, result: &Result<T, String>) {
    if let Err(message) = result {
        check_message(parser, input, message);
    }
}

const SIGNALS: &[&str] = &[
    "TERM",
    "SIGTERM",
    "term",
    "15",
    "9",
    "64",
    "1",
    "RTMIN",
    "RTMIN+3",
    "SIGRTMAX-2",
    "rtmax",
    "IOT",
    "SIG32",
    "CLD",
    "USR1",
    "sigwinch",
];
const DURATIONS: &[&str] = &[
    "10s", "500ms", "1m", "2h", "8", "0.25", "1.5s", ".5s", "720h",
];
const EXIT_CODES: &[&str] = &["0", "255", "143", "0,143", "0, 143, 2", "1"];
const REWRITES: &[&str] = &[
    "15:3",
    "TERM:QUIT",
    "USR1:0",
    "RTMIN+1:RTMAX",
    "TERM:QUIT,2:0",
];
const USERS: &[&str] = &["app", "1000:50", "nobody:nogroup", "root", "0:0"];
const WORDS: &[&str] = &[
    "1", "0", "true", "no", "ON", "3", "9", "child", "group", "all", "text", "json",
];

/// Runs `per_parser` executions of each parser in `run` and returns the total.
fn fuzz(name: &str, execs: u64, mut one: impl FnMut(&mut Rng)) -> u64 {
    let mut rng = Rng::new(seed() ^ name.bytes().fold(0u64, |h, b| h.rotate_left(5) ^ b as u64));
    let started = Instant::now();
    for _ in 0..execs {
        one(&mut rng);
    }
    println!(
        "fuzz {name}: {execs} executions in {:.2?} (seed {:#x})",
        started.elapsed(),
        seed()
    );
    execs
}

/// Share of the total budget per test (the value parsers are cheap, cli/config/user less so).
fn budget(parts: u64) -> u64 {
    (total_execs() / 10 * parts).max(1)
}

#[test]
fn fuzz_signal_names_and_numbers() {
    fuzz("signals::parse", budget(1), |rng| {
        let text = as_text(&input(rng, SIGNALS));
        let result = signals::parse(&text);
        check("signals::parse", &text, &result);
        if let Ok(sig) = result {
            assert!((1..=64).contains(&sig), "{text:?} -> {sig}");
            assert_eq!(signals::parse(&signals::name(sig)), Ok(sig), "{text:?}");
            assert_eq!(signals::parse(&sig.to_string()), Ok(sig));
        }
    });
}

#[test]
fn fuzz_durations() {
    fuzz("parse::duration", budget(1), |rng| {
        let text = as_text(&input(rng, DURATIONS));
        let result = parse::duration(&text);
        check("parse::duration", &text, &result);
        if let Ok(d) = result {
            assert!(d.as_secs() <= 30 * 24 * 3600, "{text:?} -> {d:?}");
            // The formatted form (millisecond precision) parses back to the same milliseconds.
            let again = parse::duration(&parse::format_duration(d)).unwrap();
            assert_eq!(again.as_millis(), d.as_millis(), "{text:?}");
        }
    });
}

#[test]
fn fuzz_rewrites_and_exit_codes() {
    fuzz("parse::rewrite/rewrite_list", budget(1), |rng| {
        let text = as_text(&input(rng, REWRITES));
        let one = parse::rewrite(&text);
        check("parse::rewrite", &text, &one);
        if let Ok((from, to)) = one {
            assert!(
                (1..=64).contains(&from) && (0..=64).contains(&to),
                "{text:?}"
            );
        }
        let list = parse::rewrite_list(&text);
        check("parse::rewrite_list", &text, &list);
        if let Ok(list) = list {
            assert_eq!(list.len(), text.split(',').count(), "{text:?}");
        }
    });
    fuzz("parse::exit_code/exit_code_list", budget(1), |rng| {
        let text = as_text(&input(rng, EXIT_CODES));
        let one = parse::exit_code(&text);
        check("parse::exit_code", &text, &one);
        if let Ok(code) = one {
            assert_eq!(text.parse::<u32>().ok(), Some(u32::from(code)), "{text:?}");
        }
        let list = parse::exit_code_list(&text);
        check("parse::exit_code_list", &text, &list);
        if let Ok(list) = list {
            assert_eq!(list.len(), text.split(',').count(), "{text:?}");
        }
    });
}

#[test]
fn fuzz_small_value_parsers() {
    fuzz("parse::user_spec", budget(1) / 2, |rng| {
        let text = as_text(&input(rng, USERS));
        let result = parse::user_spec(&text);
        check("parse::user_spec", &text, &result);
        if let Ok(spec) = result {
            assert!(!spec.user.is_empty() && !spec.user.contains([':', '\n', '\0']));
            let joined = match &spec.group {
                Some(g) => format!("{}:{g}", spec.user),
                None => spec.user.clone(),
            };
            assert_eq!(joined, text);
        }
    });
    fuzz(
        "parse::boolean/verbosity/forward_target/log_format",
        budget(1) / 2,
        |rng| {
            let text = as_text(&input(rng, WORDS));
            let b = parse::boolean(&text);
            check("parse::boolean", &text, &b);
            let v = parse::verbosity(&text);
            check("parse::verbosity", &text, &v);
            if let Ok(level) = v {
                assert!(level <= 4);
            }
            check(
                "parse::forward_target",
                &text,
                &parse::forward_target(&text),
            );
            check("parse::log_format", &text, &parse::log_format(&text));
        },
    );
}

const ARGS: &[&str] = &[
    "-v",
    "-vvv",
    "-s",
    "-g",
    "-w",
    "-c",
    "-P",
    "-e",
    "143",
    "-e143",
    "-p",
    "TERM",
    "-pHUP",
    "-r",
    "TERM:QUIT",
    "-rUSR1:0",
    "--",
    "--grace-period",
    "10s",
    "--grace-period=1.5s",
    "--wait-all",
    "--wait-all-signal",
    "INT",
    "--forward-to",
    "all",
    "--forward-to=group",
    "--stop-delay",
    "500ms",
    "--user",
    "1000:50",
    "--log-format",
    "json",
    "--single",
    "--verbose",
    "--subreaper",
    "-h",
    "--version",
    "-L",
    "sleep",
    "1",
    "-",
    "---",
    "-=",
];

#[test]
fn fuzz_command_lines() {
    // A clap parse costs far more than the old getopt loop (2M parses took 177 s here, half of it
    // system time in allocation): a fifth of the budget keeps the long run near a minute.
    fuzz("cli::parse", budget(2) / 5, |rng| {
        let mut args: Vec<Vec<u8>> = vec![
            rng.pick(&["pidone", "/sbin/tini", "dumb-init", "catatonit"])
                .as_bytes()
                .to_vec(),
        ];
        for _ in 0..rng.below(8) {
            let arg = if rng.chance(2) {
                rng.pick(ARGS).as_bytes().to_vec()
            } else {
                input(rng, ARGS)
            };
            args.push(arg);
        }
        match cli::parse(&args) {
            Err(cli::UsageError(message)) => {
                // Messages quote the offending argument; only a newline inside it may show up.
                let echoed = args.iter().any(|a| a.contains(&b'\n'));
                check_message("cli::parse", if echoed { "\n" } else { "" }, &message);
            }
            Ok(Request::Run(options)) => {
                // Everything after the command is passed on untouched.
                let command = &options.command;
                assert!(command.len() < args.len(), "{args:?}");
                assert_eq!(
                    &args[args.len() - command.len()..],
                    &command[..],
                    "{args:?}"
                );
            }
            Ok(_) => {}
        }
    });
}

const VARIABLES: &[&str] = &[
    "PIDONE_VERBOSITY",
    "PIDONE_SUBREAPER",
    "PIDONE_PDEATH_SIGNAL",
    "PIDONE_WARN_ON_REAP",
    "PIDONE_EXPECT_EXIT",
    "PIDONE_SINGLE_CHILD",
    "PIDONE_REWRITE",
    "PIDONE_PAUSE",
    "PIDONE_GRACE_PERIOD",
    "PIDONE_WAIT_ALL",
    "PIDONE_WAIT_ALL_SIGNAL",
    "PIDONE_FORWARD_TO",
    "PIDONE_STOP_DELAY",
    "PIDONE_USER",
    "PIDONE_LOG_FORMAT",
    "TINI_VERBOSITY",
    "TINI_SUBREAPER",
    "TINI_KILL_PROCESS_GROUP",
    "DUMB_INIT_SETSID",
    "DUMB_INIT_DEBUG",
    "CATATONIT_DEBUG",
];

#[test]
fn fuzz_environment() {
    let mut values: Vec<&str> = Vec::new();
    for corpus in [SIGNALS, DURATIONS, EXIT_CODES, REWRITES, USERS, WORDS] {
        values.extend(corpus);
    }
    fuzz("config::Config::build", budget(2), |rng| {
        let mut env: HashMap<&str, Vec<u8>> = HashMap::new();
        for _ in 0..1 + rng.below(4) {
            env.insert(*rng.pick(VARIABLES), input(rng, &values));
        }
        let persona = *rng.pick(&[
            Persona::Pidone,
            Persona::Tini,
            Persona::DumbInit,
            Persona::Catatonit,
        ]);
        let cli = CliOptions {
            command: if rng.chance(8) {
                Vec::new()
            } else {
                vec!["true".into()]
            },
            ..CliOptions::default()
        };
        match Config::build(persona, cli, &|name: &str| env.get(name).cloned()) {
            Err(message) => {
                let echoed = env.values().any(|v| v.contains(&b'\n'));
                check_message("Config::build", if echoed { "\n" } else { "" }, &message);
                assert!(
                    message.starts_with("no command given")
                        || VARIABLES
                            .iter()
                            .any(|v| message.starts_with(&format!("{v}: "))),
                    "{message:?} names no variable"
                );
            }
            Ok(config) => {
                assert!(config.wait_all_signal >= 1 && config.wait_all_signal <= 64);
                assert!(config.pause || !config.command.is_empty());
            }
        }
    });
}

#[test]
fn fuzz_user_resolution() {
    // The lookups go through musl's user database (this machine's /etc/passwd and /etc/group):
    // pidone's rules on top of them must hold for any spec.
    fuzz("user::resolve", budget(1) / 20, |rng| {
        let spec_text = as_text(&input(rng, USERS));
        let Ok(spec) = parse::user_spec(&spec_text) else {
            return;
        };
        let result = user::resolve(&spec);
        check("user::resolve", &spec_text, &result);
        if let Ok(resolved) = result {
            let c = &resolved.credentials;
            assert!(!c.groups.is_empty(), "{spec:?}: no groups");
            assert_eq!(c.groups[0], c.gid, "{spec:?}: primary group first");
            if spec.group.is_some() {
                assert_eq!(c.groups, [c.gid], "{spec:?}: USER:GROUP gets one group");
            }
            assert!(!resolved.home.is_empty());
        }
    });
}
