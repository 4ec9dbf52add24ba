//! pidone in Kubernetes pods, through the interface kubelet uses: the Container Runtime Interface
//! (CRI v1) of a private containerd.
//!
//! The node: Debian's containerd 1.6 (its CRI plugin built in), started once for this test
//! binary with its own config, root, state, socket and runc state in a temporary directory, in
//! its own network namespace; pods use that namespace as their node network, so no CNI plugin
//! is needed. Its `sandbox_image` is the release image (`scripts/image-tar.py`: `/pidone`,
//! `Entrypoint ["/pidone"]`, `Cmd ["-P"]`), so every pod's pause process is pidone. Images are
//! imported with `ctr images import`; nothing is pulled. See `cri/node.rs` for the clean-up.
//!
//! The tests call the CRI as kubelet would (`cri/client.rs`): RunPodSandbox, CreateContainer
//! and StartContainer, ExecSync for exec probes, StopContainer with the pod's
//! `terminationGracePeriodSeconds` as timeout, ContainerStatus for exit codes, StopPodSandbox.
//! The manifests in `examples/kubernetes/` are read (`cri/manifest.rs`) and run as they are,
//! with `image:` mapped to the local test image.
//!
//! Without containerd, runc or root the tests skip with a printed reason, unless
//! `PIDONE_REQUIRE_CRI=1` (set by `scripts/test`) makes that a failure. `-- --nocapture` prints
//! the measured times.
#![cfg(target_arch = "x86_64")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() for the node's clean-up

#[path = "cri/client.rs"]
mod client;
#[path = "docker/harness.rs"]
mod harness;
#[path = "cri/image.rs"]
mod image;
#[path = "cri/manifest.rs"]
mod manifest;
#[path = "cri/node.rs"]
mod node;

use std::path::Path;
use std::time::{Duration, Instant};

use client::{Container, Cri};
use harness::poll;
use manifest::{ContainerSpec, PodSpec};

/// How long a container may take to print its first line.
const READY: Duration = Duration::from_secs(20);

/// StopContainer of an app that ends on the stop signal must return within this (an init that
/// forwards nothing makes it wait the whole timeout).
const FAST_STOP: Duration = Duration::from_secs(1);

/// The node and a client, or `None` when the test is skipped.
fn cri(test: &str) -> Option<Cri> {
    node::node(test).map(Cri::connect)
}

// ---------------------------------------------------------------------------------------------
// What the tests look at

/// A process as the host sees it (`/proc/PID/stat`).
#[derive(Clone)]
struct Proc {
    pid: i32,
    ppid: i32,
    state: String,
    comm: String,
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.pid, self.comm, self.state)
    }
}

/// Every process on the host.
fn host_procs() -> Vec<Proc> {
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // exited meanwhile
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().unwrap_or_default().to_string();
        let ppid = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        procs.push(Proc {
            pid,
            ppid,
            state,
            comm: stat[open + 1..close].to_string(),
        });
    }
    procs
}

/// The children of host process `pid`.
fn children(pid: i32) -> Vec<Proc> {
    host_procs().into_iter().filter(|p| p.ppid == pid).collect()
}

/// The command line of host process `pid`, NULs as spaces.
fn host_cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The pid of host process `pid` in its own (innermost) PID namespace (`NSpid`).
fn pid_inside(pid: i32) -> i32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no NSpid for {pid}:\n{status}"))
}

