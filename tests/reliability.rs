//! Reliability and security evidence: faults, hostile environments, bad input, the
//! credentials and descriptors the child gets, and — behind `PIDONE_LONG_TESTS=1` — soak tests
//! with a million signals, 100,000 orphans and repeated exit bursts. Tests print their figures
//! (`println!`, see `--nocapture`) so docs/reliability.md can quote a real run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(
    unsafe_code,
    reason = "the tests signal processes by raw number (libc::kill) and create fifos (mkfifo)"
)]

mod common;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn ex(name: &str) -> String {
    example(name).to_string_lossy().into_owned()
}

fn pidone_str() -> String {
    pidone().to_string_lossy().into_owned()
}

/// `kill(2)` that reports failure instead of asserting.
fn send(pid: i32, sig: i32) -> bool {
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// The long tests run only with `PIDONE_LONG_TESTS=1`; otherwise they say why they are skipped.
fn long_tests(name: &str) -> bool {
    let on = std::env::var("PIDONE_LONG_TESTS").is_ok_and(|v| v == "1");
    if !on {
        println!("{name}: skipped (set PIDONE_LONG_TESTS=1 to run the long tests)");
    }
    on
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A per-test scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pidone-rel-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cgroup v1 `pids` group for one test; on drop its remaining tasks (all started by the test)
/// are SIGKILLed and the group is removed.
struct PidsCgroup(PathBuf);

impl PidsCgroup {
    const ROOT: &'static str = "/sys/fs/cgroup/pids";

    fn new(max: u32) -> Option<PidsCgroup> {
        let root = Path::new(Self::ROOT);
        if !root.join("cgroup.procs").exists() {
            return None;
        }
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let dir = root.join(format!("pidone-rel-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let group = PidsCgroup(dir);
        std::fs::write(group.0.join("pids.max"), max.to_string()).unwrap();
        Some(group)
    }

    fn procs_file(&self) -> String {
        self.0.join("cgroup.procs").to_string_lossy().into_owned()
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        let procs = self.0.join("cgroup.procs");
        let removed = eventually(TIMEOUT, || {
            for pid in std::fs::read_to_string(&procs)
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                send(pid, libc::SIGKILL);
            }
            std::fs::remove_dir(&self.0).is_ok() || !self.0.exists()
        });
        if !removed {
            eprintln!("could not remove cgroup {}", self.0.display());
        }
    }
}

/// Spawns `command` with piped stdin/stdout/stderr and wraps it (see `adopt_piped`).
fn spawn_piped(mut command: Command, direct: bool) -> Run {
    let process = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    adopt_piped(process, direct)
}

/// `unshare --pid --fork --mount-proc --kill-child ARGS...`
fn unshare_pid1() -> Command {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]);
    c
}

fn count_lines(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

// ------------------------------------------------------------------------------------------
// Faults: closed and broken standard streams
// ------------------------------------------------------------------------------------------

/// stdout closed, and all three standard descriptors closed: pidone (with every log level on)
/// still runs the child and exits with its status; `--version` with stdout closed exits 0.
#[test]
fn closed_stdout_and_all_standard_fds() {
    for redirect in ["exec >&-", "exec >&- 2>&- <&-", "exec 2>&- <&-"] {
        let script = format!(r#"{redirect}; exec "$0" -vvvv -- "$1" 7"#);
        let mut c = unshare_pid1();
        c.args(["sh", "-c", &script, &pidone_str(), &ex("exit_with")]);
        let (code, _, stderr) = output_within(c, TIMEOUT);
        assert_eq!(code, 7, "{redirect}: {stderr:?}");
        println!("closed streams: '{redirect}' -> pidone exit {code} (child's status 7)");
    }
    let mut c = Command::new("sh");
    c.args(["-c", r#"exec >&-; exec "$0" --version"#, &pidone_str()]);
    let (code, _, stderr) = output_within(c, TIMEOUT);
    assert_eq!(code, 0, "{stderr:?}");
}

/// With stderr closed the signalfd lands on descriptor 2: pidone must not hand it to the child,
/// must keep forwarding (its log writes then fail harmlessly) and exit with the child's status.
#[test]
fn closed_stderr_keeps_forwarding_and_the_signalfd_private() {
    let script = r#"exec 2>&-; exec "$0" -vvvv -w -- "$1" --exit-code-on TERM"#;
    let mut c = unshare_pid1();
    c.args(["sh", "-c", script, &pidone_str(), &ex("sigprint")]);
    let mut run = spawn_piped(c, false);
    run.expect_line("ready");
    let child = first_child(run.host_pid);
    let pid = run.host_pid;
    assert!(
        eventually(TIMEOUT, || blocked_in_read(pid)),
        "pidone never idle"
    );
    let own = open_fds(pid);
    assert_eq!(own, [0, 1, 2], "pidone holds {own:?}");
    let fd2 = std::fs::read_link(format!("/proc/{}/fd/2", run.host_pid)).unwrap();
    assert!(fd2.to_string_lossy().contains("signalfd"), "{fd2:?}");
    let child_fds = open_fds(child);
    // (sigprint's Rust start-up reopens a closed fd 2 on /dev/null; status_dump, which has no
    // Rust start-up, shows the exact set in the_child_inherits_no_descriptor_pidone_opened.)
    for fd in &child_fds {
        let target = std::fs::read_link(format!("/proc/{child}/fd/{fd}")).unwrap_or_default();
        assert!(
            !target.to_string_lossy().contains("signalfd"),
            "the child got pidone's signalfd as {fd}"
        );
    }
    for _ in 0..20 {
        run.signal(libc::SIGUSR1);
        run.expect_line("signal 10 ");
    }
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 128 + libc::SIGTERM);
    println!(
        "closed stderr: pidone fds {own:?} (2 = signalfd), child fds [0, 1], 20/20 USR1 forwarded, exit 143"
    );
}

// ------------------------------------------------------------------------------------------
// Faults: pidone stopped while signals and SIGCHLDs pile up
// ------------------------------------------------------------------------------------------

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Opens `fifo` for writing once a reader has it open (non-blocking open, retried) and writes a
/// line, which releases the reader.
fn release_fifo(fifo: &Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut writer = None;
    assert!(
        eventually(TIMEOUT, || {
            writer = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo)
                .ok();
            writer.is_some()
        }),
        "nobody opened {} for reading",
        fifo.display()
    );
    writer.unwrap().write_all(b"go\n").unwrap();
}

#[test]
fn stopped_pidone_loses_nothing_posix_keeps() {
    const ORPHANS: usize = 200;
    const RT_SIGNALS: i32 = 100;
    let dir = TempDir::new("stop");
    let fifo = dir.0.join("go");
    mkfifo(&fifo);
    // The orphan maker is itself an orphan of pidone, released through the fifo while pidone is
    // stopped; the main child is sigprint.
    let script = r#"( (read x < "$0"; exec "$1" "$3") & ); exec "$2" --exit-on TERM"#;
    let fifo_s = fifo.to_string_lossy().into_owned();
    let n = ORPHANS.to_string();
    let mut run = pid1(&[
        "--",
        "sh",
        "-c",
        script,
        &fifo_s,
        &ex("zombie_factory"),
        &ex("sigprint"),
        &n,
    ]);
    run.expect_line("ready");
    let pid = run.host_pid;
    run.signal(libc::SIGSTOP);
    assert!(
        eventually(TIMEOUT, || run_state(pid) == Some('T')),
        "not stopped"
    );
    release_fifo(&fifo);
    run.expect_line(&format!("orphans exited n={ORPHANS}"));
    // The orphans and the orphan maker itself are zombies of the stopped pidone.
    assert!(
        eventually(TIMEOUT, || zombies_under(pid) > ORPHANS),
        "zombies while stopped: {}",
        zombies_under(pid)
    );
    let piled_up = zombies_under(pid);
    let standard = [
        libc::SIGUSR1,
        libc::SIGHUP,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGALRM,
    ];
    let mut rt_sent: BTreeMap<i32, usize> = BTreeMap::new();
    for i in 0..RT_SIGNALS {
        let sig = 34 + i % 31;
        run.signal(sig);
        *rt_sent.entry(sig).or_default() += 1;
        if i % 20 == 0 {
            for &s in &standard {
                run.signal(s);
            }
        }
    }
    assert_eq!(run_state(pid), Some('T'), "pidone ran while stopped");
    run.signal(libc::SIGCONT);
    // Every RT signal (they queue), each standard kind exactly once (they coalesce), and the
    // SIGCONT itself, which pidone also receives and forwards.
    let expected = RT_SIGNALS as usize + standard.len() + 1;
    let mut got: BTreeMap<i32, usize> = BTreeMap::new();
    for _ in 0..expected {
        let line = run.expect_line("signal ");
        let sig: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        *got.entry(sig).or_default() += 1;
    }
    assert!(
        eventually(TIMEOUT, || zombies_under(pid) == 0),
        "zombies left after SIGCONT: {}",
        zombies_under(pid)
    );
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
    for (sig, n) in &rt_sent {
        assert_eq!(got.get(sig), Some(n), "RT signal {sig}: got {got:?}");
    }
    for sig in standard.iter().chain([&libc::SIGCONT]) {
        assert_eq!(got.get(sig), Some(&1), "signal {sig}: got {got:?}");
    }
    let extra = count_lines(&run.rest_of_stdout(), "signal ") - expected - 1;
    assert_eq!(extra, 0, "unexpected signals: {:?}", run.seen);
    println!(
        "stopped pidone: {piled_up} zombies piled up, {RT_SIGNALS}/{RT_SIGNALS} RT signals and 1 of each of {} standard kinds (+SIGCONT) delivered after SIGCONT, 0 zombies left",
        standard.len()
    );
}

// ------------------------------------------------------------------------------------------
// Faults: unusual children
// ------------------------------------------------------------------------------------------

/// The child exec's another program, becomes a session leader, closes all its descriptors: pidone
/// still forwards, reaps the child's orphans and exits with the child's status.
#[test]
fn unusual_children_do_not_disturb_pidone() {
    for flags in [
        &[][..],
        &["--setsid"][..],
        &["--close-fds"][..],
        &["--setsid", "--close-fds"][..],
    ] {
        // `setsid` makes pidone a session (and group) leader in the namespace, so the child can
        // join pidone's group before calling setsid() itself.
        let mut c = unshare_pid1();
        c.args(["setsid", &pidone_str(), "-w", "--", "sh", "-c"])
            .arg(r#"echo "shell pid=$$"; exec "$0" "$@""#)
            .arg(ex("rel_child"))
            .args(flags);
        let mut run = spawn_piped(c, false);
        let shell = run.expect_line("shell pid=");
        let ready = run.expect_line("ready");
        assert_eq!(
            field(&shell, "pid"),
            field(&ready, "pid"),
            "exec kept the pid"
        );
        if flags.contains(&"--setsid") {
            assert_eq!(field(&ready, "sid"), field(&ready, "pid"), "{ready}");
            assert_eq!(field(&ready, "pgid"), field(&ready, "pid"), "{ready}");
        }
        let child = first_child(run.host_pid);
        if flags.contains(&"--close-fds") {
            assert!(
                eventually(TIMEOUT, || open_fds(child).is_empty()),
                "child still has {:?}",
                open_fds(child)
            );
        }
        run.signal(libc::SIGUSR1);
        run.signal(libc::SIGUSR2); // the child makes an orphan, which pidone must reap
        run.expect_stderr_within("Reaped zombie process", TIMEOUT);
        if !flags.contains(&"--close-fds") {
            run.expect_line("signal 10");
            run.expect_line("signal 12");
        }
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 2, "{flags:?}");
        println!(
            "unusual child {flags:?} (after exec): USR1+USR2 forwarded, orphan reaped, exit 2"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Faults: hostile environments
// ------------------------------------------------------------------------------------------

/// No /proc: forwarding, reaping and the exit status need none. `--forward-to all` and
/// `--wait-all` cannot list pidone's tree, as PID 1 or as a subreaper: they say so once and
/// fall back to the child's process group.
#[test]
fn works_without_proc() {
    let unmount = r#"umount -l /proc && exec "$0" "$@""#;
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "sh",
        "-c",
        unmount,
    ])
    .arg(pidone())
    .args(["--forward-to", "all", "-w", "--", "sh", "-c"])
    .arg(r#"[ -e /proc/self ] && echo proc=yes || echo proc=no; exec "$0" "$@""#)
    .arg(ex("rel_child"));
    let mut run = spawn_piped(c, false);
    run.expect_line("proc=no");
    run.expect_line("ready");
    run.signal(libc::SIGUSR1);
    run.signal(libc::SIGUSR2);
    run.expect_line("signal 10");
    run.expect_line("signal 12");
    let read = run.expect_stderr_within("Reaped zombie process", TIMEOUT);
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 2);
    let mut stderr = run.stderr_lines();
    stderr.extend(read);
    let warnings: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("WARN") && !l.contains("Reaped zombie"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr:?}");
    assert!(
        warnings[0].contains("cannot list pidone's descendants (/proc is not mounted)"),
        "{warnings:?}"
    );
    println!("no /proc, PID 1: forwarding (to the child's group), reaping, exit status all fine");

    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c", unmount])
        .arg(pidone())
        .args(["--forward-to", "all", "--wait-all", "--", &ex("sigprint")])
        .args(["--exit-on", "TERM"]);
    let mut run = spawn_piped(c, true);
    run.expect_line("ready");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10 ");
    let warned = run.expect_stderr_within("cannot list pidone's descendants (/proc", TIMEOUT);
    assert_eq!(warned.len(), 1, "{warned:?}");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
    println!(
        "no /proc, subreaper: '{}', signal still reached the child's group",
        warned[0]
    );
}

/// A /proc that shows another PID namespace (`unshare --pid` without `--mount-proc`: the host's)
/// is not taken for pidone's: its pid numbers name other processes, so `--forward-to all` says
/// so once and signals the child's process group instead, which still reaches the child.
#[test]
fn a_proc_of_another_pid_namespace_is_not_walked() {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--kill-child"])
        .arg(pidone())
        .args(["--forward-to", "all", "--", &ex("sigprint")])
        .args(["--exit-on", "TERM"]);
    let mut run = spawn_piped(c, false);
    run.expect_line("ready");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10 ");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0]
            .contains("cannot list pidone's descendants (/proc belongs to another PID namespace)"),
        "{stderr:?}"
    );
    println!("another namespace's /proc: '{}'", stderr[0]);
}

/// A read-only root file system (and cwd on it) changes nothing.
#[test]
fn works_on_a_read_only_root() {
    let mut c = Command::new("unshare");
    c.args(["--mount", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c"])
        .arg(r#"mount -o remount,bind,ro / && cd / && exec "$0" "$@""#)
        .arg(pidone())
        .args(["--", "sh", "-c"])
        .arg(
            r#"if touch /pidone-ro-probe 2>/dev/null; then rm -f /pidone-ro-probe; echo root=rw; else echo root=ro; fi; exec "$0" --exit-code-on TERM"#,
        )
        .arg(ex("sigprint"));
    let mut run = spawn_piped(c, false);
    run.expect_line("root=ro");
    run.expect_line("ready");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10 ");
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 143);
    assert!(run.stderr_lines().is_empty());
    println!("read-only root: forwarding and exit status 143 as usual, no warnings");
}

/// As an unprivileged user (uid/gid 65534, no groups, no capabilities) in subreaper mode pidone
/// registers as subreaper (no privilege needed), reaps orphans and forwards.
#[test]
fn works_as_an_unprivileged_user() {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(pidone())
    .args(["-w", "--", &ex("zombie_factory"), "20", "--wait"]);
    let mut run = spawn_piped(c, true);
    run.expect_line("orphans exited n=20");
    let status = proc_status(run.host_pid);
    assert_eq!(status["Uid"], "65534\t65534\t65534\t65534");
    assert_eq!(status["CapEff"], "0000000000000000");
    let pid = run.host_pid;
    assert!(eventually(TIMEOUT, || zombies_under(pid) == 0));
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
    let stderr = run.stderr_lines();
    assert_eq!(
        count_lines(&stderr, "Reaped zombie process"),
        20,
        "{stderr:?}"
    );
    assert_eq!(stderr.len(), 20, "unexpected warnings: {stderr:?}");
    println!(
        "unprivileged (uid 65534, CapEff 0): 20/20 orphans reaped by pidone, SIGTERM forwarded, exit 0"
    );
}

/// Not PID 1 and PR_SET_CHILD_SUBREAPER denied (by a seccomp filter: the prctl needs no
/// privilege, so nothing else can refuse it): pidone warns once, runs the child, forwards and
/// exits with its status; the orphans go to the real init instead.
#[test]
fn without_subreaper_permission_it_warns_and_works() {
    let mut c = Command::new(example("rel_noreaper"));
    c.arg(pidone())
        .args(["-w", "--", &ex("zombie_factory"), "5", "--wait"]);
    let mut run = spawn_piped(c, true);
    let warning = run.expect_stderr_within("cannot register as child subreaper", TIMEOUT);
    assert_eq!(warning.len(), 1, "{warning:?}");
    run.expect_line("orphans exited n=5");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
    let rest = run.stderr_lines();
    assert!(rest.is_empty(), "pidone reaped or warned more: {rest:?}");
    println!(
        "subreaper denied: one warning '{}', child ran, exit 0, orphans not reaped by pidone (they go to the host's init)",
        warning[0]
    );
}

// ------------------------------------------------------------------------------------------
// Faults: fork failures (cgroup v1 pids controller)
// ------------------------------------------------------------------------------------------

#[test]
fn spawn_failing_with_eagain_is_one_line_and_exit_1() {
    let Some(group) = PidsCgroup::new(1) else {
        println!(
            "skipped: no cgroup v1 pids controller at {}",
            PidsCgroup::ROOT
        );
        return;
    };
    // The shell joins the group (1 task = the limit), then becomes pidone, whose fork fails.
    let mut c = Command::new("sh");
    c.args(["-c", r#"echo $$ > "$0" && exec "$1" -- "$2" 0"#])
        .arg(group.procs_file())
        .arg(pidone())
        .arg(example("exit_with"));
    let (code, stdout, stderr) = output_within(c, TIMEOUT);
    assert_eq!(code, 1, "{stderr:?}");
    assert_eq!(
        stderr,
        // EAGAIN in nix's words (`Errno::desc`), which pidone uses for every error text.
        ["pidone: cannot start the child: Try again"]
    );
    assert!(stdout.is_empty());
    println!("pids.max=1: exit {code}, stderr {stderr:?}");
}

#[test]
fn forks_failing_around_the_child_do_not_affect_pidone() {
    let Some(group) = PidsCgroup::new(2) else {
        println!(
            "skipped: no cgroup v1 pids controller at {}",
            PidsCgroup::ROOT
        );
        return;
    };
    // pids.max=2: pidone and its child fit, nothing else does.
    let mut c = Command::new("sh");
    c.args([
        "-c",
        r#"echo $$ > "$0" && exec "$1" -w -- "$2" --try-forks 5"#,
    ])
    .arg(group.procs_file())
    .arg(pidone())
    .arg(example("rel_child"));
    let mut run = spawn_piped(c, true);
    run.expect_line("ready");
    let forks = run.expect_line("forks ");
    assert_eq!(forks, "forks ok=0 failed=5 error=EAGAIN");
    run.signal(libc::SIGUSR1);
    run.expect_line("signal 10");
    run.signal(libc::SIGUSR2); // its attempt to make an orphan fails too
    run.expect_line("signal 12");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 2);
    let stderr = run.stderr_lines();
    assert!(stderr.is_empty(), "{stderr:?}");
    println!("pids.max=2: child's '{forks}', pidone forwarded USR1/USR2/TERM, exit 2, no warnings");
}

// ------------------------------------------------------------------------------------------
// Security
// ------------------------------------------------------------------------------------------

/// The child's descriptors are exactly the launcher's, whatever pidone opened (its signalfd
/// takes the lowest free number, 0 or 2 when those are closed), also with `--user`.
#[test]
fn the_child_inherits_no_descriptor_pidone_opened() {
    for (redirect, user) in [
        ("exec 5</dev/null 9>/dev/null", None),
        ("exec 5</dev/null 9>/dev/null", Some("nobody")),
        ("exec 2>&- 5</dev/null", None),
        ("exec <&- 7</dev/null", None),
        ("exec <&- 2>&-", Some("65534:65534")),
    ] {
        let dump = |with_pidone: bool| {
            let user_args = user.map(|u| format!("--user {u}")).unwrap_or_default();
            // Without pidone, status_dump is PID 1 and exits on its own (no --wait).
            let script = if with_pidone {
                format!(r#"{redirect}; exec "$0" {user_args} -- "$1" --wait"#)
            } else {
                format!(r#"{redirect}; exec "$1""#)
            };
            let mut c = unshare_pid1();
            c.args(["sh", "-c", &script, &pidone_str(), &ex("status_dump")]);
            let mut run = spawn_piped(c, false);
            let fds = run.expect_line("fds=");
            run.expect_line("end");
            let mut pidone_fds = Vec::new();
            if with_pidone {
                // pidone holds 0-2 as inherited and its signalfd, nothing else, once idle.
                let pid = run.host_pid;
                assert!(
                    eventually(TIMEOUT, || blocked_in_read(pid)),
                    "pidone never idle"
                );
                pidone_fds = open_fds(pid);
                let signalfds: Vec<i32> = pidone_fds
                    .iter()
                    .copied()
                    .filter(|fd| is_signalfd(pid, *fd))
                    .collect();
                assert_eq!(signalfds.len(), 1, "{pidone_fds:?}");
                assert!(
                    pidone_fds
                        .iter()
                        .all(|&fd| fd < 3 || signalfds.contains(&fd)),
                    "pidone kept {pidone_fds:?}"
                );
                run.signal(libc::SIGTERM);
            }
            // status_dump prints `end` before it waits for SIGTERM, so the forwarded SIGTERM may
            // find it with the default action (143) or waiting (0).
            let code = run.wait();
            assert!(code == 0 || code == 143, "exit {code}");
            (fds, pidone_fds)
        };
        let (direct, _) = dump(false);
        let (through, pidone_fds) = dump(true);
        assert_eq!(through, direct, "{redirect} {user:?}");
        println!(
            "descriptors '{redirect}' user {user:?}: launcher passed {direct}, child got {through}, pidone holds {pidone_fds:?}"
        );
    }
}

/// The state letter of `pid` from /proc/<pid>/stat (`S`, `T`, `Z`...), None if gone.
fn run_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// True when `pid` sits in `read(2)` (pidone idle on its signalfd).
fn blocked_in_read(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/syscall")).is_ok_and(|s| s.starts_with("0 "))
}

fn is_signalfd(pid: i32, fd: i32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .is_ok_and(|t| t.to_string_lossy().contains("signalfd"))
}

/// The groups `name` gets by getgrouplist's rule, read independently from /etc/group.
fn groups_of(name: &str, primary: u32) -> Vec<u32> {
    let mut groups = vec![primary];
    for line in std::fs::read_to_string("/etc/group").unwrap().lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 4
            && fields[3].split(',').any(|m| m == name)
            && let Ok(gid) = fields[2].parse()
            && !groups.contains(&gid)
        {
            groups.push(gid);
        }
    }
    groups.sort_unstable();
    groups
}

/// `--user`: real, effective, saved and filesystem ids and the supplementary groups are exactly
/// the target's, no capability is left, and the child cannot get root back.
#[test]
fn user_drop_is_complete_and_irreversible() {
    let nobody = groups_of("nobody", 65534);
    for (args, env, uid, gid, groups) in [
        (vec!["--user", "nobody"], None, 65534, 65534, nobody.clone()),
        (vec!["--user", "1234:4321"], None, 1234, 4321, vec![4321]),
        (
            vec![],
            Some(("PIDONE_USER", "nobody:nogroup")),
            65534,
            65534,
            vec![65534],
        ),
    ] {
        let rel_child = ex("rel_child");
        let mut all: Vec<&str> = args.clone();
        all.extend(["--", &rel_child, "--try-root"]);
        let all: Vec<&OsStr> = all.iter().map(OsStr::new).collect();
        let env: Vec<(&str, &str)> = env.into_iter().collect();
        let mut run = start_with(Mode::Pid1, &[], pidone().as_os_str(), &all, &env);
        let ids = |line: String| -> Vec<u32> {
            line.split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap())
                .collect()
        };
        assert_eq!(ids(run.expect_line("Uid:")), [uid; 4], "{args:?} {env:?}");
        assert_eq!(ids(run.expect_line("Gid:")), [gid; 4], "{args:?} {env:?}");
        let mut got_groups = ids(run.expect_line("Groups:"));
        got_groups.sort_unstable();
        assert_eq!(got_groups, groups, "{args:?} {env:?}");
        assert_eq!(run.expect_line("CapPrm:"), "CapPrm:\t0000000000000000");
        assert_eq!(run.expect_line("CapEff:"), "CapEff:\t0000000000000000");
        let root = run.expect_line("root ");
        assert_eq!(
            root,
            "root setuid=EPERM setgid=EPERM setgroups=EPERM setresuid=EPERM"
        );
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), 0);
        println!(
            "user {args:?}{env:?}: Uid {uid}x4, Gid {gid}x4, Groups {groups:?}, caps 0, '{root}'"
        );
    }
}

/// `--forward-to all` (and `--wait-all`) as a subreaper signal pidone's descendants only: a
/// sibling in the very same process group and session receives nothing.
#[test]
fn never_signals_outside_its_tree_when_not_pid1() {
    // The sibling is the test's own child, in the test's (and pidone's) process group.
    let mut sibling = Command::new(example("sigprint"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sibling_pid = sibling.id() as i32;
    let (tx, sibling_lines) = std::sync::mpsc::channel();
    let sibling_out = sibling.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(sibling_out)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let ready = sibling_lines.recv_timeout(TIMEOUT).unwrap();
    assert!(ready.starts_with("ready"), "{ready}");
    let mut c = Command::new(pidone());
    c.args(["--forward-to", "all", "--wait-all", "--", "sh", "-c"])
        .arg(r#"("$0" --exit-on TERM &); exec "$0" --exit-on TERM"#)
        .arg(example("sigprint"));
    let mut run = spawn_piped(c, true);
    run.expect_line("ready");
    run.expect_line("ready");
    let pgrp = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_string()
    };
    assert_eq!(pgrp(run.host_pid), pgrp(sibling_pid), "same group");
    for sig in [libc::SIGUSR1, libc::SIGHUP, 40] {
        run.signal(sig);
        run.expect_line(&format!("signal {sig} "));
        run.expect_line(&format!("signal {sig} "));
    }
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), 0);
    assert_eq!(count_lines(&run.rest_of_stdout(), "signal 15 "), 2);
    // The measured window: the descendants got everything long before this ends.
    let extra = sibling_lines.recv_timeout(Duration::from_millis(500));
    let _ = sibling.kill();
    let _ = sibling.wait();
    assert!(extra.is_err(), "the sibling received a signal: {extra:?}");
    println!(
        "forward-to all + wait-all as subreaper: 2 descendants got USR1/HUP/40/TERM, sibling in the same group got 0 signals"
    );
}

// ------------------------------------------------------------------------------------------
// Bad input: every invalid command line and environment value, one line, exit 1
// ------------------------------------------------------------------------------------------

fn run_invalid(args: &[&OsStr], env: &[(&str, &OsStr)]) -> (i32, Vec<String>, Vec<String>) {
    let mut c = Command::new(pidone());
    c.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        c.env(k, v);
    }
    output_within(c, TIMEOUT)
}

#[test]
fn every_invalid_command_line_is_one_line_and_exit_1() {
    let invalid_signal = OsString::from(OsStr::from_bytes(b"\xff"));
    let cases: Vec<(Vec<&OsStr>, &str)> = vec![
        (vec![], "no command given (usage: pidone [OPTIONS] [--] COMMAND [ARGS...])"),
        (vec!["-v", "--"], "no command given (usage: pidone [OPTIONS] [--] COMMAND [ARGS...])"),
        // clap's wording: each message names the offending argument (or value) and the reason.
        (vec!["-Z", "true"], "'-Z'"),
        (vec!["-vZ", "true"], "'-Z'"),
        (vec!["--bogus", "true"], "'--bogus'"),
        (vec!["--=x", "true"], "'--'"),
        (vec!["--wait", "true"], "'--wait' found (ambiguous: --wait-all, --wait-all-signal)"),
        (vec!["--s", "true"], "'--s' found (ambiguous: --subreaper, --single-child, --stop-delay)"),
        (vec!["--wait-all=1", "true"], "'1' for '--wait-all'"),
        (vec!["--help=x"], "'x' for '--help'"),
        (vec!["--grace-period"], "a value is required for '--grace-period <DURATION>'"),
        (vec!["-p"], "a value is required for '--pdeath-signal <SIGNAL>'"),
        (vec!["-vp"], "a value is required for '--pdeath-signal <SIGNAL>'"),
        (vec!["-p", "NOSIG", "true"], "'--pdeath-signal <SIGNAL>': invalid signal 'NOSIG'"),
        (vec!["-p", "", "true"], "'--pdeath-signal <SIGNAL>': invalid signal ''"),
        (vec!["-p", "65", "true"], "'--pdeath-signal <SIGNAL>': signal number '65' is out of range 1..=64"),
        (vec!["-pRTMIN+31", "true"], "'--pdeath-signal <SIGNAL>': invalid signal 'RTMIN+31'"),
        (vec!["--pdeath-signal=0", "true"], "'--pdeath-signal <SIGNAL>': signal number '0' is out of range 1..=64"),
        (vec!["-e", "256", "true"], "'--expect-exit <CODE>': invalid exit code '256' (0..=255)"),
        (vec!["-e-1", "true"], "'--expect-exit <CODE>': invalid exit code '-1' (0..=255)"),
        (vec!["-r", "15", "true"], "'--rewrite <FROM:TO>': invalid rewrite '15' (expected FROM:TO, e.g. 15:3 or TERM:QUIT)"),
        (vec!["-r", "TERM:FOO", "true"], "'--rewrite <FROM:TO>': rewrite 'TERM:FOO': invalid signal 'FOO'"),
        (vec!["-r", "0:3", "true"], "'--rewrite <FROM:TO>': rewrite '0:3': signal number '0' is out of range 1..=64"),
        (vec!["--grace-period", "soon", "true"], "'--grace-period <DURATION>': invalid duration 'soon' (use e.g. 10s, 500ms, 1m or a number of seconds)"),
        (vec!["--grace-period=721h", "true"], "'--grace-period <DURATION>': duration '721h' is longer than 30 days"),
        (vec!["--stop-delay", "-1s", "true"], "'--stop-delay <DURATION>': invalid duration '-1s' (use e.g. 10s, 500ms, 1m or a number of seconds)"),
        (vec!["--forward-to", "everyone", "true"], "'--forward-to <child|group|all>': invalid target 'everyone' (child, group or all)"),
        (vec!["--user", "a:b:c", "true"], "'--user <USER[:GROUP]>': invalid user 'a:b:c' (expected USER or USER:GROUP)"),
        (vec!["--user=", "true"], "'--user <USER[:GROUP]>': invalid user '' (expected USER or USER:GROUP)"),
        (vec!["--log-format", "xml", "true"], "'--log-format <text|json>': invalid log format 'xml' (text or json)"),
        (vec!["--wait-all-signal", "0", "true"], "'--wait-all-signal <SIGNAL>': signal number '0' is out of range 1..=64"),
        (vec!["--user", "no-such-user-xyz", "true"], "--user: unknown user 'no-such-user-xyz': no such user in /etc/passwd"),
        (vec!["--user", "nobody:no-such-group", "true"], "--user: unknown group 'no-such-group': no such group in /etc/group"),
    ]
    .into_iter()
    .map(|(args, msg)| (args.into_iter().map(OsStr::new).collect(), msg))
    .chain([(
        vec![OsStr::new("-p"), invalid_signal.as_os_str(), OsStr::new("true")],
        "invalid UTF-8",
    )])
    .collect();
    for (args, message) in &cases {
        let (code, stdout, stderr) = run_invalid(args, &[]);
        assert_eq!(code, 1, "{args:?}: {stderr:?}");
        assert_eq!(stderr.len(), 1, "{args:?}: {stderr:?}");
        assert!(stderr[0].starts_with("pidone: "), "{args:?}: {stderr:?}");
        assert!(stderr[0].contains(message), "{args:?}: {stderr:?}");
        // Usage errors end with where to read more; failures to start (--user) do not.
        let hint = stderr[0].ends_with("; try 'pidone --help'");
        assert_eq!(
            hint,
            !message.starts_with("--user:"),
            "{args:?}: {stderr:?}"
        );
        assert!(stdout.is_empty(), "{args:?}: {stdout:?}");
    }
    println!(
        "{} invalid command lines: each exactly one stderr line and exit 1",
        cases.len()
    );
}

#[test]
fn every_invalid_environment_value_is_one_line_and_exit_1() {
    let boolean = |v: &str| format!("invalid boolean '{v}' (use 1/0, true/false, yes/no, on/off)");
    let mut cases: Vec<(&str, OsString, String)> = vec![
        (
            "PIDONE_VERBOSITY",
            "loud".into(),
            "invalid verbosity 'loud' (a number, 0..=4)".into(),
        ),
        (
            "PIDONE_VERBOSITY",
            "-1".into(),
            "invalid verbosity '-1' (a number, 0..=4)".into(),
        ),
        (
            "PIDONE_FORWARD_TO",
            "everyone".into(),
            "invalid target 'everyone' (child, group or all)".into(),
        ),
        (
            "PIDONE_REWRITE",
            "TERM".into(),
            "invalid rewrite 'TERM' (expected FROM:TO, e.g. 15:3 or TERM:QUIT)".into(),
        ),
        (
            "PIDONE_REWRITE",
            "TERM:QUIT,".into(),
            "invalid rewrite '' (expected FROM:TO, e.g. 15:3 or TERM:QUIT)".into(),
        ),
        (
            "PIDONE_EXPECT_EXIT",
            "0,300".into(),
            "invalid exit code '300' (0..=255)".into(),
        ),
        (
            "PIDONE_LOG_FORMAT",
            "xml".into(),
            "invalid log format 'xml' (text or json)".into(),
        ),
        (
            "PIDONE_PDEATH_SIGNAL",
            "NOPE".into(),
            "invalid signal 'NOPE' (a name such as TERM, SIGTERM or RTMIN+3, or a number)".into(),
        ),
        (
            "PIDONE_GRACE_PERIOD",
            "soon".into(),
            "invalid duration 'soon' (use e.g. 10s, 500ms, 1m or a number of seconds)".into(),
        ),
        (
            "PIDONE_WAIT_ALL_SIGNAL",
            "0".into(),
            "signal number '0' is out of range 1..=64".into(),
        ),
        (
            "PIDONE_STOP_DELAY",
            "1000h".into(),
            "duration '1000h' is longer than 30 days".into(),
        ),
        (
            "PIDONE_USER",
            "".into(),
            "invalid user '' (expected USER or USER:GROUP)".into(),
        ),
        (
            "PIDONE_GRACE_PERIOD",
            OsStr::from_bytes(b"1\xffs").into(),
            "not valid UTF-8".into(),
        ),
    ];
    for var in [
        "PIDONE_SUBREAPER",
        "PIDONE_SINGLE_CHILD",
        "PIDONE_PAUSE",
        "PIDONE_WAIT_ALL",
        "PIDONE_WARN_ON_REAP",
    ] {
        cases.push((var, "maybe".into(), boolean("maybe")));
        cases.push((var, "".into(), boolean("")));
    }
    for (var, value, message) in &cases {
        let (code, stdout, stderr) = run_invalid(&[OsStr::new("true")], &[(var, value)]);
        assert_eq!(code, 1, "{var}={value:?}: {stderr:?}");
        assert_eq!(
            stderr,
            [format!("pidone: {var}: {message}; try 'pidone --help'")],
            "{var}={value:?}"
        );
        assert!(stdout.is_empty());
    }
    // Resolution errors name --user even when the spec came from PIDONE_USER.
    let (code, _, stderr) = run_invalid(
        &[OsStr::new("true")],
        &[("PIDONE_USER", OsStr::new("no-such-user-xyz"))],
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        ["pidone: --user: unknown user 'no-such-user-xyz': no such user in /etc/passwd"]
    );
    println!(
        "{} invalid environment values: each exactly one stderr line and exit 1",
        cases.len() + 1
    );
}

// ------------------------------------------------------------------------------------------
// The main child's status in a burst of orphan exits
// ------------------------------------------------------------------------------------------

/// The main child exits at the same instant as `orphans` orphans (all released by its exit),
/// `rounds` times, with a different status each round (and SIGKILL every fifth round): pidone
/// must report exactly that status, never an orphan's (they exit 3).
fn status_in_orphan_bursts(rounds: usize, orphans: usize) {
    let started = Instant::now();
    let n = orphans.to_string();
    for round in 0..rounds {
        let (how, want) = if round % 5 == 4 {
            ("--kill".to_string(), 128 + libc::SIGKILL)
        } else {
            let code = [0, 1, 42, 77, 254, 255, 126, 2][round % 8];
            (code.to_string(), code)
        };
        let (code, _, stderr) = run_to_end(Mode::Pid1, &["-w", "--", &ex("rel_burst"), &n, &how]);
        assert_eq!(code, want, "round {round}: stderr {:?}", stderr.first());
        let reaped = count_lines(&stderr, "Reaped zombie process");
        assert!(reaped <= orphans, "round {round}: reaped {reaped}");
    }
    println!(
        "exit bursts: {rounds} rounds x {orphans} orphans exiting with the main child, status right every round ({:.1?})",
        started.elapsed()
    );
}

#[test]
fn main_status_survives_bursts_of_orphans() {
    status_in_orphan_bursts(3, 2000);
}

// ------------------------------------------------------------------------------------------
// Long tests (PIDONE_LONG_TESTS=1)
// ------------------------------------------------------------------------------------------

#[test]
fn long_main_status_survives_twenty_bursts_of_2000_orphans() {
    if long_tests("long_main_status_survives_twenty_bursts_of_2000_orphans") {
        status_in_orphan_bursts(20, 2000);
    }
}

/// One million signals of mixed kinds, paced by the child's progress lines (no sleeps, and the
/// queue never approaches RLIMIT_SIGPENDING, so every real-time signal must arrive).
#[test]
fn long_a_million_signals() {
    if !long_tests("long_a_million_signals") {
        return;
    }
    const TOTAL: usize = 1_000_000;
    const RT_PER_ROUND: usize = 500;
    const STANDARD_PER_ROUND: usize = 500;
    let standard = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGSEGV,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGSTKFLT,
        libc::SIGCONT,
        libc::SIGTSTP,
        libc::SIGURG,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
    ];
    let every = RT_PER_ROUND.to_string();
    let mut run = pid1(&["--", &ex("sig_counter"), "--every", &every]);
    run.expect_line("ready");
    let pid = run.host_pid;
    wait_until_idle(pid);
    let (rss_before, fds_before) = (vm_rss_kb(pid), open_fds(pid));
    let started = Instant::now();
    let mut sent: BTreeMap<i32, u64> = BTreeMap::new();
    let mut failures = 0u64;
    let mut rt_total = 0usize;
    let mut sent_total = 0usize;
    let mut round = 0usize;
    while sent_total < TOTAL {
        for i in 0..RT_PER_ROUND.max(STANDARD_PER_ROUND) {
            if i < STANDARD_PER_ROUND {
                let sig = standard[(round + i) % standard.len()];
                if send(pid, sig) {
                    *sent.entry(sig).or_default() += 1;
                } else {
                    failures += 1;
                }
            }
            if i < RT_PER_ROUND {
                let sig = 34 + ((round + i) % 31) as i32;
                if send(pid, sig) {
                    *sent.entry(sig).or_default() += 1;
                } else {
                    failures += 1;
                }
            }
        }
        sent_total += RT_PER_ROUND + STANDARD_PER_ROUND;
        rt_total += RT_PER_ROUND;
        run.expect_line_within(&format!("rt={rt_total}"), Duration::from_secs(60));
        round += 1;
        if run.seen.len() > 64 {
            run.seen.clear();
        }
    }
    let elapsed = started.elapsed();
    wait_until_idle(pid);
    let (rss_after, fds_after) = (vm_rss_kb(pid), open_fds(pid));
    run.signal(libc::SIGTERM);
    let counts = run.expect_line("counts ");
    assert_eq!(run.wait(), 0);
    assert_eq!(failures, 0, "kill() failed {failures} times");
    let got: BTreeMap<i32, u64> = counts
        .split_whitespace()
        .skip(3)
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.parse().unwrap(), v.parse().unwrap())
        })
        .collect();
    let mut rt_sent = 0;
    let mut standard_got = 0;
    for (sig, n) in &sent {
        let received = got.get(sig).copied().unwrap_or(0);
        if *sig >= 34 {
            rt_sent += n;
            assert_eq!(received, *n, "real-time signal {sig} lost");
        } else {
            standard_got += received;
            assert!(
                received >= 1 && received <= *n,
                "signal {sig}: {received} of {n}"
            );
        }
    }
    assert_eq!(got.get(&libc::SIGTERM), Some(&1));
    assert_eq!(fds_after, fds_before, "pidone's descriptors changed");
    assert!(
        rss_after <= rss_before + 8,
        "pidone's VmRSS grew from {rss_before} kB to {rss_after} kB"
    );
    println!(
        "a million signals: sent {sent_total} ({rt_sent} real-time, {} standard of {} kinds) in {elapsed:.1?}; child got all {rt_sent} real-time and {standard_got} standard (coalesced), then SIGTERM; pidone VmRSS {rss_before} kB -> {rss_after} kB, fds {fds_before:?} -> {fds_after:?}",
        sent_total as u64 - rt_sent,
        standard.len()
    );
}

