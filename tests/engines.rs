//! The engines' own init mechanisms with pidone behind them, as users switch them on.
//!
//! Docker: a second `dockerd`, started next to the machine's one (which is not touched), with
//! `--init-path` = the pidone under test, so `docker run --init` and Compose `init: true` run
//! pidone as `/sbin/docker-init`. It lives in its own network namespace (`unshare --net`: with
//! `--bridge none` dockerd deletes the host's `docker0` at start-up), its own directories and
//! socket, and its own containerd namespaces on the machine's containerd. It is stopped and its
//! directories removed at the end, also when a check fails; then the machine's daemon must still
//! run a container.
//!
//! Podman: its own storage (`--root`, `--runroot`, `--tmpdir` in a temporary directory),
//! `--runtime runc` (crun refuses the hybrid cgroup setup here) and a `CONTAINERS_CONF` with
//! `default_ulimits = []` (its default open-files limit is refused here). `podman run --init
//! --init-path` runs pidone as `/run/podman-init`; a pod's infra container runs it as
//! `/catatonit -P`, as Podman's own pause image does with catatonit.
//!
//! The images are imported (`docker import`, `podman import`) from static binaries; every run
//! uses `--pull never` and `--network none`. Each engine is one test whose checks run in
//! parallel, each timed (`-- --nocapture` shows the times). Without an engine they skip with a
//! printed reason, unless `PIDONE_REQUIRE_DOCKER=1` / `PIDONE_REQUIRE_PODMAN=1` (set by
//! `scripts/test`) make that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() for image clean-up in the harness

#[path = "common/docker_version.rs"]
mod docker_version;
#[path = "docker/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Container, Engine, mounts_under, poll, processes_mentioning, run, run_checks, run_id,
    unmount_under,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a container may take to print its first line.
const READY: Duration = Duration::from_secs(15);

/// `stop -t 10` of an app that ends on SIGTERM, under pidone, must return within this: well
/// below the 10 s an init that forwards nothing makes it wait (the measured times are printed).
const FAST_STOP: Duration = Duration::from_secs(5);

/// Set to `1` (as `scripts/test` does) to make every reason to skip the Podman test a failure.
const REQUIRE_PODMAN: &str = "PIDONE_REQUIRE_PODMAN";

/// The containerd socket of the machine's Docker engine (Debian's docker.io).
const CONTAINERD: &str = "/run/docker/containerd/containerd.sock";

/// Skips (prints why) or, when `var=1`, fails.
fn skip(test: &str, var: &str, reason: &str) {
    assert!(
        !std::env::var(var).is_ok_and(|v| v == "1"),
        "{test}: {reason} ({var}=1 forbids skipping)"
    );
    println!("SKIPPED {test}: {reason}");
}

/// Whether `program` is on PATH.
fn have(program: &str) -> bool {
    run(
        Command::new("sh").args(["-c", "command -v \"$1\"", "sh", program]),
        Duration::from_secs(5),
    )
    .ok()
}

/// Why the test cannot run if one of `programs` is not on PATH: "`PROGRAM` is not installed".
fn not_installed(programs: &[&str]) -> Option<String> {
    programs
        .iter()
        .find(|p| !have(p))
        .map(|p| format!("`{p}` is not installed"))
}

/// One check of an engine test: a name and what it runs.
/// Removes what a test engine left behind in `dir` (and in the containerd namespaces `ns`):
/// processes that mention them (SIGKILL, by pid), mounts under `dir`, `dir` itself. Returns
/// what it had to clean besides the directory (empty after a clean shutdown).
fn remove_leftovers(dir: &Path, ns: Option<&str>) -> Vec<String> {
    let mut left = Vec::new();
    let dir_text = dir.to_string_lossy().into_owned();
    let mut needles = vec![dir_text.clone()];
    needles.extend(ns.map(|ns| format!("-namespace {ns} ")));
    for needle in &needles {
        for (pid, cmdline) in processes_mentioning(needle) {
            left.push(format!("process {pid}: {cmdline}"));
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    if !left.is_empty() {
        // The killed processes must be gone before their mounts can go.
        poll(Duration::from_secs(10), || {
            needles
                .iter()
                .all(|n| processes_mentioning(n).is_empty())
                .then_some(())
        });
    }
    left.extend(unmount_under(dir));
    if let Some(ns) = ns {
        for ns in [ns.to_string(), format!("{ns}-plugins")] {
            // Fails when the daemon never created it: nothing to remove then.
            run(
                Command::new("ctr").args(["--address", CONTAINERD, "namespaces", "rm", &ns]),
                Duration::from_secs(10),
            );
        }
    }
    if dir.exists() && mounts_under(dir).is_empty() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            left.push(format!("cannot remove {dir_text}: {e}"));
        }
    } else if dir.exists() {
        left.push(format!("{dir_text} kept: still mounted"));
    }
    left
}

