//! pidone as a drop-in for tini, docker-init, dumb-init, catatonit and podman-init.
//! Every flag and environment variable in the personas where it matters, with the real binary
//! as PID 1 of a new PID namespace (and as subreaper where that differs), personas selected by
//! symlinks named like the anchors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "common/docker_version.rs"]
mod docker_version;
use docker_version::parse_init_version;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;

/// (persona, flags, environment, expected outcome)
type Case<T> = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    T,
);

fn ex(name: &str) -> String {
    example(name).to_string_lossy().into_owned()
}

/// The binary for `persona` ("pidone" is the binary itself, anything else a symlink).
fn binary(persona: &str) -> PathBuf {
    if persona == "pidone" {
        pidone()
    } else {
        persona_link(persona)
    }
}

/// Starts the `persona` binary in `mode` with `args` and extra environment.
fn start_as(mode: Mode, persona: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let program = binary(persona);
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    start_with(mode, &[], program.as_os_str(), &args, env)
}

/// Runs the persona as PID 1 to completion: (exit code, stdout, stderr).
fn run_as(persona: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<String>, Vec<String>) {
    let mut run = start_as(Mode::Pid1, persona, args, env);
    let code = run.wait();
    let stdout = run.rest_of_stdout();
    (code, stdout, run.stderr_lines())
}

