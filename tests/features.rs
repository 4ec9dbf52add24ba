//! pidone's own features: grace period, --wait-all, --forward-to all, --stop-delay, --user, JSON
//! logs and the PIDONE_* environment, with the real binary as PID 1 of a new PID namespace and,
//! where the behaviour differs, as a subreaper (started directly by the test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn ex(name: &str) -> String {
    example(name).to_string_lossy().into_owned()
}

fn start_env(mode: Mode, args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    start_with(mode, &[], pidone().as_os_str(), &args, env)
}

fn mode_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::Pid1 => "pid1",
        Mode::Direct => "subreaper",
    }
}

fn modes() -> [Mode; 2] {
    [Mode::Pid1, Mode::Direct]
}

/// Runs each case on its own thread (each one is an independent pidone).
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

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// 1. --grace-period

/// A child ignoring SIGTERM is SIGKILLed at the grace period: exit 137 at ~1 s, one stderr line
/// saying why. As PID 1 and as subreaper.
#[test]
fn grace_period_kills_a_child_that_ignores_term() {
    in_parallel(&modes(), 2, |mode| {
        let mut run = start_env(
            Mode::clone_of(mode),
            &["--grace-period", "1s", "--", &ex("ignore_term")],
            &[],
        );
        run.expect_line("ready");
        let start = Instant::now();
        run.signal(libc::SIGTERM);
        let code = run.wait();
        let took = start.elapsed();
        let what = mode_name(mode);
        assert_eq!(code, 137, "{what}");
        assert!(
            (0.8..5.0).contains(&secs(took)),
            "{what}: killed after {took:?}"
        );
        let stderr = run.stderr_lines();
        assert_eq!(stderr.len(), 1, "{what}: {stderr:?}");
        assert!(
            stderr[0].contains("grace period") && stderr[0].contains("SIGKILL"),
            "{what}: {stderr:?}"
        );
        assert!(stderr[0].contains("after SIGTERM"), "{what}: {stderr:?}");
    });
}

/// Without the option nothing escalates: the child still runs 1.5 s after SIGTERM.
#[test]
fn without_grace_period_nothing_is_killed() {
    let mut run = start_env(Mode::Pid1, &["--", &ex("ignore_term")], &[]);
    run.expect_line("ready");
    let child = first_child(run.host_pid);
    run.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(1500)); // measured window
    assert!(run.running());
    assert!(matches!(state_of(child), Some('S' | 'R')));
    run.signal(libc::SIGUSR1); // ignore_term exits 0 on SIGUSR1
    assert_eq!(run.wait(), 0);
    assert!(run.stderr_lines().is_empty());
}

/// The grace period is started by the signal pidone *received*, not by what a rewrite made of
/// it: `-r TERM:HUP` still starts it (here with `-g`, killing the whole process group: a
/// grandchild that ignores SIGTERM too, seen as subreaper, where it would otherwise outlive
/// pidone), while a received SIGUSR2 rewritten to SIGHUP does not.
#[test]
fn grace_period_kills_the_forwarding_target_group() {
    let ignore_term = ex("ignore_term");
    let mut run = start_env(
        Mode::Direct,
        &[
            "--grace-period",
            "500ms",
            "-g",
            "-r",
            "TERM:HUP",
            "-r",
            "USR2:HUP",
            "--",
            "sh",
            "-c",
            r#"trap "" HUP; "$0" & exec "$0""#,
            &ignore_term,
        ],
        &[],
    );
    let a: i32 = field(&run.expect_line("ready"), "pid")
        .unwrap()
        .parse()
        .unwrap();
    let b: i32 = field(&run.expect_line("ready"), "pid")
        .unwrap()
        .parse()
        .unwrap();
    run.signal(libc::SIGUSR2); // forwarded as SIGHUP, which both ignore: no grace period
    std::thread::sleep(Duration::from_millis(1000)); // measured window: twice the grace period
    assert!(run.running(), "a received SIGUSR2 started the grace period");
    let start = Instant::now();
    run.signal(libc::SIGTERM); // forwarded as SIGHUP too, but a received TERM is a stop
    assert_eq!(run.wait(), 137);
    assert!((0.4..5.0).contains(&secs(start.elapsed())));
    for pid in [a, b] {
        assert!(
            eventually(TIMEOUT, || state_of(pid).is_none_or(|s| s == 'Z')),
            "{pid} survived"
        );
    }
    let stderr = run.stderr_lines();
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0].contains("process group") && stderr[0].contains("after SIGTERM"),
        "{stderr:?}"
    );
}

/// A reload (SIGHUP, nginx and haproxy) or a thread dump (SIGQUIT, a JVM) is not a stop: with
/// `--grace-period` the app lives on long after the grace period. Only the received signals of
/// `--grace-signals` (default TERM and INT) start it; with `--grace-signals QUIT` (nginx's
/// STOPSIGNAL) a SIGQUIT does, and a SIGTERM no longer does.
#[test]
fn grace_period_starts_only_on_grace_signals() {
    let sigprint = ex("sigprint");
    let cases: [(&[&str], &[i32], Option<i32>); 4] = [
        (&[], &[libc::SIGHUP, libc::SIGQUIT], None),
        (&[], &[libc::SIGINT], Some(libc::SIGINT)),
        (&["--grace-signals", "QUIT"], &[libc::SIGTERM], None),
        (
            &["--grace-signals", "SIGQUIT,usr1"],
            &[libc::SIGQUIT],
            Some(libc::SIGQUIT),
        ),
    ];
    in_parallel(&cases, 4, |(flags, sent, killed_after)| {
        let mut args = vec!["--grace-period", "300ms"];
        args.extend_from_slice(flags);
        args.extend(["--", &sigprint, "--exit-on", "USR2"]);
        let mut run = start_env(Mode::Pid1, &args, &[]);
        run.expect_line("ready");
        for &sig in *sent {
            run.signal(sig);
            run.expect_line(&format!("signal {sig} "));
        }
        match killed_after {
            Some(sig) => {
                assert_eq!(run.wait(), 137, "{flags:?} {sent:?}");
                let stderr = run.stderr_lines();
                let after = format!("after {}", signal_name(*sig));
                assert!(stderr.iter().any(|l| l.contains(&after)), "{stderr:?}");
            }
            None => {
                // Measured window: more than three grace periods.
                run.quiet_for(Duration::from_millis(1000));
                assert!(run.running(), "{flags:?} {sent:?}: killed");
                run.signal(libc::SIGUSR2);
                assert_eq!(run.wait(), 0, "{flags:?} {sent:?}");
                assert!(run.stderr_lines().is_empty());
            }
        }
    });
}

/// `PIDONE_GRACE_SIGNALS` is `--grace-signals`; a bad list names the variable.
#[test]
fn grace_signals_from_the_environment() {
    let mut run = start_env(
        Mode::Pid1,
        &["--grace-period", "300ms", "--", &ex("sigprint")],
        &[("PIDONE_GRACE_SIGNALS", "HUP")],
    );
    run.expect_line("ready");
    run.signal(libc::SIGHUP);
    run.expect_line("signal 1 ");
    assert_eq!(run.wait(), 137);
    let (code, _, stderr) =
        run_to_end_env(&["--", "true"], &[("PIDONE_GRACE_SIGNALS", "HUP,NOPE")]);
    assert_eq!(code, 1);
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(stderr[0].contains("PIDONE_GRACE_SIGNALS"), "{stderr:?}");
}