/// (zombies, processes) in the container's PID namespace, as `ps` in it would count them
/// (ExecSync reading /proc/*/stat; `docker top`-like tools do not show exited tasks).
fn zombies_inside(c: &Container) -> (usize, usize) {
    // `; true`: a process that exits during the read makes cat fail.
    let out = c.exec_ok(&["/bin/sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null; true"]);
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.rsplit_once(") ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    (states.iter().filter(|s| **s == "Z").count(), states.len())
}

/// The `total=` of zombie_factory's last batch line in `log`.
fn orphans_made(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| {
            l.rsplit_once("total=")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .max()
        .unwrap_or(0)
}

/// Waits until zombie_factory in `maker` has made at least 20 orphans, then expects no zombie
/// in `viewer`'s PID namespace (at most one batch in passing).
fn assert_orphans_reaped(maker: &Container, viewer: &Container) {
    poll(Duration::from_secs(20), || {
        (orphans_made(&maker.logs()) >= 20).then_some(())
    })
    .unwrap_or_else(|| panic!("zombie_factory made no orphans:\n{}", maker.logs()));
    let mut worst = 0;
    let clean = poll(Duration::from_secs(5), || {
        let (z, _) = zombies_inside(viewer);
        worst = worst.max(z);
        (z == 0).then_some(())
    });
    println!(
        "{} orphans made, 0 zombies left (at most {worst} in passing)",
        orphans_made(&maker.logs())
    );
    assert!(
        clean.is_some(),
        "zombies left: {:?}",
        zombies_inside(viewer)
    );
    assert!(worst <= 5, "zombies accumulate: {worst} at once");
}

/// `argv` as the kernel shows it in /proc/1/cmdline inside `c`, NULs as spaces.
fn pid1_cmdline(c: &Container) -> String {
    c.exec_ok(&["/bin/busybox", "cat", "/proc/1/cmdline"])
        .replace('\0', " ")
        .trim()
        .to_string()
}

/// Whether /proc/1/exe inside `c` is the pidone under test (same SHA-256).
fn pid1_is_pidone_under_test(c: &Container) -> bool {
    let inside = c.exec_ok(&["/bin/busybox", "sha256sum", "/proc/1/exe"]);
    let want = image::sha256_of(&harness::pidone_bin()).unwrap();
    inside.split_whitespace().next() == Some(want.as_str())
}

/// The value of `--grace-period` in a pidone command line, as pidone reads it (`8s`, `500ms`,
/// `1m`, a bare number of seconds).
fn grace_period(argv: &[String]) -> Option<Duration> {
    let value = argv.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--grace-period=")
            .map(str::to_string)
            .or_else(|| (a == "--grace-period").then(|| argv.get(i + 1).cloned().unwrap()))
    })?;
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value.as_str(), "s"), |at| value.split_at(at));
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The pidone command line without its `--grace-period` option.
fn without_grace_period(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in argv {
        if std::mem::take(&mut skip) || a.starts_with("--grace-period=") {
            continue;
        }
        if a == "--grace-period" {
            skip = true;
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// The Deployment of examples/kubernetes/, as its pod template, on the local test image.
fn deployment() -> PodSpec {
    manifest::load("deployment.yaml").with_image(image::APP)
}

/// The shared-PID Pod of examples/kubernetes/, on the local test image.
fn shared_pid_pod() -> PodSpec {
    manifest::load("shared-pid-pod.yaml").with_image(image::APP)
}

// ---------------------------------------------------------------------------------------------
// pidone as the app container's init

/// pidone as the app container's init (`command: ["/pidone", "--"]`, the container's own PID
/// namespace, as in a pod without shareProcessNamespace): it is PID 1, and StopContainer with a
/// 10 s timeout returns at once for an app without a SIGTERM handler (busybox `sleep`), which
/// ContainerStatus reports as exit code 143.
#[test]
fn app_init_is_pid1_and_stop_container_returns_at_once_with_143() {
    let Some(cri) = cri("app_init_is_pid1_and_stop_container_returns_at_once_with_143") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("app-init", false));
    let c = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        &[
            "/pidone",
            "--",
            "/bin/sh",
            "-c",
            "echo ready; exec sleep 600",
        ],
    ));
    c.wait_log("ready", READY);
    let cmdline = pid1_cmdline(&c);
    println!("PID 1 of the container: {cmdline:?}");
    assert_eq!(cmdline, "/pidone -- /bin/sh -c echo ready; exec sleep 600");
    assert!(
        pid1_is_pidone_under_test(&c),
        "PID 1 is not the pidone under test"
    );
    let took = c.stop(10);
    let code = c.exit_code();
    println!(
        "StopContainer(timeout 10) of `sleep` (no TERM handler) under pidone: {:.3} s, exit {code}",
        took.as_secs_f64()
    );
    assert!(took < FAST_STOP, "took {took:?}; log:\n{}", c.logs());
    assert_eq!(code, 143, "log:\n{}", c.logs());
}

/// An app under pidone that exits 42 by itself: ContainerStatus reports 42.
#[test]
fn app_init_passes_exit_code_42() {
    let Some(cri) = cri("app_init_passes_exit_code_42") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("exit-code", false));
    let c = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        &["/pidone", "--", "/app/exit_with", "42"],
    ));
    let code = c.wait_exit(READY);
    println!("ContainerStatus of `pidone -- exit_with 42`: exit {code}");
    assert_eq!(code, 42, "log:\n{}", c.logs());
}