/// Runs `f` over `cases` on a few threads at once (each case is an independent PID namespace).
fn in_parallel<T: Sync>(cases: &[T], threads: usize, f: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    f(case);
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// -r / --rewrite

/// `-r` rewrites a signal to another one and `TO=0` drops it, with names (`TERM`, `SIGTERM`,
/// `term`), numbers and real-time names, in every persona. A sentinel signal (41) sent right
/// after the dropped one must be the next thing the child sees.
#[test]
fn rewrite_to_another_signal_and_to_zero_in_every_persona() {
    // (persona, flags, the signal that must arrive as SIGHUP)
    let cases: &[(&str, &[&str], i32)] = &[
        (
            "pidone",
            &["-r", "TERM:QUIT", "-r", "USR1:0", "-r", "SIGUSR2:SIGHUP"],
            12,
        ),
        (
            "tini",
            &["-rSIGTERM:SIGQUIT", "-r", "SIGUSR1:0", "-r", "usr2:hup"],
            12,
        ),
        ("dumb-init", &["-r", "15:3", "-r", "10:0", "-r", "12:1"], 12),
        (
            "dumb-init",
            &["--rewrite", "15:3", "--rewrite=10:0", "--rewrite", "12:1"],
            12,
        ),
        (
            "catatonit",
            &["-r", "term:quit", "-r", "10:0", "-r", "RTMIN+6:HUP"],
            40,
        ),
        (
            "docker-init",
            &["-r", "15:3", "-r", "USR1:0", "-r", "12:1"],
            12,
        ),
        (
            "podman-init",
            &["-r", "TERM:3", "-r", "10:0", "-r", "12:HUP"],
            12,
        ),
    ];
    let sigprint = ex("sigprint");
    let cases: Vec<_> = cases
        .iter()
        .filter(|(persona, flags, _)| {
            !(flags.contains(&"RTMIN+6:HUP")
                && skip_under_emulation(
                    &format!("rewrite_to_another_signal_and_to_zero_in_every_persona: {persona} -r RTMIN+6:HUP"),
                    "qemu-user maps host real-time signal 34+N to the guest's 32+N, so a rule \
                     naming a real-time number sees another signal than the test sends",
                ))
        })
        .collect();
    in_parallel(&cases, 4, |(persona, flags, to_hup)| {
        let mut args = flags.to_vec();
        args.extend(["--", &sigprint, "--exit-on", "QUIT"]);
        let mut run = start_as(Mode::Pid1, persona, &args, &[]);
        run.expect_line("ready");
        run.signal(libc::SIGUSR1); // dropped
        run.signal(41); // passes unchanged
        let line = run.next_line();
        assert!(line.starts_with("signal 41 "), "{persona}: {line}");
        run.signal(*to_hup);
        let line = run.next_line();
        assert!(line.starts_with("signal 1 "), "{persona}: {line}");
        run.signal(libc::SIGTERM);
        let line = run.next_line();
        assert!(line.starts_with("signal 3 "), "{persona}: {line}");
        assert_eq!(run.wait(), 0, "{persona}");
        let all = run.rest_of_stdout();
        assert!(
            !all.iter().any(|l| l.starts_with("signal 10 ")),
            "{persona}: SIGUSR1 was not dropped: {all:?}"
        );
    });
}

#[test]
fn an_invalid_rewrite_is_a_usage_error_naming_the_value() {
    for (persona, value) in [
        ("dumb-init", "TERM"),
        ("dumb-init", "15:NOPE"),
        ("tini", "BOGUS:3"),
        ("pidone", "15:99"),
    ] {
        let marker = format!("/tmp/pidone-rewrite-marker-{}", std::process::id());
        let (code, _, stderr) = run_as(persona, &["-r", value, "touch", &marker], &[]);
        assert_eq!(code, 1, "{persona} -r {value}: {stderr:?}");
        assert_eq!(stderr.len(), 1, "{persona} -r {value}: {stderr:?}");
        let bad = value.rsplit(':').next().unwrap();
        assert!(stderr[0].contains(bad), "{persona} -r {value}: {stderr:?}");
        assert!(!std::path::Path::new(&marker).exists());
    }
}

// ---------------------------------------------------------------------------------------------
// -e

/// `-e N` remaps exactly N to 0, for all 256 codes, and leaves N+1 alone; rotating personas.
#[test]
fn expect_exit_remaps_each_of_the_256_codes_and_nothing_else() {
    let exit_with = ex("exit_with");
    let personas = ["pidone", "tini", "docker-init", "dumb-init", "catatonit"];
    let codes: Vec<u16> = (0..256).collect();
    in_parallel(&codes, 8, |&code| {
        let persona = personas[usize::from(code) % personas.len()];
        let n = code.to_string();
        let (got, _, stderr) = run_as(persona, &["-e", &n, "--", &exit_with, &n], &[]);
        assert_eq!(got, 0, "{persona} -e {n}, exit {n}: {stderr:?}");
        let other = ((code + 1) % 256).to_string();
        let (got, _, stderr) = run_as(persona, &["-e", &n, "--", &exit_with, &other], &[]);
        assert_eq!(
            got.to_string(),
            other,
            "{persona} -e {n}, exit {other}: {stderr:?}"
        );
    });
}

/// The remap applies after the 128+N mapping: `-e 143` hides a SIGTERM death, `-e 15` does not;
/// several `-e` (clustered and attached) combine.
#[test]
fn expect_exit_applies_after_128_plus_n_and_repeats() {
    let exit_with = ex("exit_with");
    let (code, _, _) = run_as(
        "tini",
        &["-e", "143", "--", &exit_with, "--signal", "TERM"],
        &[],
    );
    assert_eq!(code, 0);
    let (code, _, _) = run_as(
        "tini",
        &["-e", "15", "--", &exit_with, "--signal", "TERM"],
        &[],
    );
    assert_eq!(code, 143);
    for exit in ["3", "7", "143"] {
        let (code, _, _) = run_as(
            "pidone",
            &["-e3", "-e", "7", "-we143", exit_with.as_str(), exit],
            &[],
        );
        assert_eq!(code, 0, "exit {exit}");
    }
    let (code, _, _) = run_as("pidone", &["-e3", "-e", "7", "--", &exit_with, "4"], &[]);
    assert_eq!(code, 4);
}

// ---------------------------------------------------------------------------------------------
// Process-group forwarding: -g, dumb-init's default, -c, TINI_KILL_PROCESS_GROUP, DUMB_INIT_SETSID

/// The child is `sh` exec'ing sigprint after starting a second sigprint in the background (same
/// process group). Sends SIGUSR1 to pidone and returns how many of the two printed it (the
/// second one gets a 1 s window to show up).
fn usr1_receivers(persona: &str, flags: &[&str], env: &[(&str, &str)]) -> usize {
    let sigprint = ex("sigprint");
    let mut args = flags.to_vec();
    args.extend([
        "--",
        "sh",
        "-c",
        r#""$0" --exit-on TERM & exec "$0" --exit-on TERM"#,
        &sigprint,
    ]);
    let mut run = start_as(Mode::Pid1, persona, &args, env);
    run.expect_line("ready");
    run.expect_line("ready");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10 ");
    let mut count = 1;
    while count < 2 {
        match run.line_within(Duration::from_secs(1)) {
            Some(line) if line.starts_with("signal 10 ") => count += 1,
            Some(_) => {}
            None => break,
        }
    }
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0, "{persona} {flags:?} {env:?}");
    count
}

#[test]
fn group_forwarding_reaches_a_grandchild_only_when_enabled() {
    let cases: &[Case<usize>] = &[
        ("tini", &[], &[], 1),
        ("tini", &["-g"], &[], 2),
        ("docker-init", &["-g"], &[], 2),
        ("pidone", &["-g"], &[], 2),
        ("catatonit", &[], &[], 1),
        ("catatonit", &["-g"], &[], 2),
        ("podman-init", &["-g"], &[], 2),
        // TINI_KILL_PROCESS_GROUP set at all (even "0") means on
        ("tini", &[], &[("TINI_KILL_PROCESS_GROUP", "0")], 2),
        ("tini", &[], &[("TINI_KILL_PROCESS_GROUP", "")], 2),
        // the command line wins over the environment
        (
            "tini",
            &["--forward-to", "child"],
            &[("TINI_KILL_PROCESS_GROUP", "1")],
            1,
        ),
        ("dumb-init", &[], &[], 2),
        ("dumb-init", &["-c"], &[], 1),
        ("dumb-init", &["--single-child"], &[], 1),
        ("dumb-init", &[], &[("DUMB_INIT_SETSID", "0")], 1),
        ("dumb-init", &[], &[("DUMB_INIT_SETSID", "1")], 2),
        ("dumb-init", &[], &[("DUMB_INIT_SETSID", "false")], 2),
    ];
    in_parallel(cases, 8, |(persona, flags, env, want)| {
        let got = usr1_receivers(persona, flags, env);
        assert_eq!(got, *want, "{persona} {flags:?} {env:?}");
    });
}