/// Removes directories (and their daemons) of earlier runs of this test binary whose process is
/// gone: `<tmp>/pidone-engines-<pid>-<millis>`, containerd namespace `pidone-test-<pid>-<millis>`.
fn remove_stale() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(remove_stale_now);
}

fn remove_stale_now() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name
            .strip_prefix("pidone-engines-")
            .or_else(|| name.strip_prefix("pidone-podman-"))
        else {
            continue;
        };
        let pid = run.split('-').next().unwrap_or_default();
        if pid.is_empty()
            || !pid.bytes().all(|b| b.is_ascii_digit())
            || Path::new("/proc").join(pid).exists()
        {
            continue;
        }
        let dir = entry.path();
        let left = if name.starts_with("pidone-podman-") {
            // Podman removes its own containers (their processes do not mention the directory).
            let removed = PodmanStore::at(dir).remove();
            format!("{removed:?}")
        } else {
            // dockerd stops its containers on SIGTERM; only what it leaves is killed.
            let pid = std::fs::read_to_string(dir.join("docker.pid")).unwrap_or_default();
            let needle = dir.to_string_lossy().into_owned();
            if let Ok(pid) = pid.trim().parse::<i32>()
                && processes_mentioning(&needle).iter().any(|p| p.0 == pid)
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                poll(Duration::from_secs(30), || {
                    (!Path::new("/proc").join(pid.to_string()).exists()).then_some(())
                });
            }
            format!(
                "{:?}",
                remove_leftovers(&dir, Some(&format!("pidone-test-{run}")))
            )
        };
        println!("note: removed {name} of a killed run; left: {left}");
    }
}

/// The files of the test image (see `harness::image_files`), found (and the examples built) once
/// for both tests.
fn image_files(bin: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    static FILES: std::sync::OnceLock<Result<Vec<(PathBuf, String)>, String>> =
        std::sync::OnceLock::new();
    FILES.get_or_init(|| harness::image_files(bin)).clone()
}

/// The commit pidone reports in `--version` (Docker's parsing of it).
fn pidone_commit(bin: &Path) -> String {
    let out = run(Command::new(bin).arg("--version"), Duration::from_secs(10));
    assert!(out.ok(), "pidone --version: {out:?}");
    docker_version::parse_init_version(&out.stdout)
        .map(|(_, commit)| commit)
        .unwrap_or_else(|| panic!("Docker cannot parse {:?}", out.stdout))
}

/// The hash in `sha256sum` output.
fn sha256(output: &str) -> String {
    output
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The SHA-256 of a host file (coreutils' `sha256sum`).
fn sha256_of(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), Duration::from_secs(10));
    assert!(out.ok(), "sha256sum: {out:?}");
    sha256(&out.stdout)
}

// ---------------------------------------------------------------------------------------------
// What Docker's and Podman's `--init` share

/// What the checks of one engine share: the engine, the test image, the pidone under test, and
/// the engine-specific parts of running it as the container's init.
struct InitCtx {
    engine: Engine,
    image: String,
    bin: PathBuf,
    /// The test's own directory (the second dockerd's, the Podman store's).
    dir: PathBuf,
    /// The `run` options that make the pidone under test the init: Docker's `--init` (the daemon's
    /// `--init-path` names pidone), Podman's `--init --init-path PIDONE`.
    init: Vec<String>,
    /// Where the engine puts the init in the container, PID 1's argv[0]: `/sbin/docker-init`
    /// (tini's persona), `/run/podman-init` (catatonit's).
    init_path: &'static str,
}