// ---------------------------------------------------------------------------------------------
// Exec probes

/// How many exec probes each probe test runs.
const PROBES: usize = 5;

/// An exec probe that leaves an orphan behind, as probe scripts that start something in the
/// background do (kubelet runs exec probes with ExecSync).
const PROBE: &[&str] = &["/bin/sh", "-c", "sleep 0.1 & exit 0"];

/// Runs [`PROBE`] [`PROBES`] times in `c`, each exiting 0.
fn run_probes(c: &Container) {
    for _ in 0..PROBES {
        let out = c.exec(PROBE);
        assert_eq!(out.code, 0, "probe: {out:?}");
    }
}

/// Exec probes against a container whose PID 1 is pidone leave no zombie: the orphaned
/// `sleep 0.1` of each probe is re-parented to PID 1 (the exec'd shell's parent, the shim, is
/// outside the container's PID namespace) and pidone reaps it.
#[test]
fn exec_probes_leave_no_zombies_under_pidone() {
    let Some(cri) = cri("exec_probes_leave_no_zombies_under_pidone") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("probes-pidone", false));
    let c = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        &[
            "/pidone",
            "--",
            "/bin/sh",
            "-c",
            "echo ready; exec sleep 600",
        ],
    ));
    c.wait_log("ready", READY);
    let init = c.host_pid();
    run_probes(&c);
    // ExecSync returns when the probe's output is closed, that is after the orphaned
    // `sleep 0.1` (which holds it) has exited: pidone has reaped it by then or does so at once.
    let settled = poll(Duration::from_secs(5), || {
        let kids = children(init);
        (kids.len() == 1).then_some(kids)
    });
    let (zombies, procs) = zombies_inside(&c);
    println!(
        "{PROBES} exec probes `sh -c 'sleep 0.1 & exit 0'` under pidone: PID 1's children \
         afterwards {:?}; {zombies} zombies among {procs} processes in the container",
        children(init)
    );
    let kids = settled.unwrap_or_else(|| panic!("PID 1's children stay: {:?}", children(init)));
    assert_eq!(kids[0].comm, "sleep", "the app: {kids:?}");
    assert_eq!(zombies, 0);
}

/// The control: the same probes against a container whose PID 1 is a plain `sleep` leave one
/// zombie each, for good (this is what the check above would see without an init).
#[test]
fn exec_probes_leave_zombies_under_plain_sleep_control() {
    let Some(cri) = cri("exec_probes_leave_zombies_under_plain_sleep_control") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("probes-sleep", false));
    let c = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        &["/bin/busybox", "sleep", "600"],
    ));
    let init = c.host_pid();
    run_probes(&c);
    let zombies = || {
        children(init)
            .into_iter()
            .filter(|k| k.state == "Z")
            .count()
    };
    let all = poll(Duration::from_secs(5), || {
        (zombies() >= PROBES).then_some(())
    });
    let (inside, procs) = zombies_inside(&c);
    println!(
        "{PROBES} exec probes against a plain `sleep` as PID 1: {} zombie children of PID 1; \
         {inside} zombies among {procs} processes in the container",
        zombies()
    );
    assert!(
        all.is_some(),
        "only {} zombies: {:?}",
        zombies(),
        children(init)
    );
    assert_eq!(zombies(), PROBES, "{:?}", children(init));
    assert_eq!(inside, PROBES);
    // The pod's clean-up SIGKILLs it: a plain `sleep` as PID 1 ignores SIGTERM.
}

// ---------------------------------------------------------------------------------------------
// The Deployment: grace period against terminationGracePeriodSeconds

/// The Deployment of examples/kubernetes/ as written: its container runs `command` + `args`
/// with pidone as PID 1, serves, and StopContainer with terminationGracePeriodSeconds as the
/// timeout ends it at once with exit 0 (graceful_server finishes on SIGTERM).
#[test]
fn deployment_manifest_runs_under_pidone_and_stops_gracefully() {
    let Some(cri) = cri("deployment_manifest_runs_under_pidone_and_stops_gracefully") else {
        return;
    };
    let spec = deployment();
    let web = spec.container("web");
    let pod = cri.run_pod(&spec);
    let c = pod.start(web);
    c.wait_log("listening on", READY);
    let argv = [web.command.clone(), web.args.clone()].concat().join(" ");
    assert_eq!(pid1_cmdline(&c), argv);
    let page = c.exec(&[
        "/bin/busybox",
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8080/",
    ]);
    assert_eq!(page.code, 0, "the app does not answer: {page:?}");
    let took = c.stop(pod.grace_seconds);
    let code = c.exit_code();
    println!(
        "deployment.yaml: StopContainer(timeout {}) of graceful_server under `{}`: {:.3} s, \
         exit {code}",
        pod.grace_seconds,
        web.command.join(" "),
        took.as_secs_f64()
    );
    assert!(took < FAST_STOP, "took {took:?}; log:\n{}", c.logs());
    assert_eq!(code, 0, "log:\n{}", c.logs());
    assert!(
        c.logs().contains("shutting down after SIGTERM"),
        "{}",
        c.logs()
    );
}