fn signal_name(sig: i32) -> String {
    pidone::signals::name(sig).into_owned()
}

fn run_to_end_env(args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<String>, Vec<String>) {
    let mut run = start_env(Mode::Pid1, args, env);
    let code = run.wait();
    let stdout = run.rest_of_stdout();
    (code, stdout, run.stderr_lines())
}

// ---------------------------------------------------------------------------------------------
// 2. --wait-all

/// The main child (sh) starts a grandchild whose TERM handler takes 0.3 s and then writes a file
/// (it waits on one `sleep`, which has exec'd before the test goes on),
/// optionally an ignore_term, and exits 7 on SIGUSR1. Returns (exit code, seconds from SIGUSR1 to
/// pidone's exit, file content, stderr).
fn wait_all_run(mode: Mode, flags: &[&str], stubborn: bool) -> (i32, f64, String, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("pidone-features-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static N: AtomicUsize = AtomicUsize::new(0);
    let file = dir.join(format!("handled-{}", N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_file(&file);
    let handler = r#"trap 'sleep 0.3; echo handled > "$0"; exit 0' TERM; sleep 1000 & echo handler-ready; wait $!; exit 5"#;
    let script = r#"trap "exit 7" USR1; sh -c "$1" "$0" & [ -n "$2" ] && "$2" & wait; exit 9"#;
    let ignore_term = if stubborn {
        ex("ignore_term")
    } else {
        String::new()
    };
    let file_arg = file.to_string_lossy().into_owned();
    let mut args = flags.to_vec();
    args.extend(["--", "sh", "-c", script, &file_arg, handler, &ignore_term]);
    let mut run = start_env(mode, &args, &[]);
    let wanted = if stubborn { 2 } else { 1 };
    while run
        .seen
        .iter()
        .filter(|l| l.starts_with("handler-ready") || l.starts_with("ready pid="))
        .count()
        < wanted
    {
        run.next_line();
    }
    // The handler's `sleep 1000` must have exec'd: a shell defers a TERM that reaches its forked
    // child before the exec to the trap it inherited, and the exec then discards it, so the
    // sleep would outlive the wait-all TERM (the test's race, not pidone's).
    let sleeping = eventually(TIMEOUT, || {
        descendants(run.host_pid).iter().any(|(pid, _)| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x001000\x00")
        })
    });
    assert!(sleeping, "the handler's sleep never started");
    let start = Instant::now();
    run.signal(libc::SIGUSR1);
    let code = run.wait();
    let took = secs(start.elapsed());
    let content = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    // pidone's own lines only (the shells share stderr and may report "Terminated" jobs)
    let own = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with('[') || l.starts_with("pidone"))
        .collect();
    (code, took, content, own)
}

/// `--wait-all` lets a grandchild finish its TERM handler before pidone exits with the main
/// child's status, and does not wait for the grace period when everything is gone.
#[test]
fn wait_all_lets_a_term_handler_finish() {
    in_parallel(&modes(), 2, |mode| {
        let what = mode_name(mode);
        let (code, took, content, stderr) =
            wait_all_run(Mode::clone_of(mode), &["--wait-all"], false);
        assert_eq!(code, 7, "{what}: {stderr:?}");
        assert_eq!(content, "handled\n", "{what}: handler did not finish");
        assert!((0.25..4.0).contains(&took), "{what}: took {took}");
        assert!(stderr.is_empty(), "{what}: {stderr:?}");
    });
}

/// Without `--wait-all` pidone does not wait: the handler never completes (PID 1: the kernel
/// kills the namespace), the exit is immediate.
#[test]
fn without_wait_all_pidone_exits_at_once() {
    let (code, took, content, _) = wait_all_run(Mode::Pid1, &[], false);
    assert_eq!(code, 7);
    assert_eq!(content, "", "pidone waited for the handler");
    // Generous: the handler (>= 0.25 s) not finishing already shows pidone did not wait.
    assert!(took < 1.0, "took {took}");
}

/// With a descendant that ignores SIGTERM, `--wait-all` SIGKILLs it after the grace period,
/// still after the handler finished, and exits with the main child's status.
#[test]
fn wait_all_kills_a_term_ignorer_after_the_grace_period() {
    in_parallel(&modes(), 2, |mode| {
        let what = mode_name(mode);
        let (code, took, content, stderr) = wait_all_run(
            Mode::clone_of(mode),
            &["--wait-all", "--grace-period", "1s"],
            true,
        );
        assert_eq!(code, 7, "{what}: {stderr:?}");
        assert_eq!(content, "handled\n", "{what}");
        assert!((0.8..5.0).contains(&took), "{what}: took {took}");
        assert_eq!(stderr.len(), 1, "{what}: {stderr:?}");
        assert!(stderr[0].contains("SIGKILL"), "{what}: {stderr:?}");
    });
}

/// As subreaper, `--forward-to all` and `--wait-all` (TERM, then SIGKILL after the grace period)
/// never touch a process outside pidone's tree: a sigprint the test started itself, next to
/// pidone, in the test's own process group and session, receives nothing.
#[test]
fn subreaper_never_signals_outside_its_tree() {
    let sigprint = ex("sigprint");
    let mut sibling = start_with(Mode::Direct, &[], OsStr::new(&sigprint), &[], &[]);
    sibling.expect_line("ready");
    let mut run = start_env(
        Mode::Direct,
        &[
            "--forward-to",
            "all",
            "--wait-all",
            "--grace-period",
            "500ms",
            "--",
            "sh",
            "-c",
            r#""$0" & exec "$0" --exit-on TERM"#,
            &sigprint,
        ],
        &[],
    );
    run.expect_line("ready");
    run.expect_line("ready");
    for sig in [libc::SIGUSR1, libc::SIGHUP] {
        run.signal(sig);
        let want = format!("signal {sig} ");
        run.expect_line(&want);
        run.expect_line(&want);
    }
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    run.expect_line("signal 15 ");
    // the grandchild ignores TERM (prints it): SIGKILLed after the grace period
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    assert!(stderr.iter().any(|l| l.contains("SIGKILL")), "{stderr:?}");
    sibling.quiet_for(Duration::from_millis(300));
    assert!(sibling.running(), "the sibling was killed");
    assert_eq!(sibling.seen.len(), 1, "{:?}", sibling.seen);
    assert!(run.rest_of_stdout().len() >= 6);
}

// ---------------------------------------------------------------------------------------------
// 3. --forward-to all

const SETSID_SCRIPT: &str = r#"setsid "$0" --exit-on TERM & exec "$0" --exit-on TERM"#;

/// `--forward-to all` reaches a grandchild that left the session (setsid), as PID 1 and as
/// subreaper; `--forward-to group` does not (PID 1 case, 1 s window).
#[test]
fn forward_to_all_reaches_a_setsid_grandchild() {
    let sigprint = ex("sigprint");
    let cases = [
        (Mode::Pid1, "all", 2),
        (Mode::Direct, "all", 2),
        (Mode::Pid1, "group", 1),
    ];
    in_parallel(&cases, 3, |(mode, target, want)| {
        let what = format!("{} {target}", mode_name(mode));
        let mut run = start_env(
            Mode::clone_of(mode),
            &[
                "--forward-to",
                target,
                "--",
                "sh",
                "-c",
                SETSID_SCRIPT,
                &sigprint,
            ],
            &[],
        );
        let ready = [run.expect_line("ready"), run.expect_line("ready")];
        assert!(
            ready.iter().any(|l| field(l, "sid") == field(l, "pid")),
            "{what}: no setsid'd grandchild: {ready:?}"
        );
        run.signal(libc::SIGUSR1);
        run.expect_line("signal 10 ");
        let mut got = 1;
        if *want == 2 {
            run.expect_line("signal 10 ");
            got = 2;
        } else if run
            .line_within(Duration::from_secs(1))
            .is_some_and(|l| l.starts_with("signal 10 "))
        {
            got = 2;
        }
        assert_eq!(got, *want, "{what}");
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 0, "{what}");
        if *want == 2 {
            // both got TERM (as subreaper the grandchild exits by itself, closing stdout)
            let all = run.rest_of_stdout();
            let terms = all.iter().filter(|l| l.starts_with("signal 15 ")).count();
            if matches!(mode, Mode::Direct) {
                assert_eq!(terms, 2, "{what}: {all:?}");
            }
        }
    });
}