impl InitCtx {
    /// The init options plus `--pull never --network none`, before the image.
    fn init_args(&self) -> Vec<&str> {
        let mut args: Vec<&str> = self.init.iter().map(String::as_str).collect();
        args.extend(["--pull", "never", "--network", "none"]);
        args
    }

    /// `ENGINE run -d` with the init options, of `cmd` in the test image.
    fn start_init(&self, what: &str, cmd: &[&str]) -> Container {
        let mut args = self.init_args();
        args.push(&self.image);
        args.extend_from_slice(cmd);
        Container::start_on(&self.engine, what, &args)
    }

    /// `ENGINE run --rm` with the init options: (exit code, stdout and stderr).
    fn run_init(&self, cmd: &[&str]) -> (Option<i32>, String) {
        let mut args = vec!["run", "--rm"];
        args.extend(self.init_args());
        args.push(&self.image);
        args.extend_from_slice(cmd);
        let out = self.engine.run(&args, Duration::from_secs(30));
        (out.code(), out.both())
    }
}

/// `ENGINE run --init`: pidone is PID 1 as `INIT_PATH -- CMD` (tini persona as
/// `/sbin/docker-init`, catatonit persona as `/run/podman-init`: either way the app gets its own
/// process group, no new session), and exit codes 0 and 42 pass through.
fn run_init_is_pid1_and_passes_exit_codes(ctx: &InitCtx) {
    let (code, out) = ctx.run_init(&["/bin/busybox", "cat", "/proc/1/cmdline"]);
    assert_eq!(code, Some(0), "{out}");
    let cmdline = out.replace('\0', " ");
    println!(
        "{} run --init: /proc/1/cmdline = {:?}",
        ctx.engine.program,
        cmdline.trim()
    );
    assert_eq!(
        cmdline.trim(),
        format!("{} -- /bin/busybox cat /proc/1/cmdline", ctx.init_path)
    );
    let (code, out) = ctx.run_init(&["/bin/busybox", "sha256sum", "/proc/1/exe"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        sha256(&out),
        sha256_of(&ctx.bin),
        "PID 1 is not the pidone under test"
    );
    assert_own_group_no_session(
        &ctx.start_init("persona", &["/app/sigprint", "--exit-on", "SIGTERM"]),
    );
    for want in [0, 42] {
        let (code, out) = ctx.run_init(&["/app/exit_with", &want.to_string()]);
        assert_eq!(code, Some(want), "{out}");
    }
}
/// sigprint in `c` is PID 1's child, leads its own process group and has no session of its own:
/// the tini and catatonit personas (dumb-init's would give it a new session).
fn assert_own_group_no_session(c: &Container) {
    let line = c.wait_log("ready pid=", READY);
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
            .to_string()
    };
    let (pid, ppid, pgid, sid) = (field("pid"), field("ppid"), field("pgid"), field("sid"));
    println!(
        "{} run --init: app pid={pid} ppid={ppid} pgid={pgid} sid={sid}",
        c.engine.program
    );
    assert_eq!(ppid, "1", "the app is pidone's child");
    assert_eq!(pgid, pid, "the app leads its own process group");
    assert_ne!(sid, pid, "no new session (that is dumb-init's persona)");
}

/// `ENGINE stop -t 10` returns at once under `--init` for an app that handles SIGTERM (exit 0)
/// and for one without a TERM handler (exit 143).
fn stop_is_fast_under_init(ctx: &InitCtx) {
    let graceful = ctx.start_init("stop-graceful", &["/app/graceful_server"]);
    let sleeper = ctx.start_init(
        "stop-sleep",
        &["/bin/sh", "-c", "echo ready; exec /bin/busybox sleep 60"],
    );
    graceful.wait_log("listening on", READY);
    sleeper.wait_log("ready", READY);
    for (c, what, want) in [
        (&graceful, "graceful_server", 0),
        (&sleeper, "`sleep 60` (no TERM handler)", 143),
    ] {
        let took = c.stop(10);
        let code = c.exit_code();
        println!(
            "{} stop -t 10, {what} under --init: {:.3} s, exit {code:?}",
            ctx.engine.program,
            took.as_secs_f64()
        );
        assert!(took < FAST_STOP, "took {took:?}; logs:\n{}", c.logs());
        assert_eq!(code, Some(want), "logs:\n{}", c.logs());
    }
    let logs = graceful.logs();
    assert!(logs.contains("shutting down after SIGTERM"), "{logs}");
}