/// 100,000 orphans in 100 bursts of 1000 (one zombie_factory run each): pidone reaps every one
/// (it logs each with `-w`), none is left, and its memory stays flat.
#[test]
fn long_a_hundred_thousand_orphans() {
    if !long_tests("long_a_hundred_thousand_orphans") {
        return;
    }
    const BURSTS: usize = 100;
    const BATCH: usize = 1000;
    let script = r#"i=0; while [ $i -lt "$2" ]; do "$0" "$3" || exit 1; i=$((i+1)); done
        echo bursts done; exec "$1" --exit-on TERM"#;
    let (bursts, batch) = (BURSTS.to_string(), BATCH.to_string());
    let mut run = pid1(&[
        "-w",
        "--",
        "sh",
        "-c",
        script,
        &ex("zombie_factory"),
        &ex("sigprint"),
        &bursts,
        &batch,
    ]);
    let started = Instant::now();
    run.expect_line(&format!("orphans exited n={BATCH}"));
    let pid = run.host_pid;
    let (rss_first, fds_first) = (vm_rss_kb(pid), open_fds(pid));
    run.expect_line_within("bursts done", Duration::from_secs(200));
    run.expect_line("ready");
    let elapsed = started.elapsed();
    assert!(
        eventually(TIMEOUT, || zombies_under(pid) == 0),
        "zombies left: {}",
        zombies_under(pid)
    );
    wait_until_idle(pid);
    let (rss_after, fds_after) = (vm_rss_kb(pid), open_fds(pid));
    run.signal(libc::SIGTERM);
    run.expect_line("signal 15 ");
    assert_eq!(run.wait(), 0);
    let reaped = count_lines(&run.stderr_lines(), "Reaped zombie process");
    // Every orphan, plus nothing else: zombie_factory's own intermediates are reaped by it.
    assert_eq!(reaped, BURSTS * BATCH, "pidone reaped {reaped}");
    assert_eq!(fds_after, fds_first);
    assert!(
        rss_after <= rss_first + 8,
        "pidone's VmRSS grew from {rss_first} kB to {rss_after} kB"
    );
    println!(
        "a hundred thousand orphans: {BURSTS} bursts x {BATCH} in {elapsed:.1?}; pidone reaped {reaped}, 0 zombies left; VmRSS {rss_first} kB (after the first burst) -> {rss_after} kB, fds {fds_first:?} -> {fds_after:?}"
    );
}