/// As PID 1, "all" means pidone's tree, not the namespace: a process entered into the namespace
/// from outside (`nsenter -p`, as `docker exec` and `kubectl exec` do; its parent is outside)
/// receives none of the signals `--forward-to all` forwards, nor the grace period's SIGKILL,
/// while the app and an orphan re-parented to pidone receive them.
#[test]
fn forward_to_all_spares_exec_sessions() {
    let sigprint = ex("sigprint");
    let mut run = start_env(
        Mode::Pid1,
        &[
            "--forward-to",
            "all",
            "--grace-period",
            "300ms",
            "--",
            "sh",
            "-c",
            r#"(setsid "$0" &) ; exec "$0""#,
            &sigprint,
        ],
        &[],
    );
    let ready = [run.expect_line("ready"), run.expect_line("ready")];
    // The orphan (its parent subshell has exited) is re-parented to pidone (pid 1).
    assert!(
        ready
            .iter()
            .any(|l| field(l, "ppid").as_deref() == Some("1")
                && field(l, "pid").as_deref() != Some("2")),
        "{ready:?}"
    );
    let mut session = Command::new("nsenter");
    session
        .args(["-t", &run.host_pid.to_string(), "-p", "--"])
        .arg(&sigprint);
    let mut session = adopt_piped(
        session
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        true,
    );
    let line = session.expect_line("ready");
    assert_eq!(field(&line, "ppid").as_deref(), Some("0"), "{line}");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10 ");
    run.expect_line("signal 10 ");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    run.expect_line("signal 15 ");
    // Neither the forwarded signals nor the SIGKILL reached the exec session while pidone ran.
    session.quiet_for(Duration::from_millis(100));
    assert_eq!(run.wait(), 137);
    assert_eq!(session.seen.len(), 1, "{:?}", session.seen);
    // The SIGKILL went to the app and the orphan: the tree counts two, the session is not in it.
    let stderr = run.stderr_lines();
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("sent SIGKILL to 2 processes of pidone's tree")),
        "{stderr:?}"
    );
    // pidone's exit as PID 1 ends the namespace, the exec session with it (the kernel's doing).
    assert!(session.wait_gone(TIMEOUT));
    let _ = session.wait();
}