/// `ENGINE kill -s USR1` and `-s RTMIN+3` reach the app under `--init`, and a forwarded SIGTERM
/// ends it at once (without it `podman rm -f` would wait 10 s).
fn kill_signals_reach_the_app(ctx: &InitCtx) {
    let c = ctx.start_init("kill", &["/app/sigprint", "--exit-on", "SIGTERM"]);
    c.wait_log("ready pid=", READY);
    // The engines number RTMIN as the kernel and glibc do: RTMIN+3 is 37.
    for (sig, line) in [("USR1", "signal 10 "), ("RTMIN+3", "signal 37 ")] {
        c.kill(sig);
        c.wait_log(line, Duration::from_secs(5));
    }
    let took = c.stop(10);
    assert!(took < FAST_STOP, "took {took:?}; logs:\n{}", c.logs());
    assert_eq!(c.exit_code(), Some(0), "logs:\n{}", c.logs());
    println!(
        "{} kill -s USR1 / -s RTMIN+3 under --init: both reached the app",
        ctx.engine.program
    );
}

/// Orphans of the app are reaped by pidone: no zombie accumulates in the container.
fn run_init_reaps_orphans(ctx: &InitCtx) {
    assert_reaped(&ctx.start_init("zombies", harness::ORPHAN_MAKER));
}

/// Waits until zombie_factory in `c` made at least 20 orphans, then expects no zombie (at most
/// a batch in flight).
fn assert_reaped(c: &Container) {
    poll(Duration::from_secs(15), || {
        (c.orphans_made() >= 20).then_some(())
    })
    .unwrap_or_else(|| panic!("zombie_factory made no orphans:\n{}", c.logs()));
    let mut worst = 0;
    let clean = poll(Duration::from_secs(5), || {
        let (z, _) = c.zombies();
        worst = worst.max(z);
        (z == 0).then_some(())
    });
    println!(
        "{} run --init: 0 zombies (at most {worst} in passing) after {} orphans",
        c.engine.program,
        c.orphans_made()
    );
    assert!(clean.is_some(), "zombies left: {:?}", c.zombies());
    assert!(worst <= 5, "zombies accumulate: {worst} at once");
}

// ---------------------------------------------------------------------------------------------
// Docker

/// A second dockerd whose `--init-path` is pidone; stopped, and its directories removed, when
/// dropped.
struct Daemon {
    dir: PathBuf,
    namespace: String,
    child: Option<Child>,
    engine: Engine,
}