/// The Deployment's pidone command (`--grace-period` shorter than terminationGracePeriodSeconds)
/// with an app that ignores SIGTERM: pidone SIGKILLs it at its grace period and says so; the
/// container ends with 137 after about the grace period, before the CRI timeout.
#[test]
fn grace_period_kills_before_the_cri_timeout() {
    let Some(cri) = cri("grace_period_kills_before_the_cri_timeout") else {
        return;
    };
    let mut spec = deployment();
    let web = spec.container("web").clone();
    let grace = grace_period(&web.command).expect("deployment.yaml sets --grace-period");
    let timeout = Duration::from_secs(u64::try_from(spec.grace_seconds).unwrap());
    assert!(
        grace + Duration::from_secs(1) <= timeout,
        "deployment.yaml: --grace-period {grace:?} must end well inside \
         terminationGracePeriodSeconds {timeout:?}"
    );
    spec.containers[0].args = vec!["/app/ignore_term".to_string()];
    let pod = cri.run_pod(&spec);
    let c = pod.start(&spec.containers[0]);
    c.wait_log("ready pid=", READY);
    let took = c.stop(spec.grace_seconds);
    let code = c.exit_code();
    println!(
        "StopContainer(timeout {}) of ignore_term under `{}`: {:.3} s, exit {code}",
        spec.grace_seconds,
        web.command.join(" "),
        took.as_secs_f64()
    );
    assert_eq!(code, 137, "log:\n{}", c.logs());
    assert!(
        took >= grace.saturating_sub(Duration::from_millis(100)),
        "took {took:?}, before the grace period; log:\n{}",
        c.logs()
    );
    assert!(
        took < grace + (timeout - grace) / 2,
        "took {took:?}: pidone did not kill at its grace period {grace:?}; log:\n{}",
        c.logs()
    );
    let log = c.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("expired after SIGTERM: sent SIGKILL to the child"))
        .unwrap_or_else(|| panic!("pidone did not say why: {log}"));
    println!("pidone's line in the container's log: {line}");
}

/// The control: the same command without `--grace-period`; then the CRI timeout decides
/// (containerd SIGKILLs the container at terminationGracePeriodSeconds), exit 137 without a
/// word from pidone.
#[test]
fn without_grace_period_the_cri_timeout_kills_control() {
    let Some(cri) = cri("without_grace_period_the_cri_timeout_kills_control") else {
        return;
    };
    let mut spec = deployment();
    spec.containers[0].command = without_grace_period(&spec.containers[0].command);
    spec.containers[0].args = vec!["/app/ignore_term".to_string()];
    let timeout = Duration::from_secs(u64::try_from(spec.grace_seconds).unwrap());
    let pod = cri.run_pod(&spec);
    let c = pod.start(&spec.containers[0]);
    c.wait_log("ready pid=", READY);
    let took = c.stop(spec.grace_seconds);
    let code = c.exit_code();
    println!(
        "StopContainer(timeout {}) of ignore_term under `{}`: {:.3} s, exit {code}",
        spec.grace_seconds,
        spec.containers[0].command.join(" "),
        took.as_secs_f64()
    );
    assert_eq!(code, 137, "log:\n{}", c.logs());
    assert!(
        took >= timeout.saturating_sub(Duration::from_millis(100)),
        "took {took:?}, less than the CRI timeout"
    );
    assert!(!c.logs().contains("grace period"), "{}", c.logs());
}

// ---------------------------------------------------------------------------------------------
// shareProcessNamespace: pidone is not PID 1