/// dumb-init persona: the child leads a new session (sid == pid); `-c` / `DUMB_INIT_SETSID=0`
/// and the tini persona keep it in pidone's session, in its own process group.
#[test]
fn dumb_init_starts_a_new_session_unless_single_child() {
    let sigprint = ex("sigprint");
    let cases: &[Case<bool>] = &[
        ("dumb-init", &[], &[], true),
        ("dumb-init", &[], &[("DUMB_INIT_SETSID", "1")], true),
        ("dumb-init", &["-c"], &[], false),
        ("dumb-init", &[], &[("DUMB_INIT_SETSID", "0")], false),
        ("tini", &[], &[], false),
        ("catatonit", &[], &[], false),
    ];
    in_parallel(cases, 3, |(persona, flags, env, new_session)| {
        let mut args = flags.to_vec();
        args.extend(["--", &sigprint]);
        let mut run = start_as(Mode::Pid1, persona, &args, env);
        let ready = run.expect_line("ready");
        let pid = field(&ready, "pid").unwrap();
        assert_eq!(field(&ready, "pgid").unwrap(), pid, "{persona}: {ready}");
        assert_eq!(
            field(&ready, "sid").unwrap() == pid,
            *new_session,
            "{persona} {flags:?} {env:?}: {ready}"
        );
    });
}

/// dumb-init persona signals the whole group: both ends of a shell pipeline get the signal (the
/// shell traps SIGTERM so that it waits for the pipeline instead of dying first).
#[test]
fn dumb_init_signals_both_ends_of_a_pipeline() {
    let sigprint = ex("sigprint");
    let mut run = start_as(
        Mode::Pid1,
        "dumb-init",
        &[
            "sh",
            "-c",
            r#"trap : TERM USR2; exec 3>&1; "$0" --exit-on TERM >&3 | "$0" --exit-on TERM"#,
            &sigprint,
        ],
        &[],
    );
    run.expect_line("ready");
    run.expect_line("ready");
    run.signal(libc::SIGUSR2);
    run.expect_line("signal 12 ");
    run.expect_line("signal 12 ");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
}

/// dumb-init persona (as subreaper, where the grandchild outlives pidone): when the main child
/// exits, its group gets SIGTERM; with `-c` and in the tini persona it does not.
#[test]
fn dumb_init_terms_the_group_when_the_main_child_exits() {
    let sigprint = ex("sigprint");
    let script = r#"trap "exit 3" USR2; "$0" --exit-on TERM & wait; exit 9"#;
    for (persona, flags, gets_term) in [
        ("dumb-init", &[][..], true),
        ("dumb-init", &["-c"][..], false),
        ("tini", &[][..], false),
    ] {
        let mut args = flags.to_vec();
        args.extend(["--", "sh", "-c", script, &sigprint]);
        let mut run = start_as(Mode::Direct, persona, &args, &[]);
        let ready = run.expect_line("ready");
        let grandchild: i32 = field(&ready, "pid").unwrap().parse().unwrap();
        // sh installs its trap before starting the grandchild, so USR2 now ends the main child
        run.signal(libc::SIGUSR2);
        assert_eq!(run.wait(), 3, "{persona} {flags:?}");
        if gets_term {
            run.expect_line("signal 15 ");
            assert!(
                eventually(TIMEOUT, || state_of(grandchild).is_none()),
                "{persona}: grandchild still alive"
            );
        } else {
            // measured window: the grandchild is left alone
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                matches!(state_of(grandchild), Some('S' | 'R')),
                "{persona} {flags:?}: grandchild gone"
            );
            assert!(send_signal(grandchild, libc::SIGKILL));
            let all = run.rest_of_stdout();
            assert!(
                !all.iter().any(|l| l.starts_with("signal 15 ")),
                "{persona} {flags:?}: {all:?}"
            );
        }
    }
}