impl Daemon {
    /// Starts it and waits (bounded) until it answers.
    fn start(init: &Path) -> Self {
        let dir = std::env::temp_dir().join(format!("pidone-engines-{}", run_id()));
        let namespace = format!("pidone-test-{}", run_id());
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("empty.json");
        std::fs::write(&config, "{}").unwrap();
        let socket = format!("unix://{}", dir.join("docker.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "dockerd", "--config-file"])
            .arg(&config)
            .arg("--data-root")
            .arg(dir.join("root"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .args(["-H", &socket, "--pidfile"])
            .arg(dir.join("docker.pid"))
            .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
            .args([
                "--containerd",
                CONTAINERD,
                "--containerd-namespace",
                &namespace,
            ])
            .args([
                "--containerd-plugins-namespace",
                &format!("{namespace}-plugins"),
            ])
            .arg("--init-path")
            .arg(init)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut daemon = Self {
            dir,
            namespace,
            child: None,
            engine: Engine {
                program: "docker".to_string(),
                global: Vec::new(),
                env: vec![("DOCKER_HOST".to_string(), socket)],
            },
        };
        daemon.child = Some(cmd.spawn().expect("unshare --net dockerd"));
        let answered = poll(Duration::from_secs(60), || {
            if let Some(Ok(Some(status))) = daemon.child.as_mut().map(Child::try_wait) {
                panic!("dockerd exited with {status}:\n{}", daemon.log());
            }
            daemon
                .engine
                .run(&["version"], Duration::from_secs(5))
                .ok()
                .then_some(())
        });
        assert!(
            answered.is_some(),
            "the second dockerd did not answer within 60 s:\n{}",
            daemon.log()
        );
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// Removes its containers, stops it (SIGTERM, SIGKILL after 30 s), and removes everything it
    /// left. `Err` lists what a clean shutdown should not have left.
    fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let t = Duration::from_secs(30);
        let ids = self.engine.run(&["ps", "-aq"], t).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.engine.run(&args, t);
        }
        // unshare execs dockerd: the child is dockerd itself.
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(-1));
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        let status = harness::wait_bounded(&mut child, Instant::now() + t);
        println!(
            "second dockerd stopped in {:.2} s ({status:?})",
            start.elapsed().as_secs_f64()
        );
        let left = remove_leftovers(&self.dir, Some(&self.namespace));
        match (status, left.is_empty()) {
            (Some(_), true) => Ok(()),
            (None, _) => Err(format!("dockerd ignored SIGTERM for 30 s; left: {left:?}")),
            (Some(_), false) => Err(format!("the second dockerd left: {left:?}")),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{e}");
        }
    }
}

/// `docker info` shows pidone's commit as the init version, and pidone as the init binary.
fn docker_info_shows_pidone(ctx: &InitCtx) {
    let commit = pidone_commit(&ctx.bin);
    let info = ctx.engine.ok(&[
        "info",
        "--format",
        "{{.InitBinary}}|{{.InitCommit.ID}}|{{.InitCommit.Expected}}",
    ]);
    println!("docker info: init binary|commit|expected = {}", info.trim());
    let fields: Vec<&str> = info.trim().split('|').collect();
    assert_eq!(fields[0], ctx.bin.display().to_string(), "{info}");
    assert!(!commit.is_empty(), "pidone --version names no commit");
    assert_eq!(fields[1], commit, "docker info's init commit: {info}");
}

/// `docker stop -t 10` returns at once for an app without a TERM handler under `--init` (exit
/// 143) and for one that handles it (exit 0); a shell-form app without an init waits for the
/// timeout (exit 137).
fn docker_stop_is_fast_with_init_and_waits_for_a_shell(ctx: &InitCtx) {
    std::thread::scope(|s| {
        let shell = s.spawn(|| {
            // A shell-form CMD: `/bin/sh -c "..."` is PID 1 and forwards nothing.
            let c = Container::start_on(
                &ctx.engine,
                "stop-shell",
                &[
                    "--pull",
                    "never",
                    "--network",
                    "none",
                    &ctx.image,
                    "/bin/sh",
                    "-c",
                    "echo ready; /bin/busybox sleep 60; true",
                ],
            );
            c.wait_log("ready", READY);
            (c.stop(2), c.exit_code())
        });
        stop_is_fast_under_init(ctx);
        let (took, code) = shell.join().unwrap();
        println!(
            "docker stop -t 2, shell-form `sleep 60` without an init: {:.3} s, exit {code:?}",
            took.as_secs_f64()
        );
        assert!(took >= Duration::from_millis(1900), "took {took:?}");
        assert_eq!(code, Some(137), "SIGKILLed at the timeout");
    });
}

/// `docker run --init -it` on a terminal: Ctrl-C typed there ends the app with SIGINT.
fn docker_run_init_it_passes_ctrl_c(ctx: &InitCtx) {
    let mut args = ctx.init_args();
    args.extend([
        &ctx.image,
        "/bin/sh",
        "-c",
        "[ -t 0 ] && echo tty=yes; echo ready; exec /bin/busybox sleep 30",
    ]);
    let (code, screen) = harness::run_in_pty(&ctx.engine, &args, "ready", b"\x03");
    println!("docker run --init -it + Ctrl-C on a pty: exit code {code:?}");
    assert!(screen.contains("tty=yes"), "no terminal:\n{screen}");
    assert_eq!(code, Some(130), "terminal:\n{screen}");
}

/// Compose `init: true` (Debian's docker-compose against the second daemon): the service runs
/// under pidone, and `docker-compose down` stops it fast.
fn compose_init_true(ctx: &InitCtx) {
    assert!(
        have("docker-compose"),
        "docker-compose is not installed (scripts/setup installs it)"
    );
    let name = harness::container_name("compose");
    let project = name.replace('-', "");
    let file = ctx.dir.join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            "version: \"2.4\"\nservices:\n  app:\n    image: {}\n    container_name: {name}\n    \
             init: true\n    network_mode: none\n    entrypoint: [\"/app/graceful_server\"]\n",
            ctx.image
        ),
    )
    .unwrap();
    let guard = Container::named_on(&ctx.engine, &name);
    let compose = |args: &[&str], timeout: Duration| {
        let mut cmd = Command::new("docker-compose");
        cmd.envs(ctx.engine.env.iter().map(|(k, v)| (k, v)))
            .arg("-f")
            .arg(&file)
            .args(["-p", &project])
            .args(args);
        run(&mut cmd, timeout)
    };
    let up = compose(&["up", "-d"], Duration::from_secs(60));
    assert!(up.ok(), "docker-compose up: {up:?}");
    guard.wait_log("listening on", READY);
    let cmdline = ctx
        .engine
        .ok(&["exec", &name, "/bin/busybox", "cat", "/proc/1/cmdline"]);
    let cmdline = cmdline.replace('\0', " ");
    println!("compose init: true: /proc/1/cmdline = {:?}", cmdline.trim());
    assert_eq!(cmdline.trim(), "/sbin/docker-init -- /app/graceful_server");
    let down = compose(&["down", "-t", "10"], Duration::from_secs(40));
    println!(
        "docker-compose down -t 10 of graceful_server under init: true: {:.3} s",
        down.elapsed.as_secs_f64()
    );
    assert!(down.ok(), "docker-compose down: {down:?}");
    // Without forwarding, down waits the 10 s timeout; the 8 s bound leaves room for
    // docker-compose's own start-up and the removal on a loaded machine.
    assert!(
        down.elapsed < Duration::from_secs(8),
        "down took {:?}",
        down.elapsed
    );
    let gone = ctx.engine.run(&["inspect", &name], Duration::from_secs(10));
    assert!(!gone.ok(), "down left the container: {gone:?}");
}