/// The shared-PID Pod of examples/kubernetes/: PID 1 of the pod is the sandbox (pidone -P from
/// the pause image); the containers' pidones are not PID 1, run as subreapers, and print
/// nothing while their apps run and make orphans.
#[test]
fn shared_pid_pidone_is_not_pid1_and_stays_quiet() {
    let Some(cri) = cri("shared_pid_pidone_is_not_pid1_and_stays_quiet") else {
        return;
    };
    let spec = shared_pid_pod();
    assert!(spec.share_pid, "shared-pid-pod.yaml: shareProcessNamespace");
    let pod = cri.run_pod(&spec);
    let app = pod.start(spec.container("app"));
    let debug = pod.start(spec.container("debug"));
    poll(READY, || (orphans_made(&app.logs()) >= 20).then_some(()))
        .unwrap_or_else(|| panic!("zombie_factory made no orphans:\n{}", app.logs()));
    assert_eq!(pid1_cmdline(&app), "/pidone -P", "the pod's PID 1");
    assert_eq!(pid1_cmdline(&debug), "/pidone -P", "the pod's PID 1");
    for c in [&app, &debug] {
        let pid = pid_inside(c.host_pid());
        println!("shared PID namespace: {}'s pidone is pid {pid}", c.name);
        assert_ne!(pid, 1);
        let stderr = c.stderr();
        assert!(stderr.is_empty(), "{}: pidone printed: {stderr}", c.name);
    }
    // The debug container sees the app's processes (the namespace really is shared).
    let seen = debug.exec_ok(&["/bin/sh", "-c", "cat /proc/[0-9]*/cmdline; true"]);
    assert!(seen.contains("/app/zombie_factory"), "{seen}");
}

/// pidone in a shared-PID pod is the subreaper of its container: an orphan of its app is
/// re-parented to it, not to the pod's PID 1. Control in the same pod: the same command without
/// pidone leaves its orphan to the sandbox.
#[test]
fn shared_pid_pidone_is_the_subreaper_of_its_app() {
    let Some(cri) = cri("shared_pid_pidone_is_the_subreaper_of_its_app") else {
        return;
    };
    let spec = shared_pid_pod();
    let pod = cri.run_pod(&spec);
    // The subshell starts `sleep N` in the background and exits: its orphan is re-parented
    // before the shell prints `ready`.
    let script = |n: u32| format!("(exec sleep {n} &); echo ready; exec sleep 600");
    let with = pod.start(&ContainerSpec::new(
        "with-pidone",
        image::APP,
        &["/pidone", "--", "/bin/sh", "-c", &script(601)],
    ));
    let without = pod.start(&ContainerSpec::new(
        "without",
        image::APP,
        &["/bin/sh", "-c", &script(602)],
    ));
    with.wait_log("ready", READY);
    without.wait_log("ready", READY);
    let pidone = with.host_pid();
    assert_ne!(pid_inside(pidone), 1);
    let sandbox = pod.host_pid();
    let has_child = |parent: i32, cmdline: &str| {
        children(parent)
            .iter()
            .any(|k| host_cmdline(k.pid) == cmdline)
    };
    println!(
        "shared PID namespace: children of the container's pidone: {:?}; of the sandbox \
         (the pod's PID 1): {:?}",
        children(pidone),
        children(sandbox)
    );
    assert!(
        has_child(pidone, "sleep 601"),
        "the orphan did not go to the container's pidone: {:?}",
        children(pidone)
    );
    assert!(
        has_child(sandbox, "sleep 602"),
        "the control's orphan did not go to the pod's PID 1: {:?}",
        children(sandbox)
    );
}

/// The app of the shared-PID Pod leaves orphans all the time: none stays a zombie.
#[test]
fn shared_pid_orphans_of_the_app_are_reaped() {
    let Some(cri) = cri("shared_pid_orphans_of_the_app_are_reaped") else {
        return;
    };
    let spec = shared_pid_pod();
    let pod = cri.run_pod(&spec);
    let app = pod.start(spec.container("app"));
    let debug = pod.start(spec.container("debug"));
    assert_orphans_reaped(&app, &debug);
}