/// `--wait-all` without /proc (a chroot that does not mount it): pidone cannot list its tree and
/// signals the main child's process group instead, whose id it keeps after the main child is
/// reaped. A descendant in that group ends at once, not at the grace period's SIGKILL: as a
/// subreaper (where nothing else would reach it) and as PID 1.
#[test]
fn wait_all_without_proc_signals_the_childs_group() {
    let root = std::env::temp_dir().join(format!("pidone-noproc-{}", std::process::id()));
    let (bin, dev) = (root.join("bin"), root.join("dev"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::copy(pidone(), root.join("pidone")).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in ["sh", "sleep"] {
        let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
    }
    // sh redirects a background job's stdin from /dev/null.
    let made = Command::new("mknod")
        .args(["-m", "666"])
        .arg(dev.join("null"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(made.success());
    let pidone_args = [
        "/pidone",
        "-v",
        "--wait-all",
        "--grace-period",
        "10s",
        "--",
        "/bin/sh",
        "-c",
        "/bin/sleep 1000 & echo started $!; exit 7",
    ];
    let launchers: [&[&str]; 2] = [
        &["unshare", "--pid", "--fork", "--kill-child", "chroot"],
        &["chroot"],
    ];
    in_parallel(&launchers, 2, |launcher| {
        let pid1 = launcher.len() > 1;
        let mut command = Command::new(launcher[0]);
        command
            .args(&launcher[1..])
            .arg(&root)
            .args(pidone_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut run = adopt_piped(command.spawn().unwrap(), !pid1);
        let line = run.expect_line("started");
        let start = Instant::now();
        let code = run.wait();
        let took = start.elapsed();
        let stderr = run.stderr_lines();
        assert_eq!(code, 7, "{launcher:?}: {line}: {stderr:?}");
        assert!(
            took < Duration::from_secs(5),
            "{launcher:?}: took {took:?}: {stderr:?}"
        );
        assert!(
            stderr
                .iter()
                .any(|l| l.contains("--wait-all: sent SIGTERM to the child's process group")),
            "{stderr:?}"
        );
        assert!(
            stderr
                .iter()
                .any(|l| l.contains("cannot list pidone's descendants")),
            "{stderr:?}"
        );
    });
    let _ = std::fs::remove_dir_all(&root);
}

/// `--forward-to group` when the main child has left its process group (it joined the group of
/// a helper it forked): the signal reaches the group pidone started it in, where a worker forked
/// before the move stayed, and the child itself, by pid.
#[test]
fn a_child_that_left_its_group_still_gets_group_signals() {
    let script = r#"
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
worker = os.fork()
if worker == 0:
    signal.sigwait({signal.SIGUSR1})
    print("worker got USR1", flush=True)
    os._exit(0)
r, w = os.pipe()
helper = os.fork()
if helper == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(0)
os.setpgid(helper, helper)
os.setpgid(0, helper)
print(f"ready pid={os.getpid()} pgid={os.getpgrp()} worker_pgid={os.getpgid(worker)}", flush=True)
signal.sigwait({signal.SIGUSR1})
os.waitpid(worker, 0)
print("child got USR1", flush=True)
"#;
    let mut run = start_env(
        Mode::Pid1,
        &["--forward-to", "group", "--", "python3", "-c", script],
        &[],
    );
    let ready = run.expect_line("ready");
    assert_ne!(field(&ready, "pid"), field(&ready, "pgid"), "{ready}");
    assert_eq!(
        field(&ready, "pid"),
        field(&ready, "worker_pgid"),
        "{ready}"
    );
    run.signal(libc::SIGUSR1);
    run.expect_line("worker got USR1");
    run.expect_line("child got USR1");
    assert_eq!(run.wait(), 0);
}

// ---------------------------------------------------------------------------------------------
// 4. --stop-delay

fn delayed(flags: &[&str], exit_on: &str) -> Run {
    let mut args = flags.to_vec();
    let sigprint = ex("sigprint");
    args.extend(["--", &sigprint, "--exit-on", exit_on]);
    let mut run = start_env(Mode::Pid1, &args, &[]);
    run.expect_line("ready");
    run
}

#[test]
fn stop_delay_holds_term() {
    let mut run = delayed(&["--stop-delay", "1s"], "TERM");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    run.quiet_for(Duration::from_millis(500));
    let line = run.line_within(Duration::from_secs(5)).unwrap();
    let took = secs(start.elapsed());
    assert!(line.starts_with("signal 15 "), "{line}");
    assert!((0.8..5.0).contains(&took), "TERM after {took}");
    assert_eq!(run.wait(), 0);
}

/// A second SIGTERM during the delay releases the held one at once, and only one goes out: the
/// delay's end sends nothing more.
#[test]
fn stop_delay_second_term_cuts_it_short() {
    let mut run = delayed(&["--stop-delay", "1s"], "USR2");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    run.quiet_for(Duration::from_millis(300));
    run.signal(libc::SIGTERM);
    let line = run.next_line();
    assert!(line.starts_with("signal 15 "), "{line}");
    assert!(secs(start.elapsed()) < 0.9, "{:?}", start.elapsed());
    // Measured window: past the end of the original delay.
    run.quiet_for(Duration::from_millis(1200));
    run.signal(libc::SIGUSR2);
    assert_eq!(run.wait(), 0);
}

/// Only the first SIGTERM is held: once the delay has released it, the next SIGTERM passes at
/// once (the app may trap TERM to drain, and a second stop must not wait again).
#[test]
fn stop_delay_holds_only_the_first_term() {
    let mut run = delayed(&["--stop-delay", "500ms"], "USR2");
    run.signal(libc::SIGTERM);
    run.quiet_for(Duration::from_millis(300));
    let line = run.line_within(Duration::from_secs(5)).unwrap();
    assert!(line.starts_with("signal 15 "), "{line}");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    let line = run.next_line();
    assert!(line.starts_with("signal 15 "), "{line}");
    assert!(
        secs(start.elapsed()) < 0.4,
        "held again: {:?}",
        start.elapsed()
    );
    run.signal(libc::SIGUSR2);
    assert_eq!(run.wait(), 0);
}

#[test]
fn stop_delay_int_releases_term_then_int() {
    let mut run = delayed(&["--stop-delay", "3s"], "USR2");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    run.quiet_for(Duration::from_millis(300));
    run.signal(libc::SIGINT);
    let mut got = vec![run.next_line(), run.next_line()];
    assert!(secs(start.elapsed()) < 1.5, "{:?}", start.elapsed());
    got.sort();
    assert!(
        got[0].starts_with("signal 15 ") && got[1].starts_with("signal 2 "),
        "{got:?}"
    );
    run.signal(libc::SIGUSR2);
    assert_eq!(run.wait(), 0);
}

#[test]
fn stop_delay_lets_other_signals_pass_at_once() {
    let mut run = delayed(&["--stop-delay", "1s"], "TERM");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    run.signal(libc::SIGUSR1);
    run.signal(libc::SIGHUP);
    let early = [run.next_line(), run.next_line()];
    assert!(secs(start.elapsed()) < 0.6, "{:?}", start.elapsed());
    assert!(
        early.iter().any(|l| l.starts_with("signal 10 "))
            && early.iter().any(|l| l.starts_with("signal 1 ")),
        "{early:?}"
    );
    let line = run.next_line();
    assert!(line.starts_with("signal 15 "), "{line}");
    assert!(secs(start.elapsed()) >= 0.8, "{:?}", start.elapsed());
    assert_eq!(run.wait(), 0);
}

#[test]
fn stop_delay_child_exit_during_the_delay_ends_pidone_at_once() {
    let mut run = delayed(&["--stop-delay", "5s"], "USR1");
    let start = Instant::now();
    run.signal(libc::SIGTERM);
    run.quiet_for(Duration::from_millis(200));
    run.signal(libc::SIGUSR1);
    assert_eq!(run.wait(), 0);
    assert!(secs(start.elapsed()) < 1.5, "{:?}", start.elapsed());
    let all = run.rest_of_stdout();
    assert!(!all.iter().any(|l| l.starts_with("signal 15 ")), "{all:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. --user

/// Runs status_dump under pidone as PID 1 (optionally with HOME removed) and returns its lines.
fn dump(args: &[&str], env: &[(&str, &str)], unset_home: bool) -> Vec<String> {
    let dump = ex("status_dump");
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.extend([OsStr::new("--"), OsStr::new(&dump)]);
    let prefix: Vec<&OsStr> = if unset_home {
        ["env", "-u", "HOME"].iter().map(OsStr::new).collect()
    } else {
        Vec::new()
    };
    let program = pidone();
    let mut run = if unset_home {
        let mut rest = prefix[1..].to_vec();
        rest.push(program.as_os_str());
        rest.extend(all.iter().copied());
        start_with(Mode::Pid1, &[], prefix[0], &rest, env)
    } else {
        start_with(Mode::Pid1, &[], program.as_os_str(), &all, env)
    };
    run.expect_line("end");
    assert_eq!(run.wait(), 0, "{args:?}: {:?}", run.stderr_lines());
    run.seen.clone()
}

fn ids(lines: &[String], key: &str) -> Vec<u32> {
    let line = lines
        .iter()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"));
    let mut out: Vec<u32> = line[key.len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    if key == "Groups:" {
        out.sort();
    }
    out
}

fn home(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("env HOME="))
        .unwrap()
        .to_string()
}

/// `getent` is the reference for names (glibc, the same files pidone reads).
fn passwd(name: &str) -> Option<(u32, u32, String)> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = text.trim().split(':').collect();
    (f.len() >= 6).then(|| {
        (
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[5].to_string(),
        )
    })
}

fn groups_of(name: &str) -> Vec<u32> {
    let out = Command::new("id").args(["-G", name]).output().unwrap();
    let mut g: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    g.sort();
    g.dedup();
    g
}

#[test]
fn user_gives_the_child_exactly_those_ids() {
    // (spec, uid, gid, groups, HOME)
    let mut cases: Vec<(String, u32, u32, Vec<u32>, String)> = vec![
        (
            "65534:65534".into(),
            65534,
            65534,
            vec![65534],
            "/nonexistent".into(),
        ),
        ("4242".into(), 4242, 0, vec![0], "/".into()),
        ("4242:4243".into(), 4242, 4243, vec![4243], "/".into()),
    ];
    // named users of this machine, one with a supplementary group from /etc/group if any
    for name in ["nobody", "postgres", "cloudsdk"] {
        if let Some((uid, gid, home)) = passwd(name) {
            cases.push((name.into(), uid, gid, groups_of(name), home));
        }
    }
    if let Some((uid, _, home)) = passwd("nobody") {
        cases.push(("nobody:daemon".into(), uid, 1, vec![1], home));
    }
    assert!(
        cases.iter().any(|c| c.3.len() > 1),
        "no user with supplementary groups on this machine: {cases:?}"
    );
    in_parallel(&cases, 4, |(spec, uid, gid, groups, user_home)| {
        let lines = dump(&["--user", spec], &[], true);
        assert_eq!(ids(&lines, "Uid:"), vec![*uid; 4], "{spec}");
        assert_eq!(ids(&lines, "Gid:"), vec![*gid; 4], "{spec}");
        assert_eq!(&ids(&lines, "Groups:"), groups, "{spec}");
        assert_eq!(&home(&lines), user_home, "{spec}");
        // Docker and Kubernetes always set HOME (root's): the target user's home replaces it,
        // as with gosu and su-exec.
        let lines = dump(&["--user", spec], &[("HOME", "/root")], false);
        assert_eq!(
            &home(&lines),
            user_home,
            "{spec}: HOME from the image must not stay"
        );
    });
}

/// pidone itself keeps its ids (it must still signal and reap), as PID 1 and as subreaper.
#[test]
fn user_drops_privileges_in_the_child_only() {
    for mode in modes() {
        let what = mode_name(&mode);
        let mut run = start_env(
            mode,
            &["--user", "65534:65534", "--", &ex("status_dump"), "--wait"],
            &[],
        );
        let uid = run.expect_line("Uid:");
        assert!(uid.starts_with("Uid:\t65534\t"), "{what}: {uid}");
        run.expect_line("end");
        assert_eq!(
            proc_status(run.host_pid).get("Uid").map(String::as_str),
            Some("0\t0\t0\t0"),
            "{what}"
        );
        // status_dump blocks SIGTERM only after "end": wait until it sits in rt_sigtimedwait
        let child = first_child(run.host_pid);
        assert!(eventually(TIMEOUT, || {
            std::fs::read_to_string(format!("/proc/{child}/syscall"))
                .is_ok_and(|s| s.starts_with(&format!("{} ", libc::SYS_rt_sigtimedwait)))
        }));
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 0, "{what}");
    }
}

/// An unknown user or group: exit 1, one line, and the child never runs.
#[test]
fn unknown_user_or_group_fails_before_the_child_runs() {
    let marker = std::env::temp_dir().join(format!("pidone-user-marker-{}", std::process::id()));
    let marker = marker.to_string_lossy().into_owned();
    for (args, env, needle) in [
        (
            vec!["--user", "no-such-user-here"],
            vec![],
            "no-such-user-here",
        ),
        (
            vec!["--user", "nobody:no-such-group"],
            vec![],
            "no-such-group",
        ),
        (
            vec![],
            vec![("PIDONE_USER", "no-such-user-here")],
            "no-such-user-here",
        ),
        (
            vec!["--log-format", "json", "--user", "no-such-user-here"],
            vec![],
            "no-such-user-here",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--", "touch", &marker]);
        let mut run = start_env(Mode::Pid1, &all, &env);
        let code = run.wait();
        let stderr = run.stderr_lines();
        assert_eq!(code, 1, "{args:?}: {stderr:?}");
        assert_eq!(stderr.len(), 1, "{args:?}: {stderr:?}");
        assert!(stderr[0].contains(needle), "{args:?}: {stderr:?}");
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{args:?}: the child ran"
        );
    }
}

/// A signal pidone may not send is reported, and pidone carries on. Run as an unprivileged user
/// that kept CAP_SETUID and CAP_SETGID, pidone starts its child as root (`--user 0:0`), which
/// it may then not signal (EPERM, as for a setuid program such as sudo under a non-root
/// pidone): the warning names the signal and the reason, and the child's own exit still ends
/// pidone with its status.
#[test]
fn a_signal_pidone_may_not_send_is_reported() {
    let prefix = [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--inh-caps",
        "+setuid,+setgid",
        "--ambient-caps",
        "+setuid,+setgid",
        "--",
    ]
    .map(OsStr::new);
    let args = [
        "--user",
        "0:0",
        "--",
        "sh",
        "-c",
        "echo ready uid=$(id -u); read line; exit 3",
    ]
    .map(OsStr::new);
    let mut run = start_with_stdin(
        Mode::Pid1,
        &prefix,
        pidone().as_os_str(),
        &args,
        &[],
        Stdio::piped(),
    );
    let ready = run.expect_line("ready");
    assert_eq!(field(&ready, "uid").as_deref(), Some("0"), "{ready}");
    assert_eq!(
        proc_status(run.host_pid)["Uid"],
        "65534\t65534\t65534\t65534"
    );
    run.signal(libc::SIGUSR1);
    run.expect_stderr_within(
        "Passing signal 'SIGUSR1' failed: Operation not permitted",
        TIMEOUT,
    );
    drop(run.stdin.take());
    assert_eq!(run.wait(), 3);
}

// ---------------------------------------------------------------------------------------------
// 6. --log-format json

/// Parses each line with python3's `json` module; returns one map per line (key → JSON text of
/// the value). Panics on any line that is not a JSON object.
fn parse_json_lines(lines: &[String]) -> Vec<HashMap<String, String>> {
    let script = r#"
import sys, json
for line in sys.stdin.read().split("\n")[:-1]:
    try:
        o = json.loads(line)
        assert isinstance(o, dict)
    except Exception:
        print("INVALID\t" + repr(line))
        continue
    print("\t".join(k + "=" + json.dumps(v) for k, v in o.items()))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: Vec<HashMap<String, String>> = text
        .lines()
        .map(|line| {
            assert!(!line.starts_with("INVALID"), "not JSON: {line}");
            line.split('\t')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect();
    assert_eq!(parsed.len(), lines.len());
    parsed
}

/// The events of `events` whose `event` field is `name`.
fn events_named<'a>(
    events: &'a [HashMap<String, String>],
    name: &str,
) -> Vec<&'a HashMap<String, String>> {
    let quoted = format!("\"{name}\"");
    events.iter().filter(|e| e["event"] == quoted).collect()
}

fn check_common_fields(event: &HashMap<String, String>, pidone_pid: &str) {
    let ts = event.get("ts").expect("ts");
    // "2026-11-30T12:24:05.123Z"
    assert_eq!(ts.len(), 26, "{ts}");
    assert!(ts.ends_with("Z\"") && ts.as_bytes()[11] == b'T', "{ts}");
    let level = event.get("level").expect("level");
    assert!(
        [
            "\"error\"",
            "\"warn\"",
            "\"info\"",
            "\"debug\"",
            "\"trace\""
        ]
        .contains(&level.as_str()),
        "{level}"
    );
    assert!(event.get("event").expect("event").starts_with('"'));
    assert!(event.get("msg").expect("msg").starts_with('"'));
    assert_eq!(
        event.get("pidone_pid").map(String::as_str),
        Some(pidone_pid)
    );
}

#[test]
fn json_log_lines_parse_and_carry_the_documented_fields() {
    let ignore_term = ex("ignore_term");
    let weird = "we\"ird\\ arg\twith tab";
    let mut run = start_env(
        Mode::Pid1,
        &[
            "--log-format",
            "json",
            "-vvvv",
            "--grace-period",
            "300ms",
            "--",
            "sh",
            "-c",
            r#"exec "$0""#,
            &ignore_term,
            weird,
        ],
        &[],
    );
    run.expect_line("ready");
    run.signal(libc::SIGWINCH);
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 137);
    let stderr = run.stderr_lines();
    let events = parse_json_lines(&stderr);
    let by_name = |name: &str| {
        *events_named(&events, name)
            .first()
            .unwrap_or_else(|| panic!("no {name} in {stderr:?}"))
    };
    for event in &events {
        check_common_fields(event, "1");
    }
    let started = by_name("child_started");
    assert_eq!(started.get("pid").map(String::as_str), Some("2"));
    let argv = format!(
        "[\"sh\", \"-c\", \"exec \\\"$0\\\"\", \"{}\", \"we\\\"ird\\\\ arg\\twith tab\"]",
        ignore_term
    );
    assert_eq!(started.get("argv"), Some(&argv));
    let escalated = by_name("escalated");
    assert_eq!(escalated["signal"], "\"SIGKILL\"");
    assert_eq!(escalated["after"], "\"SIGTERM\"");
    assert_eq!(escalated["grace_period_ms"], "300");
    assert_eq!(escalated["target"], "\"child\"", "{escalated:?}");
    assert_eq!(escalated["target_pid"], "2", "{escalated:?}");
    assert_eq!(escalated["level"], "\"warn\"");
    let exited = by_name("child_exited");
    assert_eq!(exited["exit_code"], "137");
    let runtime: u64 = exited["runtime_ms"].parse().unwrap();
    assert!((300..5000).contains(&runtime), "{runtime}");
    let forwarded = by_name("signal_forwarded");
    assert!(forwarded.contains_key("signal"));
    by_name("exiting");
    // Without --stop-delay nothing is held.
    assert!(
        events_named(&events, "stop_delayed").is_empty(),
        "{stderr:?}"
    );
}

/// At default verbosity the only line is the escalation summary, and it is JSON; `-w` reaps are
/// JSON events with the pid.
#[test]
fn json_at_default_verbosity_and_for_reaped_orphans() {
    let mut run = start_env(
        Mode::Pid1,
        &[
            "--log-format=json",
            "--grace-period",
            "200ms",
            "--",
            &ex("ignore_term"),
        ],
        &[],
    );
    run.expect_line("ready");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 137);
    let stderr = run.stderr_lines();
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    let events = parse_json_lines(&stderr);
    check_common_fields(&events[0], "1");
    assert_eq!(events[0]["event"], "\"escalated\"");

    let mut run = start_env(
        Mode::Direct,
        &[
            "--log-format",
            "json",
            "-w",
            // zombie_factory sees its orphans exit (a pipe closes) slightly before they are
            // zombies: without --wait-all pidone may exit before the last one can be reaped
            "--wait-all",
            "--",
            &ex("zombie_factory"),
            "3",
        ],
        &[],
    );
    run.expect_line("orphans exited n=3");
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    let events = parse_json_lines(&stderr);
    let own = run.host_pid.to_string();
    let reaped = events_named(&events, "zombie_reaped");
    assert_eq!(reaped.len(), 3, "{stderr:?}");
    for event in &events {
        check_common_fields(event, &own);
    }
    for event in reaped {
        assert!(event["pid"].parse::<i32>().unwrap() > 0);
    }
}

/// `status` means one thing in every event: the code the process passed to exit (3, not the raw
/// wait status 768); a process killed by a signal has `signo` and `signal` instead. `target` is
/// a token (`tree`) with the count beside it, not a sentence.
#[test]
fn json_status_means_the_exit_code_everywhere() {
    // Every process ignores SIGUSR2 from the start (with_mask), so the wait-all signal ends
    // neither orphan: one exits 3, the other kills itself with SIGKILL.
    let script = r#"(sleep 0.2; exit 3) & (sleep 0.2; exec sh -c 'kill -9 $$') & exit 5"#;
    let with_mask = example("with_mask");
    let prefix: Vec<&OsStr> = [with_mask.as_os_str()]
        .into_iter()
        .chain(["--ignore", "USR2", "--"].map(OsStr::new))
        .collect();
    let args: Vec<&OsStr> = [
        "--log-format",
        "json",
        "-vv",
        "--wait-all",
        "--wait-all-signal",
        "USR2",
        "--",
        "sh",
        "-c",
        script,
    ]
    .map(OsStr::new)
    .to_vec();
    let mut run = start_with(Mode::Pid1, &prefix, pidone().as_os_str(), &args, &[]);
    assert_eq!(run.wait(), 5);
    let stderr = run.stderr_lines();
    let events = parse_json_lines(&stderr);
    let named = |name: &str| events_named(&events, name);
    let exited = named("child_exited");
    assert_eq!(exited.len(), 1, "{stderr:?}");
    assert_eq!(exited[0]["status"], "5");
    assert_eq!(exited[0]["exit_code"], "5");
    let reaped = named("zombie_reaped");
    assert_eq!(reaped.len(), 2, "{stderr:?}");
    let by_code: Vec<_> = reaped.iter().filter_map(|e| e.get("status")).collect();
    assert_eq!(by_code, ["3"], "{stderr:?}");
    let by_signal: Vec<_> = reaped
        .iter()
        .filter_map(|e| Some((e.get("signo")?.as_str(), e.get("signal")?.as_str())))
        .collect();
    assert_eq!(by_signal, [("9", "\"SIGKILL\"")], "{stderr:?}");
    let wait_all = named("wait_all");
    assert_eq!(wait_all.len(), 1, "{stderr:?}");
    assert_eq!(wait_all[0]["target"], "\"tree\"");
    // the two subshells, and their `sleep` if they have started it
    let processes: u32 = wait_all[0]["processes"].parse().unwrap();
    assert!((2..=4).contains(&processes), "{stderr:?}");
    let exiting = named("exiting");
    assert_eq!(exiting[0]["reaped"], "2", "{stderr:?}");
}

/// The reaped count of the `exiting` event adds every sweep: three orphans reaped while the main
/// child ran, then the `sleep` it leaves behind, which `--wait-all`'s SIGTERM ends: 4.
#[test]
fn the_reaped_count_adds_what_the_drain_reaps_to_what_came_before() {
    let script =
        r#"trap 'exit 0' USR1; (true &); (true &); (true &); sleep 1000 & echo ready; wait"#;
    let mut run = start_env(
        Mode::Pid1,
        &[
            "--log-format",
            "json",
            "-vv",
            "--wait-all",
            "--",
            "sh",
            "-c",
            script,
        ],
        &[],
    );
    run.expect_line("ready");
    for _ in 0..3 {
        run.expect_stderr_within("\"zombie_reaped\"", TIMEOUT);
    }
    run.signal(libc::SIGUSR1);
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    let events = parse_json_lines(&stderr);
    let named = |name: &str| events_named(&events, name);
    let wait_all = named("wait_all");
    assert_eq!(wait_all.len(), 1, "{stderr:?}");
    assert_eq!(wait_all[0]["processes"], "1", "{stderr:?}");
    let exiting = named("exiting");
    assert_eq!(exiting.len(), 1, "{stderr:?}");
    assert_eq!(exiting[0]["reaped"], "4", "{stderr:?}");
}

/// A configuration error found once `--log-format json` is known is a JSON `fatal` event whose
/// `msg` carries no program prefix.
#[test]
fn config_errors_after_log_format_json_are_json() {
    let (code, _, stderr) = run_to_end_env(
        &["--log-format", "json", "--", "true"],
        &[("PIDONE_REWRITE", "TERM")],
    );
    assert_eq!(code, 1);
    let events = parse_json_lines(&stderr);
    assert_eq!(events.len(), 1, "{stderr:?}");
    assert_eq!(events[0]["event"], "\"fatal\"");
    let msg = &events[0]["msg"];
    assert!(msg.starts_with("\"PIDONE_REWRITE: "), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// 7. PIDONE_* environment

/// Every PIDONE_* variable has its flag's effect, and the flag wins when both are given.
#[test]
fn every_pidone_variable_acts_like_its_flag_and_the_flag_wins() {
    type Case = (&'static str, Box<dyn Fn() + Sync>);
    let cases: Vec<Case> = vec![
        (
            "grace",
            Box::new(|| {
                for (flags, env, range) in [
                    (&[][..], &[("PIDONE_GRACE_PERIOD", "1s")][..], 0.8..5.0),
                    (
                        &["--grace-period", "200ms"][..],
                        &[("PIDONE_GRACE_PERIOD", "60s")][..],
                        0.1..3.0,
                    ),
                ] {
                    let mut args = flags.to_vec();
                    let it = ex("ignore_term");
                    args.extend(["--", &it]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    run.expect_line("ready");
                    let start = Instant::now();
                    run.signal(libc::SIGTERM);
                    assert_eq!(run.wait(), 137, "{env:?}");
                    assert!(
                        range.contains(&secs(start.elapsed())),
                        "{env:?} {:?}",
                        start.elapsed()
                    );
                }
            }),
        ),
        (
            "wait-all and its signal",
            Box::new(|| {
                let sigprint = ex("sigprint");
                let script = r#"trap "exit 7" USR1; "$0" --exit-on TERM --exit-on USR2 --exit-on HUP & wait"#;
                for (flags, env, want) in [
                    (&[][..], &[][..], None),
                    (&[][..], &[("PIDONE_WAIT_ALL", "1")][..], Some("signal 15 ")),
                    (
                        &["--wait-all"][..],
                        &[("PIDONE_WAIT_ALL", "0")][..],
                        Some("signal 15 "),
                    ),
                    (
                        &[][..],
                        &[
                            ("PIDONE_WAIT_ALL", "yes"),
                            ("PIDONE_WAIT_ALL_SIGNAL", "USR2"),
                        ][..],
                        Some("signal 12 "),
                    ),
                    (
                        &["--wait-all-signal", "HUP"][..],
                        &[
                            ("PIDONE_WAIT_ALL", "on"),
                            ("PIDONE_WAIT_ALL_SIGNAL", "USR2"),
                        ][..],
                        Some("signal 1 "),
                    ),
                ] {
                    let mut args = flags.to_vec();
                    args.extend(["--", "sh", "-c", script, &sigprint]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    run.expect_line("ready");
                    run.signal(libc::SIGUSR1);
                    assert_eq!(run.wait(), 7, "{flags:?} {env:?}");
                    let all = run.rest_of_stdout();
                    let signals: Vec<_> = all.iter().filter(|l| l.starts_with("signal ")).collect();
                    match want {
                        None => assert!(signals.is_empty(), "{env:?}: {all:?}"),
                        Some(w) => assert!(
                            signals.len() == 1 && signals[0].starts_with(w),
                            "{flags:?} {env:?}: {all:?}"
                        ),
                    }
                }
            }),
        ),
        (
            "forward-to",
            Box::new(|| {
                let sigprint = ex("sigprint");
                for (flags, env, want) in [
                    (&[][..], &[("PIDONE_FORWARD_TO", "all")][..], 2),
                    (
                        &["--forward-to", "child"][..],
                        &[("PIDONE_FORWARD_TO", "all")][..],
                        1,
                    ),
                    (&["-g"][..], &[("PIDONE_FORWARD_TO", "child")][..], 1),
                ] {
                    let mut args = flags.to_vec();
                    args.extend(["--", "sh", "-c", SETSID_SCRIPT, &sigprint]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    run.expect_line("ready");
                    run.expect_line("ready");
                    run.signal(libc::SIGUSR1);
                    run.expect_line("signal 10 ");
                    let second = run
                        .line_within(Duration::from_millis(if want == 2 { 5000 } else { 700 }))
                        .is_some_and(|l| l.starts_with("signal 10 "));
                    assert_eq!(1 + usize::from(second), want, "{flags:?} {env:?}");
                }
                // PIDONE_FORWARD_TO=group reaches the (non-setsid) group
                let mut run = start_env(
                    Mode::Pid1,
                    &["--", "sh", "-c", r#""$0" & exec "$0""#, &sigprint],
                    &[("PIDONE_FORWARD_TO", "group")],
                );
                run.expect_line("ready");
                run.expect_line("ready");
                run.signal(libc::SIGUSR1);
                run.expect_line("signal 10 ");
                run.expect_line("signal 10 ");
            }),
        ),
        (
            "stop-delay",
            Box::new(|| {
                let sigprint = ex("sigprint");
                let mut run = start_env(
                    Mode::Pid1,
                    &["--", &sigprint, "--exit-on", "TERM"],
                    &[("PIDONE_STOP_DELAY", "1s")],
                );
                run.expect_line("ready");
                run.signal(libc::SIGTERM);
                run.quiet_for(Duration::from_millis(500));
                run.expect_line("signal 15 ");
                assert_eq!(run.wait(), 0);
                let mut run = start_env(
                    Mode::Pid1,
                    &[
                        "--stop-delay",
                        "100ms",
                        "--",
                        &sigprint,
                        "--exit-on",
                        "TERM",
                    ],
                    &[("PIDONE_STOP_DELAY", "60s")],
                );
                run.expect_line("ready");
                let start = Instant::now();
                run.signal(libc::SIGTERM);
                run.expect_line("signal 15 ");
                assert!(start.elapsed() < Duration::from_secs(3));
                assert_eq!(run.wait(), 0);
            }),
        ),
        (
            "user",
            Box::new(|| {
                let lines = dump(&[], &[("PIDONE_USER", "65534:65534")], false);
                assert_eq!(ids(&lines, "Uid:"), vec![65534; 4]);
                let lines = dump(
                    &["--user", "1000:1001"],
                    &[("PIDONE_USER", "65534:65534")],
                    false,
                );
                assert_eq!(ids(&lines, "Uid:"), vec![1000; 4]);
                assert_eq!(ids(&lines, "Gid:"), vec![1001; 4]);
            }),
        ),
        (
            "log-format and verbosity",
            Box::new(|| {
                let exit_with = ex("exit_with");
                let stderr_of = |flags: &[&str], env: &[(&str, &str)]| {
                    let mut args = flags.to_vec();
                    args.extend(["--", &exit_with, "0"]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    assert_eq!(run.wait(), 0);
                    run.stderr_lines()
                };
                let lines = stderr_of(&["-v"], &[("PIDONE_LOG_FORMAT", "json")]);
                assert!(!lines.is_empty());
                parse_json_lines(&lines);
                let lines = stderr_of(
                    &["-v", "--log-format", "text"],
                    &[("PIDONE_LOG_FORMAT", "json")],
                );
                assert!(
                    !lines.is_empty() && lines.iter().all(|l| l.starts_with("[INFO ")),
                    "{lines:?}"
                );
                let lines = stderr_of(&[], &[("PIDONE_VERBOSITY", "3")]);
                assert!(lines.iter().any(|l| l.starts_with("[DEBUG ")), "{lines:?}");
                let lines = stderr_of(&["-v"], &[("PIDONE_VERBOSITY", "4")]);
                assert!(lines.iter().any(|l| l.starts_with("[INFO ")), "{lines:?}");
                assert!(
                    !lines
                        .iter()
                        .any(|l| l.starts_with("[DEBUG ") || l.starts_with("[TRACE ")),
                    "{lines:?}"
                );
                // PIDONE_VERBOSITY beats the anchors' variables
                let lines = stderr_of(&[], &[("PIDONE_VERBOSITY", "0"), ("TINI_VERBOSITY", "4")]);
                assert!(lines.is_empty(), "{lines:?}");
            }),
        ),
        (
            "expect-exit",
            Box::new(|| {
                let exit_with = ex("exit_with");
                for (flags, env, exit, want) in [
                    (
                        &[][..],
                        &[("PIDONE_EXPECT_EXIT", "3,143")][..],
                        &["3"][..],
                        0,
                    ),
                    (
                        &[][..],
                        &[("PIDONE_EXPECT_EXIT", "3,143")][..],
                        &["--signal", "TERM"][..],
                        0,
                    ),
                    (
                        &[][..],
                        &[("PIDONE_EXPECT_EXIT", "3,143")][..],
                        &["4"][..],
                        4,
                    ),
                    (
                        &["-e", "4"][..],
                        &[("PIDONE_EXPECT_EXIT", "3")][..],
                        &["3"][..],
                        3,
                    ),
                    (
                        &["-e", "4"][..],
                        &[("PIDONE_EXPECT_EXIT", "3")][..],
                        &["4"][..],
                        0,
                    ),
                ] {
                    let mut args = flags.to_vec();
                    args.extend(["--", &exit_with]);
                    args.extend(exit);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    assert_eq!(run.wait(), want, "{flags:?} {env:?} {exit:?}");
                }
            }),
        ),
        (
            "rewrite",
            Box::new(|| {
                let sigprint = ex("sigprint");
                for (flags, env, term_as) in [
                    (
                        &[][..],
                        &[("PIDONE_REWRITE", "TERM:QUIT,USR1:0")][..],
                        "signal 3 ",
                    ),
                    (
                        &["-r", "TERM:HUP"][..],
                        &[("PIDONE_REWRITE", "TERM:QUIT,USR1:0")][..],
                        "signal 1 ",
                    ),
                ] {
                    let mut args = flags.to_vec();
                    args.extend(["--", &sigprint, "--exit-on", "QUIT", "--exit-on", "HUP"]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    run.expect_line("ready");
                    run.signal(libc::SIGUSR1);
                    run.signal(41);
                    let line = run.next_line();
                    let usr1_dropped = flags.is_empty();
                    if usr1_dropped {
                        assert!(line.starts_with("signal 41 "), "{line}");
                    } else {
                        assert!(
                            line.starts_with("signal 10 "),
                            "flag replaces the env list: {line}"
                        );
                    }
                    run.signal(libc::SIGTERM);
                    run.expect_line(term_as);
                    assert_eq!(run.wait(), 0);
                }
            }),
        ),
        (
            "single-child, warn-on-reap, subreaper, pdeath",
            Box::new(|| {
                let sigprint = ex("sigprint");
                let mut run = start_with(
                    Mode::Pid1,
                    &[],
                    persona_link("dumb-init").as_os_str(),
                    &[OsStr::new("--"), OsStr::new(&sigprint)],
                    &[("PIDONE_SINGLE_CHILD", "1")],
                );
                let ready = run.expect_line("ready");
                assert_ne!(field(&ready, "sid"), field(&ready, "pid"), "{ready}");
                drop(run);
                let zf = ex("zombie_factory");
                for (env, want) in [
                    (
                        &[("PIDONE_WARN_ON_REAP", "1"), ("PIDONE_SUBREAPER", "1")][..],
                        3,
                    ),
                    (&[("PIDONE_WARN_ON_REAP", "0")][..], 0),
                ] {
                    let mut run = start_env(Mode::Direct, &["--wait-all", "--", &zf, "3"], env);
                    run.expect_line("orphans exited n=3");
                    assert_eq!(run.wait(), 0);
                    let stderr = run.stderr_lines();
                    let n = stderr
                        .iter()
                        .filter(|l| l.contains("Reaped zombie process with pid="))
                        .count();
                    assert_eq!(n, want, "{env:?}: {stderr:?}");
                }
                for (flags, env, want) in [
                    (
                        &[][..],
                        &[("PIDONE_PDEATH_SIGNAL", "USR1")][..],
                        "signal 10 ",
                    ),
                    (
                        &["-p", "USR2"][..],
                        &[("PIDONE_PDEATH_SIGNAL", "USR1")][..],
                        "signal 12 ",
                    ),
                ] {
                    let mut args = flags.to_vec();
                    args.extend(["--", &sigprint, "--exit-on", "TERM"]);
                    let mut run = start_env(Mode::Pid1, &args, env);
                    run.expect_line("ready");
                    run.process.kill().unwrap();
                    let line = run.next_line();
                    assert!(line.starts_with(want), "{env:?}: {line}");
                    run.signal(libc::SIGTERM);
                    assert!(run.wait_gone(TIMEOUT));
                    run.wait();
                }
            }),
        ),
    ];
    in_parallel(&cases, 4, |(name, case)| {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case));
        assert!(result.is_ok(), "case {name} failed");
    });
}

/// An invalid PIDONE_* value is a usage error: exit 1, one line naming the variable, nothing run.
#[test]
fn an_invalid_pidone_variable_is_named() {
    let marker = std::env::temp_dir().join(format!("pidone-env-marker-{}", std::process::id()));
    let marker = marker.to_string_lossy().into_owned();
    for (name, value) in [
        ("PIDONE_GRACE_PERIOD", "soon"),
        ("PIDONE_WAIT_ALL", "maybe"),
        ("PIDONE_WAIT_ALL_SIGNAL", "NOPE"),
        ("PIDONE_FORWARD_TO", "everyone"),
        ("PIDONE_STOP_DELAY", "1y"),
        ("PIDONE_USER", ""),
        ("PIDONE_LOG_FORMAT", "xml"),
        ("PIDONE_VERBOSITY", "loud"),
        ("PIDONE_SUBREAPER", "perhaps"),
        ("PIDONE_PDEATH_SIGNAL", "SIGNOPE"),
        ("PIDONE_WARN_ON_REAP", "2"),
        ("PIDONE_EXPECT_EXIT", "256"),
        ("PIDONE_SINGLE_CHILD", "x"),
        ("PIDONE_REWRITE", "TERM"),
        ("PIDONE_PAUSE", "x"),
    ] {
        let mut run = start_env(Mode::Pid1, &["--", "touch", &marker], &[(name, value)]);
        let code = run.wait();
        let stderr = run.stderr_lines();
        assert_eq!(code, 1, "{name}={value}: {stderr:?}");
        assert_eq!(stderr.len(), 1, "{name}={value}: {stderr:?}");
        assert!(
            stderr[0].starts_with(&format!("pidone: {name}: ")),
            "{name}={value}: {stderr:?}"
        );
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{name}: the child ran"
        );
    }
}

trait CloneMode {
    fn clone_of(mode: &Mode) -> Mode;
}

impl CloneMode for Mode {
    fn clone_of(mode: &Mode) -> Mode {
        match mode {
            Mode::Pid1 => Mode::Pid1,
            Mode::Direct => Mode::Direct,
        }
    }
}

/// `--forward-to all` as subreaper where `pidfd_open` is refused (a seccomp profile returning
/// EPERM; old kernels give ENOSYS): the main child and the setsid'd grandchild still get every
/// signal, and the fallback is logged once, not per signal.
#[test]
fn forward_to_all_without_pidfds_still_reaches_the_child_and_the_tree() {
    let sigprint = ex("sigprint");
    let deny = example("deny_pidfd");
    let words = [
        "--forward-to",
        "all",
        "--",
        "sh",
        "-c",
        SETSID_SCRIPT,
        &sigprint,
    ];
    let args: Vec<&OsStr> = words.iter().map(OsStr::new).collect();
    let mut run = start_with(
        Mode::Direct,
        &[deny.as_os_str()],
        pidone().as_os_str(),
        &args,
        &[],
    );
    run.expect_line("ready");
    run.expect_line("ready");
    for _ in 0..2 {
        run.signal(libc::SIGUSR1);
        run.expect_line("signal 10 ");
        run.expect_line("signal 10 ");
    }
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
    let warnings: Vec<String> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("pidfd_open failed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", run.stderr_lines());
    assert!(
        warnings[0].contains("Operation not permitted"),
        "{warnings:?}"
    );
}