/// dumb-init persona: SIGTSTP reaches the child as SIGSTOP (state `T`), SIGCONT resumes it. As
/// PID 1 pidone's own self-stop is a no-op; the tini and catatonit personas forward TSTP as is.
#[test]
fn dumb_init_turns_tstp_into_stop_and_cont_resumes() {
    let sigprint = ex("sigprint");
    let mut run = start_as(
        Mode::Pid1,
        "dumb-init",
        &["--", &sigprint, "--exit-on", "TERM"],
        &[],
    );
    run.expect_line("ready");
    let child = first_child(run.host_pid);
    run.signal(libc::SIGTSTP);
    assert!(
        eventually(TIMEOUT, || state_of(child) == Some('T')),
        "child not stopped: {:?}",
        state_of(child)
    );
    assert_ne!(state_of(run.host_pid), Some('T'), "PID 1 stopped itself");
    run.signal(libc::SIGCONT);
    let line = run.next_line();
    assert!(line.starts_with("signal 18 "), "{line}");
    assert_ne!(state_of(child), Some('T'));
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
    assert!(!run.seen.iter().any(|l| l.starts_with("signal 20 ")));

    for persona in ["tini", "catatonit", "podman-init"] {
        let mut run = start_as(
            Mode::Pid1,
            persona,
            &["--", &sigprint, "--exit-on", "TERM"],
            &[],
        );
        run.expect_line("ready");
        run.signal(libc::SIGTSTP);
        let line = run.next_line();
        assert!(line.starts_with("signal 20 "), "{persona}: {line}");
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 0, "{persona}");
    }
}

/// dumb-init persona as subreaper: pidone stops itself after forwarding SIGSTOP, and passes the
/// SIGCONT that resumes it on to the child.
#[test]
fn dumb_init_as_subreaper_suspends_itself_and_passes_cont_on() {
    let sigprint = ex("sigprint");
    let mut run = start_as(
        Mode::Direct,
        "dumb-init",
        &["--", &sigprint, "--exit-on", "TERM"],
        &[],
    );
    run.expect_line("ready");
    let child = first_child(run.host_pid);
    run.signal(libc::SIGTSTP);
    assert!(eventually(TIMEOUT, || state_of(child) == Some('T')));
    assert!(eventually(TIMEOUT, || state_of(run.host_pid) == Some('T')));
    run.signal(libc::SIGCONT);
    let line = run.next_line();
    assert!(line.starts_with("signal 18 "), "{line}");
    assert!(eventually(TIMEOUT, || state_of(child) != Some('T')));
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
}

// ---------------------------------------------------------------------------------------------
// -p (parent-death signal)

/// As PID 1: unshare is pidone's parent; killing it delivers `-p`'s signal to pidone, which
/// forwards it.
#[test]
fn pdeath_signal_as_pid1() {
    let sigprint = ex("sigprint");
    for (persona, flag) in [("pidone", "USR1"), ("tini", "SIGUSR1"), ("dumb-init", "10")] {
        let mut run = start_as(
            Mode::Pid1,
            persona,
            &["-p", flag, "--", &sigprint, "--exit-on", "TERM"],
            &[],
        );
        run.expect_line("ready");
        run.process.kill().unwrap();
        let line = run.next_line();
        assert!(line.starts_with("signal 10 "), "{persona}: {line}");
        run.signal(libc::SIGTERM);
        run.expect_line("signal 15 ");
        assert!(run.wait_gone(TIMEOUT));
        run.wait(); // reaps unshare
    }
}