/// After the test: the machine's own daemon still runs a container on its default network.
fn machine_daemon_still_runs_a_container() {
    let machine = Engine::docker();
    let image = format!("pidone-test-{}-engines:busybox", run_id());
    let busybox = PathBuf::from("/bin/busybox");
    harness::import_image(
        &machine,
        &image,
        &[(busybox, "bin/busybox".to_string())],
        &[],
    )
    .unwrap();
    let out = machine.run(
        &[
            "run",
            "--rm",
            "--pull",
            "never",
            &image,
            "/bin/busybox",
            "true",
        ],
        Duration::from_secs(60),
    );
    let removed = machine.run(&["rmi", "-f", &image], Duration::from_secs(30));
    println!(
        "machine's Docker daemon after the test: docker run exit {:?} in {:.2} s",
        out.code(),
        out.elapsed.as_secs_f64()
    );
    assert!(
        out.ok(),
        "the machine's daemon cannot run a container any more: {out:?}"
    );
    assert!(removed.ok(), "{removed:?}");
}

#[test]
fn docker_daemon_with_pidone_as_init_path() {
    const TEST: &str = "docker_daemon_with_pidone_as_init_path";
    let require = harness::REQUIRE_VAR;
    if let Some(why) = not_installed(&["docker", "dockerd", "unshare", "ctr"]) {
        return skip(TEST, require, &why);
    }
    if !Path::new(CONTAINERD).exists() {
        return skip(
            TEST,
            require,
            &format!("no containerd socket at {CONTAINERD}"),
        );
    }
    if !nix::unistd::geteuid().is_root() {
        return skip(TEST, require, "a second dockerd needs root");
    }
    let machine = harness::docker(&["version"], Duration::from_secs(10));
    if !machine.ok() {
        return skip(TEST, require, "the machine's Docker daemon does not answer");
    }
    let bin = harness::pidone_bin();
    let files = match image_files(&bin) {
        Ok(files) => files,
        Err(why) => return skip(TEST, require, &why),
    };
    remove_stale();

    let start = Instant::now();
    let mut daemon = Daemon::start(&bin);
    println!(
        "second dockerd answered after {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let image = format!("pidone-engines-{}:all", run_id());
    harness::import_image(&daemon.engine, &image, &files, &[]).unwrap();
    let ctx = InitCtx {
        engine: daemon.engine.clone(),
        image,
        bin,
        dir: daemon.dir.clone(),
        init: vec!["--init".to_string()],
        init_path: "/sbin/docker-init",
    };
    let failed = run_checks(
        &ctx,
        &[
            ("docker_info_shows_pidone", docker_info_shows_pidone),
            (
                "docker_run_init_is_pid1_and_passes_exit_codes",
                run_init_is_pid1_and_passes_exit_codes,
            ),
            (
                "docker_stop_is_fast_with_init_and_waits_for_a_shell",
                docker_stop_is_fast_with_init_and_waits_for_a_shell,
            ),
            (
                "docker_kill_signals_reach_the_app",
                kill_signals_reach_the_app,
            ),
            ("docker_run_init_reaps_orphans", run_init_reaps_orphans),
            (
                "docker_run_init_it_passes_ctrl_c",
                docker_run_init_it_passes_ctrl_c,
            ),
            ("compose_init_true", compose_init_true),
        ],
    );
    let stopped = daemon.stop();
    machine_daemon_still_runs_a_container();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    stopped.unwrap();
    println!("{TEST}: {:.2} s in all", start.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// Podman

/// Podman with its own storage in a temporary directory; everything in it is removed (and the
/// directory deleted) when dropped.
struct PodmanStore {
    dir: PathBuf,
    engine: Engine,
    done: bool,
}

impl PodmanStore {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("pidone-podman-{}", run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n",
        )
        .unwrap();
        Self::at(dir)
    }

    /// The store in `dir` (which holds `containers.conf`).
    fn at(dir: PathBuf) -> Self {
        let conf = dir.join("containers.conf");
        let sub = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let engine = Engine {
            program: "podman".to_string(),
            global: vec![
                "--root".to_string(),
                sub("root"),
                "--runroot".to_string(),
                sub("run"),
                "--tmpdir".to_string(),
                sub("tmp"),
                "--runtime".to_string(),
                "runc".to_string(),
            ],
            env: vec![(
                "CONTAINERS_CONF".to_string(),
                conf.to_string_lossy().into_owned(),
            )],
        };
        Self {
            dir,
            engine,
            done: false,
        }
    }

    /// Removes pods, containers and images, then the directory. `Err` lists leftovers.
    fn remove(&mut self) -> Result<(), String> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(());
        }
        let t = Duration::from_secs(60);
        let mut failed = Vec::new();
        for args in [
            &["pod", "rm", "-af", "-t", "0"][..],
            &["rm", "-af", "-t", "0"],
            &["rmi", "-af"],
        ] {
            let out = self.engine.run(args, t);
            if !out.ok() {
                failed.push(format!("podman {args:?}: {}", out.both().trim()));
            }
        }
        let left = remove_leftovers(&self.dir, None);
        if failed.is_empty() && left.is_empty() {
            Ok(())
        } else {
            Err(format!("podman clean-up: {failed:?}; left: {left:?}"))
        }
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            eprintln!("{e}");
        }
    }
}