/// StopContainer with terminationGracePeriodSeconds returns at once for both containers of the
/// shared-PID Pod (zombie_factory exits 0 on SIGTERM; `sleep` has no handler: 143).
#[test]
fn shared_pid_stop_container_is_fast() {
    let Some(cri) = cri("shared_pid_stop_container_is_fast") else {
        return;
    };
    let spec = shared_pid_pod();
    let pod = cri.run_pod(&spec);
    let app = pod.start(spec.container("app"));
    let debug = pod.start(spec.container("debug"));
    app.wait_log("orphans exited", READY);
    for (c, want) in [(&app, 0), (&debug, 143)] {
        let took = c.stop(pod.grace_seconds);
        let code = c.exit_code();
        println!(
            "shared PID namespace: StopContainer(timeout {}) of {}: {:.3} s, exit {code}",
            pod.grace_seconds,
            c.name,
            took.as_secs_f64()
        );
        assert!(took < FAST_STOP, "{}: took {took:?}", c.name);
        assert_eq!(code, want, "{}: log:\n{}", c.name, c.logs());
    }
}

// ---------------------------------------------------------------------------------------------
// pidone as the sandbox (pause) image

/// The release image is containerd's `sandbox_image` as it is (`Entrypoint ["/pidone"]`,
/// `Cmd ["-P"]`): PID 1 of a shared-PID pod is `/pidone -P`, the pidone under test, and it
/// reaps what an app container without an init of its own orphans.
#[test]
fn pause_image_is_pid1_of_a_shared_pid_pod_and_reaps_orphans() {
    let Some(cri) = cri("pause_image_is_pid1_of_a_shared_pid_pod_and_reaps_orphans") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("pause", true));
    let app = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        harness::ORPHAN_MAKER,
    ));
    assert_eq!(pid1_cmdline(&app), "/pidone -P");
    assert!(
        pid1_is_pidone_under_test(&app),
        "PID 1 is not the pidone under test"
    );
    // zombie_factory is the container's own process, no subreaper: its orphans go to the
    // pod's PID 1.
    assert_orphans_reaped(&app, &app);
}

/// Stopping a pod as kubelet does (StopContainer of each app container with the grace period,
/// then StopPodSandbox) is prompt with pidone as the pause process.
#[test]
fn stop_pod_sandbox_with_pidone_as_pause_is_prompt() {
    let Some(cri) = cri("stop_pod_sandbox_with_pidone_as_pause_is_prompt") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("pause-stop", true));
    let app = pod.start(&ContainerSpec::new(
        "app",
        image::APP,
        &["/app/sigprint", "--exit-on", "SIGTERM"],
    ));
    app.wait_log("ready pid=", READY);
    let sandbox = pod.host_pid();
    let start = Instant::now();
    let app_took = app.stop(pod.grace_seconds);
    let pod_took = pod.stop();
    let all = start.elapsed();
    println!(
        "pod stop with pidone -P as the sandbox: StopContainer {:.3} s (app exit {}), \
         StopPodSandbox {:.3} s",
        app_took.as_secs_f64(),
        app.exit_code(),
        pod_took.as_secs_f64()
    );
    assert!(app.logs().contains("signal 15 SIGTERM"), "{}", app.logs());
    assert!(all < Duration::from_secs(2), "took {all:?}");
    let gone = poll(Duration::from_secs(5), || {
        (!Path::new("/proc").join(sandbox.to_string()).exists()).then_some(())
    });
    assert!(
        gone.is_some(),
        "the sandbox process {sandbox} is still there"
    );
}

// ---------------------------------------------------------------------------------------------
// The image's STOPSIGNAL

/// An image with `STOPSIGNAL SIGQUIT`: StopContainer sends SIGQUIT to PID 1 (pidone), which
/// passes it on to the app; the app says so and exits 0 at once.
#[test]
fn image_stopsignal_sigquit_reaches_the_app() {
    let Some(cri) = cri("image_stopsignal_sigquit_reaches_the_app") else {
        return;
    };
    let pod = cri.run_pod(&PodSpec::new("stopsignal", false));
    let c = pod.start(&ContainerSpec::new(
        "app",
        image::STOPSIGNAL,
        &["/pidone", "--", "/app/sigprint", "--exit-on", "SIGQUIT"],
    ));
    c.wait_log("ready pid=", READY);
    let took = c.stop(10);
    let code = c.exit_code();
    let log = c.logs();
    println!(
        "StopContainer(timeout 10) with STOPSIGNAL SIGQUIT: {:.3} s, exit {code}; the app got: {:?}",
        took.as_secs_f64(),
        log.lines()
            .filter(|l| l.starts_with("signal "))
            .collect::<Vec<_>>()
    );
    assert!(log.contains("signal 3 SIGQUIT"), "{log}");
    assert!(!log.contains("SIGTERM"), "{log}");
    assert_eq!(code, 0, "{log}");
    assert!(took < FAST_STOP, "took {took:?}");
}