/// As subreaper under an intermediate `sh` that the test kills.
#[test]
fn pdeath_signal_as_subreaper() {
    let process = Command::new("sh")
        // "$@" is pidone (through the emulator, if any), "$0" sigprint
        .args(["-c", r#""$@" -p USR1 -- "$0" --exit-on TERM & wait"#])
        .arg(example("sigprint"))
        .args(pidone_words(&pidone()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut process = process;
    let stdout = process.stdout.take().unwrap();
    let mut run = adopt_process(process, stdout);
    run.expect_line("ready");
    run.process.kill().unwrap();
    let line = run.next_line();
    assert!(line.starts_with("signal 10 "), "{line}");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert!(run.wait_gone(TIMEOUT));
    run.wait();
}

// ---------------------------------------------------------------------------------------------
// Pause mode

/// `-P` (catatonit, podman-init, and `PIDONE_PAUSE` for pidone's own name): exits 0 on SIGTERM
/// and on SIGINT, ignores other signals.
#[test]
fn pause_mode_exits_zero_on_term_and_int_and_ignores_the_rest() {
    let cases: &[Case<i32>] = &[
        ("catatonit", &["-P"], &[], libc::SIGTERM),
        ("catatonit", &["-P"], &[], libc::SIGINT),
        ("podman-init", &["-P"], &[], libc::SIGTERM),
        ("pidone", &[], &[("PIDONE_PAUSE", "1")], libc::SIGINT),
        ("pidone", &["-P", "ignored", "args"], &[], libc::SIGTERM),
    ];
    in_parallel(cases, 5, |(persona, flags, env, stop)| {
        let mut run = start_as(Mode::Pid1, persona, flags, env);
        wait_until_idle(run.host_pid);
        for sig in [libc::SIGUSR1, libc::SIGHUP, libc::SIGQUIT, libc::SIGTSTP] {
            run.signal(sig);
        }
        std::thread::sleep(Duration::from_millis(300)); // measured window
        assert!(run.running(), "{persona}: ended by an ignored signal");
        run.signal(*stop);
        assert_eq!(run.wait(), 0, "{persona} {flags:?} {env:?}");
    });
}

/// Pause mode reaps orphans adopted meanwhile: `sh` starts zombie_factory, then execs
/// `catatonit -P` as PID 1, so the orphans (and zombie_factory itself) become its children.
#[test]
fn pause_mode_reaps_adopted_orphans() {
    let mut process = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            // "$@" is catatonit (through the emulator, if any), "$0" zombie_factory
            r#""$0" 50 & exec "$@" -P"#,
        ])
        .arg(example("zombie_factory"))
        .args(pidone_words(&persona_link("catatonit")))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let mut run = adopt_process(process, stdout);
    run.expect_line("orphans exited n=50");
    let pid = run.host_pid;
    assert!(
        eventually(TIMEOUT, || descendants(pid).is_empty()),
        "left: {:?}",
        descendants(pid)
    );
    assert!(run.running());
    wait_until_idle(pid);
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
}

/// Zombies that already exist when pause mode starts (their SIGCHLD came before pidone blocked
/// it and was discarded) are reaped at start, not only at the next SIGCHLD. The launcher (PID 1,
/// Python because it reaps nothing behind the program's back, unlike sh) starts zombie_factory,
/// copies its output to EOF and then execs `catatonit -P -w`: by then the factory and its 20
/// orphans are zombies, and no further SIGCHLD comes.
#[test]
fn pause_mode_reaps_zombies_left_before_it_started() {
    let launcher = r#"import os, sys
r, w = os.pipe()
if os.fork() == 0:
    os.dup2(w, 1)
    os.execv(sys.argv[1], [sys.argv[1], "20"])
os.close(w)
while chunk := os.read(r, 4096):
    os.write(1, chunk)
os.close(r)
os.execvp(sys.argv[2], sys.argv[2:] + ["-P", "-w"])
"#;
    let mut process = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(["/usr/bin/python3", "-c", launcher])
        .arg(example("zombie_factory"))
        .args(pidone_words(&persona_link("catatonit")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let stderr = process.stderr.take().unwrap();
    let mut run = adopt_process(process, stdout);
    run.expect_line("orphans exited n=20");
    let pid = run.host_pid;
    assert!(
        eventually(TIMEOUT, || descendants(pid).is_empty()),
        "left: {:?}",
        descendants(pid)
    );
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut { stderr }, &mut log).unwrap();
    let reaped = log.matches("Reaped zombie process with pid=").count();
    assert_eq!(reaped, 21, "{log}");
}

// ---------------------------------------------------------------------------------------------
// Version, help, licence

const PERSONA_NAMES: [(&str, &str); 6] = [
    ("pidone", "pidone"),
    ("tini", "tini"),
    ("docker-init", "tini"),
    ("dumb-init", "dumb-init"),
    ("catatonit", "catatonit"),
    ("podman-init", "catatonit"),
];

fn output_of(persona: &str, args: &[&str]) -> (i32, String, String) {
    let words = pidone_words(&binary(persona));
    let out = Command::new(&words[0])
        .args(&words[1..])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_line_parses_with_dockers_rule_in_every_persona() {
    for (persona, _) in PERSONA_NAMES {
        for flag in ["--version", "-V"] {
            let (code, stdout, stderr) = output_of(persona, &[flag]);
            assert_eq!(code, 0, "{persona} {flag}");
            assert!(stderr.is_empty(), "{persona} {flag}: {stderr}");
            assert_eq!(stdout.lines().count(), 1, "{persona} {flag}: {stdout}");
            assert!(stdout.starts_with("tini version "), "{stdout}");
            let (version, commit) = parse_init_version(&stdout).expect("docker rejects it");
            assert!(version.contains("_pidone"), "{persona}: {version:?}");
            assert!(
                version.starts_with(env!("CARGO_PKG_VERSION")),
                "{persona}: {version:?}"
            );
            if stdout.contains(" - ") {
                assert!(!commit.is_empty(), "{persona}: {stdout}");
            }
        }
    }
}

#[test]
fn help_names_the_persona_and_lists_every_option_and_variable() {
    let options = [
        "-h, --help",
        "-V, --version",
        "-l, --license",
        "-v, --verbose",
        "-s, --subreaper",
        "-p, --pdeath-signal",
        "-w, --warn-on-reap",
        "-g, --process-group",
        "-e, --expect-exit",
        "-c, --single-child",
        "-r, --rewrite",
        "-P, --pause",
        "--grace-period",
        "--wait-all",
        "--wait-all-signal",
        "--forward-to",
        "--stop-delay",
        "--user",
        "--log-format",
        "-L",
    ];
    let variables = [
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
        "TINI_SUBREAPER",
        "TINI_KILL_PROCESS_GROUP",
        "TINI_VERBOSITY",
        "DUMB_INIT_SETSID",
        "DUMB_INIT_DEBUG",
        "CATATONIT_DEBUG",
    ];
    for (persona, shown) in PERSONA_NAMES {
        for flag in ["-h", "--help"] {
            let (code, stdout, _) = output_of(persona, &[flag]);
            assert_eq!(code, 0, "{persona} {flag}");
            // The head names the program as invoked and whose defaults it has; the usage line
            // is the one the errors repeat.
            let defaults = if shown == "pidone" { "tini" } else { shown };
            assert!(
                stdout.starts_with(&format!("{persona} "))
                    && stdout.contains(&format!("with {defaults}'s defaults")),
                "{persona} {flag}: {stdout}"
            );
            let usage = format!("Usage: {persona} [OPTIONS] [--] COMMAND [ARGS...]\n");
            assert!(stdout.contains(&usage), "{persona}");
            assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{persona}");
            assert!(
                !stdout.contains('\x1b'),
                "{persona}: colour codes in a pipe"
            );
            for option in options.iter().chain(&variables) {
                assert!(stdout.contains(option), "{persona} {flag}: no {option}");
            }
        }
    }
}

#[test]
fn license_and_short_flags_exit_zero_in_every_persona() {
    let license = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LICENSE")).unwrap();
    for (persona, _) in PERSONA_NAMES {
        for flag in ["-l", "-L", "--license"] {
            let (code, stdout, _) = output_of(persona, &[flag]);
            assert_eq!(code, 0, "{persona} {flag}");
            assert_eq!(stdout, license, "{persona} {flag}");
        }
        // options before them are parsed, the command after is not run
        let (code, stdout, _) = output_of(persona, &["-v", "-h", "false"]);
        assert_eq!(code, 0, "{persona}");
        assert!(stdout.contains("Usage:"));
    }
}

// ---------------------------------------------------------------------------------------------
// Verbosity from the environment, with each anchor's semantics

/// Runs sigprint as PID 1 under `persona`, forwards one SIGTERM, returns pidone's stderr.
fn stderr_after_one_signal(persona: &str, flags: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let sigprint = ex("sigprint");
    let mut args = flags.to_vec();
    args.extend(["--", &sigprint, "--exit-on", "TERM"]);
    let mut run = start_as(Mode::Pid1, persona, &args, env);
    run.expect_line("ready");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0, "{persona} {flags:?} {env:?}");
    run.stderr_lines()
}

#[test]
fn verbosity_variables_have_the_anchors_semantics_and_the_cli_wins() {
    // (persona, flags, env, has INFO lines, has DEBUG "Passing signal" lines)
    let cases: &[Case<(bool, bool)>] = &[
        ("tini", &[], &[], (false, false)),
        ("tini", &[], &[("TINI_VERBOSITY", "3")], (true, true)),
        ("tini", &[], &[("TINI_VERBOSITY", "2")], (true, false)),
        ("tini", &[], &[("TINI_VERBOSITY", "0")], (false, false)),
        // CLI -v (level 2) beats TINI_VERBOSITY=3
        ("tini", &["-v"], &[("TINI_VERBOSITY", "3")], (true, false)),
        ("tini", &["-vv"], &[], (true, true)),
        ("dumb-init", &[], &[("DUMB_INIT_DEBUG", "1")], (true, true)),
        (
            "dumb-init",
            &[],
            &[("DUMB_INIT_DEBUG", "yes")],
            (false, false),
        ),
        (
            "dumb-init",
            &[],
            &[("DUMB_INIT_DEBUG", "0")],
            (false, false),
        ),
        ("dumb-init", &["-v"], &[], (true, true)),
        ("dumb-init", &["--verbose"], &[], (true, true)),
        ("catatonit", &[], &[("CATATONIT_DEBUG", "")], (true, true)),
        ("catatonit", &[], &[("CATATONIT_DEBUG", "0")], (true, true)),
        ("catatonit", &[], &[], (false, false)),
        (
            "podman-init",
            &[],
            &[("CATATONIT_DEBUG", "1")],
            (true, true),
        ),
    ];
    in_parallel(cases, 6, |&(persona, flags, env, (info, debug))| {
        let stderr = stderr_after_one_signal(persona, flags, env);
        let what = format!("{persona} {flags:?} {env:?}: {stderr:?}");
        assert_eq!(
            stderr.iter().any(|l| l.starts_with("[INFO ")),
            info,
            "INFO: {what}"
        );
        assert_eq!(
            stderr
                .iter()
                .any(|l| l.starts_with("[DEBUG ") && l.contains("Passing signal")),
            debug,
            "DEBUG: {what}"
        );
        if !info && !debug {
            assert!(stderr.is_empty(), "{what}");
        }
    });
}

/// tini persona keeps tini's name and wording in its log lines.
#[test]
fn tini_persona_uses_tinis_log_wording() {
    let stderr = stderr_after_one_signal("docker-init", &["-vv"], &[]);
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("[INFO  tini (1)] Spawned child process '")),
        "{stderr:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("[DEBUG tini (1)] Passing signal: 'SIGTERM'")),
        "{stderr:?}"
    );
}

/// `-w` in the tini persona warns with tini's exact wording for every reaped orphan.
#[test]
fn warn_on_reap_uses_tinis_wording() {
    let mut run = start_as(
        Mode::Pid1,
        "tini",
        // --wait-all: the orphans close zombie_factory's pipe slightly before they are zombies
        &[
            "-w",
            "--wait-all",
            "--",
            &ex("zombie_factory"),
            "5",
            "--wait",
        ],
        &[],
    );
    run.expect_line("orphans exited n=5");
    let pid = run.host_pid;
    assert!(eventually(TIMEOUT, || zombies_under(pid) == 0));
    // zombie_factory --wait ends at EOF on its (null) stdin
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    let reaped: Vec<_> = stderr
        .iter()
        .filter(|l| l.starts_with("[WARN  tini (1)] Reaped zombie process with pid="))
        .collect();
    assert_eq!(reaped.len(), 5, "{stderr:?}");
}

/// `TINI_SUBREAPER` (any value, even `0`) and `-s` are accepted; as a subreaper pidone reaps the
/// orphans either way.
#[test]
fn subreaper_flag_and_variable_are_accepted() {
    if skip_under_emulation("subreaper_flag_and_variable_are_accepted", QEMU_SUBREAPER) {
        return;
    }
    let zombie_factory = ex("zombie_factory");
    for (flags, env) in [
        (&["-w"][..], &[("TINI_SUBREAPER", "0")][..]),
        (&["-w", "-s"][..], &[][..]),
        (&["-w"][..], &[("TINI_SUBREAPER", "")][..]),
    ] {
        let mut args = flags.to_vec();
        args.extend(["--wait-all", "--", &zombie_factory, "20", "--wait"]);
        let mut run = start_as(Mode::Direct, "tini", &args, env);
        run.expect_line("orphans exited n=20");
        let pid = run.host_pid;
        assert!(eventually(TIMEOUT, || zombies_under(pid) == 0));
        assert_eq!(run.wait(), 0, "{flags:?} {env:?}"); // zombie_factory ends at stdin EOF
        let stderr = run.stderr_lines();
        let reaped = stderr
            .iter()
            .filter(|l| l.contains("Reaped zombie process with pid="))
            .count();
        assert_eq!(reaped, 20, "{flags:?} {env:?}: {stderr:?}");
    }
}

/// Only the first `--` ends pidone's options: the second one is the program name.
#[test]
fn a_second_double_dash_is_the_program() {
    for persona in ["pidone", "tini", "dumb-init", "catatonit"] {
        let (code, stdout, stderr) = run_as(persona, &["--", "--", "true"], &[]);
        assert_eq!(code, 127, "{persona}: {stderr:?}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.len(), 1, "{persona}: {stderr:?}");
        assert!(
            stderr[0].contains("cannot run '--'"),
            "{persona}: {stderr:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Terminal

/// Runs `unshare --pid --fork --mount-proc setsid -c WORDS` inside a real pseudo-terminal
/// (`script`), so the process setsid starts leads a session that owns the pty, as pidone does
/// with `docker run -t`; `{pidone}` in `words` stands for PERSONA's command line. Returns what
/// the terminal showed; asserts the command succeeded within 20 s.
fn under_a_pty(persona: &str, words: &str) -> String {
    let pidone = pidone_words(&binary(persona));
    let pidone: Vec<_> = pidone.iter().map(|w| w.to_string_lossy()).collect();
    let command = format!(
        "unshare --pid --fork --mount-proc setsid -c {}",
        words.replace("{pidone}", &pidone.join(" "))
    );
    let out = Command::new("timeout")
        .args(["20", "script", "-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "{persona}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `PERSONA [flags] -- status_dump` as PID 1 under a pty ([`under_a_pty`]). Returns
/// status_dump's ids line as (pid, pgid, sid, tpgid).
fn ids_under_a_pty(persona: &str, flags: &str) -> (i32, i32, i32, i32) {
    let status_dump = example("status_dump");
    let text = under_a_pty(
        persona,
        &format!("{{pidone}} {flags} -- {}", status_dump.display()),
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("pid="))
        .unwrap_or_else(|| panic!("{persona}: no ids line in {text:?}"));
    let get = |key: &str| -> i32 { field(line, key).unwrap().trim().parse().unwrap() };
    (get("pid"), get("pgid"), get("sid"), get("tpgid"))
}

#[test]
fn under_a_pty_the_child_is_the_foreground_group() {
    let cases: &[(&str, &str, bool)] = &[
        ("tini", "", false),
        ("docker-init", "", false),
        ("pidone", "", false),
        ("catatonit", "", false),
        ("dumb-init", "-c", false),
        ("dumb-init", "", true),
    ];
    in_parallel(cases, 3, |(persona, flags, owns_session)| {
        let (pid, pgid, sid, tpgid) = ids_under_a_pty(persona, flags);
        let what = format!("{persona} {flags}: pid={pid} pgid={pgid} sid={sid} tpgid={tpgid}");
        if !skip_under_emulation(
            &format!(
                "under_a_pty_the_child_is_the_foreground_group: {persona}: the child is pid 2"
            ),
            "qemu-user starts a helper thread, which takes pid 2 of the namespace",
        ) {
            assert_eq!(pid, 2, "{what}");
        }
        assert_eq!(pgid, pid, "own process group: {what}");
        assert_eq!(tpgid, pgid, "foreground: {what}");
        if *owns_session {
            assert_eq!(sid, pid, "session leader: {what}");
        } else {
            assert_eq!(sid, 1, "pidone's session: {what}");
        }
    });
}

/// SIGTTIN and SIGTTOU are not forwarded by tini, catatonit or pidone under its own name (tini
/// leaves them unblocked, so the kernel ignores them for a PID 1), unless a rewrite names them.
/// pidone's `-vv` line for each is the sign it was handled before the next signal goes out.
#[test]
fn ttin_and_ttou_are_dropped_unless_rewritten() {
    let sigprint = ex("sigprint");
    let cases: [(&str, &[&str]); 4] = [
        ("pidone", &[]),
        ("tini", &[]),
        ("catatonit", &[]),
        ("pidone", &["-r", "TTIN:USR2"]),
    ];
    in_parallel(&cases, 4, |(persona, flags)| {
        let mut args = vec!["-vv"];
        args.extend_from_slice(flags);
        args.extend(["--", &sigprint, "--exit-on", "USR1"]);
        let mut run = start_as(Mode::Pid1, persona, &args, &[]);
        run.expect_line("ready");
        let rewritten = !flags.is_empty();
        run.signal(libc::SIGTTIN);
        if rewritten {
            let line = run.next_line();
            assert!(
                line.starts_with("signal 12 "),
                "{persona} {flags:?}: {line}"
            );
            run.expect_stderr_within("Rewriting signal 'SIGTTIN' to 'SIGUSR2'", TIMEOUT);
        } else {
            run.expect_stderr_within("Dropping signal: 'SIGTTIN'", TIMEOUT);
        }
        run.signal(libc::SIGTTOU);
        run.expect_stderr_within("Dropping signal: 'SIGTTOU'", TIMEOUT);
        run.signal(libc::SIGUSR1);
        let line = run.next_line();
        assert!(
            line.starts_with("signal 10 "),
            "{persona} {flags:?}: {line}"
        );
        assert_eq!(run.wait(), 0, "{persona} {flags:?}");
        // A signal that no rule rewrites is passed on as it is, without a rewrite line.
        let stderr = run.stderr_lines();
        assert!(
            stderr
                .iter()
                .any(|l| l.contains("Passing signal: 'SIGUSR1'"))
                && !stderr
                    .iter()
                    .any(|l| l.contains("Rewriting signal 'SIGUSR1'")),
            "{persona} {flags:?}: {stderr:?}"
        );
    });
}

/// dumb-init under a pseudo-terminal gives the terminal up (TIOCNOTTY), and the kernel then
/// sends pidone, the session leader, SIGHUP and SIGCONT: pidone drops those two, which it sent
/// itself, and only those: a SIGUSR1 the same process sent itself before its exec (with_mask
/// --raise) still reaches the child.
#[test]
fn dumb_init_drops_only_its_own_terminal_hangup() {
    let text = under_a_pty(
        "dumb-init",
        &format!(
            "{} --block USR1 --raise USR1 -- {{pidone}} -- {} --exit-on USR1",
            example("with_mask").display(),
            example("sigprint").display()
        ),
    );
    let signals: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("signal "))
        .map(str::trim)
        .collect();
    assert_eq!(signals, ["signal 10 SIGUSR1"], "{text:?}");
}

/// dumb-init suspends itself after SIGTSTP even when the user rewrote it (here to SIGUSR1, and
/// to 0 = dropped), as dumb-init does regardless of rewrites.
#[test]
fn dumb_init_suspends_itself_after_a_rewritten_tstp() {
    let sigprint = ex("sigprint");
    for rewrite in ["20:10", "TSTP:0"] {
        let mut run = start_as(
            Mode::Direct,
            "dumb-init",
            &["-r", rewrite, "--", &sigprint, "--exit-on", "TERM"],
            &[],
        );
        run.expect_line("ready");
        run.signal(libc::SIGTSTP);
        if rewrite == "20:10" {
            run.expect_line("signal 10 ");
        }
        assert!(
            eventually(TIMEOUT, || state_of(run.host_pid) == Some('T')),
            "{rewrite}: pidone did not suspend itself"
        );
        run.signal(libc::SIGCONT);
        run.expect_line("signal 18 ");
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 0, "{rewrite}");
    }
}