/// A pod whose infra container is pidone as `/catatonit -P` (`--infra-command`: Podman 4.3 splits
/// it at spaces; the JSON form `["/catatonit","-P"]` would be taken as one file name), sharing
/// its PID namespace with an app container that makes orphans: the infra container reaps them,
/// and `podman pod stop` ends it at once with exit 0.
fn podman_pod_with_pidone_as_pause(ctx: &InitCtx) {
    let pod = harness::container_name("pod");
    let created = ctx.engine.run(
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "--share",
            "pid,ipc,net,uts",
            "--network",
            "none",
            "--infra-image",
            &ctx.image,
            "--infra-command",
            "/catatonit -P",
        ],
        Duration::from_secs(30),
    );
    assert!(created.ok(), "podman pod create: {created:?}");
    struct PodGuard<'a>(&'a Engine, &'a str);
    impl Drop for PodGuard<'_> {
        fn drop(&mut self) {
            let _ = self
                .0
                .run(&["pod", "rm", "-f", self.1], Duration::from_secs(30));
        }
    }
    let _pod_guard = PodGuard(&ctx.engine, &pod);
    let mut args = vec!["--pod", &pod, "--pull", "never", &ctx.image];
    args.extend_from_slice(harness::ORPHAN_MAKER);
    let app = Container::start_on(&ctx.engine, "pod-app", &args);
    let infra_id = ctx
        .engine
        .ok(&["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod])
        .trim()
        .to_string();
    let infra = Container::named_on(&ctx.engine, &infra_id);
    let cmdline = ctx
        .engine
        .ok(&["exec", &app.name, "/bin/busybox", "cat", "/proc/1/cmdline"])
        .replace('\0', " ");
    println!("podman pod: PID 1 of the pod = {:?}", cmdline.trim());
    assert_eq!(cmdline.trim(), "/catatonit -P");
    assert_reaped(&app);
    let stop = ctx
        .engine
        .run(&["pod", "stop", "-t", "10", &pod], Duration::from_secs(40));
    let code = infra.exit_code();
    println!(
        "podman pod stop -t 10: {:.3} s, infra (pidone -P) exit {code:?}, app exit {:?}",
        stop.elapsed.as_secs_f64(),
        app.exit_code()
    );
    assert!(stop.ok(), "podman pod stop: {stop:?}");
    assert!(stop.elapsed < FAST_STOP, "took {:?}", stop.elapsed);
    assert_eq!(code, Some(0), "pause mode exits 0 on SIGTERM");
    let running = infra.inspect("{{.State.Running}}");
    assert_eq!(running, "false");
}

#[test]
fn podman_with_pidone_as_init_and_pause() {
    const TEST: &str = "podman_with_pidone_as_init_and_pause";
    if let Some(why) = not_installed(&["podman", "runc"]) {
        return skip(TEST, REQUIRE_PODMAN, &why);
    }
    if !nix::unistd::geteuid().is_root() {
        return skip(TEST, REQUIRE_PODMAN, "rootful Podman needs root");
    }
    let bin = harness::pidone_bin();
    let mut files = match image_files(&bin) {
        Ok(files) => files,
        Err(why) => return skip(TEST, REQUIRE_PODMAN, &why),
    };
    remove_stale();
    let start = Instant::now();
    let mut store = PodmanStore::new();
    // pidone also as /catatonit, for the pod's infra container.
    files.push((bin.clone(), "catatonit".to_string()));
    let image = format!("pidone-engines-{}:all", run_id());
    harness::import_image(&store.engine, &image, &files, &[]).unwrap();
    let init = vec![
        "--init".to_string(),
        "--init-path".to_string(),
        bin.to_str().expect("a UTF-8 path").to_string(),
    ];
    let ctx = InitCtx {
        engine: store.engine.clone(),
        image,
        bin,
        dir: store.dir.clone(),
        init,
        init_path: "/run/podman-init",
    };
    let failed = run_checks(
        &ctx,
        &[
            (
                "podman_run_init_is_pid1_and_passes_exit_codes",
                run_init_is_pid1_and_passes_exit_codes,
            ),
            ("podman_stop_is_fast", stop_is_fast_under_init),
            (
                "podman_kill_signals_reach_the_app",
                kill_signals_reach_the_app,
            ),
            ("podman_run_init_reaps_orphans", run_init_reaps_orphans),
            (
                "podman_pod_with_pidone_as_pause",
                podman_pod_with_pidone_as_pause,
            ),
        ],
    );
    let removed = store.remove();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    removed.unwrap();
    println!("{TEST}: {:.2} s in all", start.elapsed().as_secs_f64());
}
