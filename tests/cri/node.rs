//! The private node: a containerd with its CRI plugin, started once per test binary, and the
//! images the tests run.
//!
//! Everything lives in `<tmp>/pidone-cri-<pid>-<millis>/`: the config, `root`, `state`, the gRPC
//! socket, runc's state, the CNI directories (empty: pods use the node's network) and the pods'
//! logs. containerd runs in its own network namespace (`unshare --net`, only `lo` up), so the
//! pods' "node network" is that namespace and its stream server's loopback port is nobody
//! else's. Containers go into the cgroup `/pidone-cri-<pid>-<millis>` (the pods' cgroup parent),
//! which is how the clean-up finds every process they started. The machine's Docker daemon and
//! its containerd (`/run/docker/containerd`) are never contacted.
//!
//! The clean-up runs at exit (`atexit`, also after a failed test): containerd gets SIGTERM,
//! then every process left in the cgroup or naming the directory (shims, containers) gets
//! SIGKILL, mounts under the directory are unmounted, the cgroups, the sockets of killed shims
//! and the directory removed. A run that was killed before it could clean up is cleaned by the
//! next one (`remove_stale`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::harness::{self, mounts_under, poll, processes_mentioning, run, run_id, unmount_under};
use crate::image;

/// Set to `1` (as `scripts/test` does) to turn every reason to skip into a failure.
pub const REQUIRE_VAR: &str = "PIDONE_REQUIRE_CRI";

/// Directory (and cgroup) name prefix of a run.
const PREFIX: &str = "pidone-cri-";

/// How long containerd may take to answer after it was started.
const START: Duration = Duration::from_secs(60);

/// The cgroup v1 hierarchies (or the v2 root) under `/sys/fs/cgroup` runc may have made the pods'
/// cgroups in.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Where containerd 1.6's shims put their sockets whatever the configuration says
/// (`/run/containerd/s/<hash>`); removed at the end when it did not exist before and is empty.
const SHIM_SOCKETS: &str = "/run/containerd/s";

/// Whether `/run/containerd` existed before the node started (then it is left alone).
static RUN_DIR_EXISTED: OnceLock<bool> = OnceLock::new();

/// The running node.
pub struct Node {
    /// The run's directory.
    pub dir: PathBuf,
    /// containerd's gRPC socket (CRI and containerd's own API).
    pub socket: PathBuf,
    /// The pods' cgroup parent, `/pidone-cri-<run>`.
    pub cgroup_parent: String,
    /// containerd's pid (`unshare` execs it).
    pub pid: i32,
    /// The pidone under test.
    pub bin: PathBuf,
}

static NODE: OnceLock<Result<Node, NotReady>> = OnceLock::new();

/// Why there is no node.
#[derive(Debug)]
enum NotReady {
    /// Something it needs is missing here: the tests skip (unless `PIDONE_REQUIRE_CRI=1`).
    Missing(String),
    /// It is all there and still failed: the tests fail.
    Failed(String),
}

impl From<String> for NotReady {
    fn from(why: String) -> Self {
        Self::Failed(why)
    }
}

/// True if `PIDONE_REQUIRE_CRI=1`.
fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// The node, started on first use, or `None` after printing why `test` is skipped. With
/// `PIDONE_REQUIRE_CRI=1` a reason to skip is a failure instead; a node that fails to start
/// when everything it needs is there is always a failure.
pub fn node(test: &str) -> Option<&'static Node> {
    match NODE.get_or_init(prepare) {
        Ok(node) => Some(node),
        Err(NotReady::Missing(why)) if required() => {
            panic!("{test}: {why} ({REQUIRE_VAR}=1 forbids skipping)")
        }
        Err(NotReady::Missing(why)) => {
            println!("SKIPPED {test}: {why}");
            None
        }
        Err(NotReady::Failed(why)) => panic!("{test}: {why}"),
    }
}

/// Checks what the node needs, starts containerd and imports the images.
fn prepare() -> Result<Node, NotReady> {
    for program in [
        "containerd",
        "containerd-shim-runc-v2",
        "runc",
        "ctr",
        "unshare",
        "ip",
        "tar",
        "sha256sum",
        "python3",
    ] {
        if !have(program) {
            return Err(NotReady::Missing(format!(
                "`{program}` is not installed (scripts/setup installs it)"
            )));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(NotReady::Missing(
            "a containerd with its own root directory needs root".to_string(),
        ));
    }
    let bin = harness::pidone_bin();
    let files = harness::image_files(&bin).map_err(NotReady::Missing)?;
    remove_stale();

    let start = Instant::now();
    let node = start_containerd(bin)?;
    println!(
        "private containerd answered after {:.2} s",
        start.elapsed().as_secs_f64()
    );
    image::import_all(&node, &files)?;
    println!(
        "node ready (containerd and images) after {:.2} s",
        start.elapsed().as_secs_f64()
    );
    Ok(node)
}

/// Whether `program` is on PATH.
fn have(program: &str) -> bool {
    run(
        Command::new("sh").args(["-c", "command -v \"$1\"", "sh", program]),
        Duration::from_secs(5),
    )
    .ok()
}

/// containerd's configuration (version 2) for a node in `dir`.
fn config(dir: &Path, sandbox_image: &str) -> String {
    let d = dir.display();
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
# The snapshotters this machine cannot have would only log errors.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # The CRI asks for oom_score_adj -998 for the sandbox; without this, runc fails here with
  # "failed to update /proc/self/oom_score_adj: Permission denied".
  restrict_oom_score_adj = true
  # Streaming (exec -it, attach, port-forward) on loopback of containerd's own network
  # namespace; the tests only use ExecSync.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # runc's state in the node's directory instead of /run/containerd/runc.
        Root = "{d}/runc"

  # Pods use the node's network namespace (NamespaceOption.network = NODE): no CNI plugin runs.
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "{d}/cni/conf"
    bin_dir = "{d}/cni/bin"
"#
    )
}

/// Starts containerd in a new directory and network namespace and waits (bounded) until it
/// answers on its socket.
fn start_containerd(bin: PathBuf) -> Result<Node, String> {
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("{PREFIX}{id}"));
    for sub in ["cni/conf", "cni/bin", "pods"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let socket = dir.join("containerd.sock");
    RUN_DIR_EXISTED.get_or_init(|| Path::new(SHIM_SOCKETS).parent().is_some_and(Path::exists));
    let conf = dir.join("config.toml");
    std::fs::write(&conf, config(&dir, image::PAUSE)).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("containerd.log")).map_err(|e| e.to_string())?;
    let stderr = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new("unshare")
        .args([
            "--net",
            "sh",
            "-c",
            "ip link set lo up && exec containerd --config \"$1\"",
            "sh",
        ])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start unshare --net containerd: {e}"))?;
    let pid = i32::try_from(child.id()).unwrap_or(-1);
    // Not waited for through `Child`: the clean-up at exit reaps it by pid.
    std::mem::forget(child);
    let node = Node {
        dir,
        socket,
        cgroup_parent: format!("/{PREFIX}{id}"),
        pid,
        bin,
    };
    register_cleanup();
    let log = || std::fs::read_to_string(node.dir.join("containerd.log")).unwrap_or_default();
    let answered = poll(START, || {
        if !Path::new("/proc").join(pid.to_string()).exists() || is_zombie(pid) {
            return Some(Err(format!("containerd exited at start-up:\n{}", log())));
        }
        let version = run(
            Command::new("ctr")
                .arg("--address")
                .arg(&node.socket)
                .arg("version"),
            Duration::from_secs(5),
        );
        version.ok().then_some(Ok(()))
    });
    match answered {
        Some(Ok(())) => Ok(node),
        Some(Err(why)) => Err(why),
        None => Err(format!(
            "the private containerd did not answer within {START:?}:\n{}",
            log()
        )),
    }
}

/// Whether process `pid` has exited but not been reaped.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(false)
}

/// Runs [`cleanup`] when the test binary exits (also after failed tests: the harness exits
/// through `exit`).
fn register_cleanup() {
    extern "C" fn at_exit() {
        if let Some(Ok(node)) = NODE.get() {
            let left = cleanup(&node.dir, &node.cgroup_parent, Some(node.pid));
            if !left.is_empty() {
                eprintln!("note: the CRI node's clean-up had to remove: {left:#?}");
            }
        } else if let Some(dir) = started_dir() {
            // Started but failed to become ready: still clean up what it made.
            cleanup(&dir, &format!("/{PREFIX}{}", run_id()), None);
        }
        if RUN_DIR_EXISTED.get() == Some(&false) {
            // Fails (and leaves them) when another containerd's shims still use them.
            let shims = Path::new(SHIM_SOCKETS);
            let _ = std::fs::remove_dir(shims);
            let _ = shims.parent().map(std::fs::remove_dir);
        }
    }
    // SAFETY: `at_exit` is a plain function that only runs processes and removes files.
    let _ = unsafe { libc::atexit(at_exit) };
}

/// The run's directory when it exists (containerd was started).
fn started_dir() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{PREFIX}{}", run_id()));
    dir.exists().then_some(dir)
}

/// Stops what a node left: containerd (SIGTERM, then SIGKILL after 15 s), then everything in
/// its cgroup and every process naming its directory (SIGKILL), mounts under its directory, its
/// cgroups, the directory. Returns what a clean shutdown should not have left.
pub fn cleanup(dir: &Path, cgroup_parent: &str, containerd: Option<i32>) -> Vec<String> {
    let mut left = Vec::new();
    if let Some(pid) = containerd {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let gone = poll(Duration::from_secs(15), || {
            reap(pid);
            (!Path::new("/proc").join(pid.to_string()).exists()).then_some(())
        });
        if gone.is_none() {
            left.push(format!("containerd {pid} ignored SIGTERM for 15 s"));
            kill9(pid);
            reap(pid);
        }
    }
    // Containers (and their processes) first: they hold the mounts.
    for _ in 0..3 {
        let mut pids = cgroup_pids(cgroup_parent);
        pids.extend(
            processes_mentioning(&format!("{}/", dir.display()))
                .into_iter()
                .map(|(pid, _)| pid),
        );
        pids.sort_unstable();
        pids.dedup();
        if pids.is_empty() {
            break;
        }
        for &pid in &pids {
            left.push(format!("process {pid}: {}", cmdline(pid)));
            kill9(pid);
        }
        poll(Duration::from_secs(10), || {
            pids.iter()
                .all(|p| !Path::new("/proc").join(p.to_string()).exists() || is_zombie(*p))
                .then_some(())
        });
    }
    left.extend(remove_shim_sockets(dir));
    left.extend(unmount_under(dir));
    for cgroup in cgroup_dirs(cgroup_parent) {
        // Deepest first; runc removes the containers' own cgroups when it deletes them, so
        // only the parent is expected here.
        if cgroup
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX))
        {
            left.push(format!("cgroup {}", cgroup.display()));
        }
        let _ = std::fs::remove_dir(&cgroup);
    }
    if dir.exists() {
        if mounts_under(dir).is_empty() {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                left.push(format!("cannot remove {}: {e}", dir.display()));
            }
        } else {
            left.push(format!("{} kept: still mounted", dir.display()));
        }
    }
    left
}

/// Removes the sockets that SIGKILLed shims of the node in `dir` left in [`SHIM_SOCKETS`]
/// (a shim that exits normally removes its own). containerd 1.6 names each one by the SHA-256
/// of `<containerd's address>/<namespace>/<task id>`; the task ids are the node's task
/// directories. Returns the removed ones.
fn remove_shim_sockets(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let tasks = dir.join("state/io.containerd.runtime.v2.task/k8s.io");
    let address = dir.join("containerd.sock");
    for entry in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
        let key = format!(
            "{}/k8s.io/{}",
            address.display(),
            entry.file_name().to_string_lossy()
        );
        let hash = run(
            Command::new("sh").args(["-c", "printf %s \"$1\" | sha256sum", "sh", &key]),
            Duration::from_secs(10),
        );
        let Some(hash) = hash.stdout.split_whitespace().next() else {
            continue;
        };
        let socket = Path::new(SHIM_SOCKETS).join(hash);
        if socket.exists() && std::fs::remove_file(&socket).is_ok() {
            removed.push(format!("shim socket {}", socket.display()));
        }
    }
    removed
}

/// Reaps `pid` if it is our child and has exited (containerd, started by this process).
fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The command line of `pid`, spaces for NULs.
fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// Every cgroup directory at or under `parent`, in every hierarchy, deepest first.
fn cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let rel = parent.trim_start_matches('/');
    let mut roots: Vec<PathBuf> = vec![PathBuf::from(CGROUP_ROOT)];
    if let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) {
        roots.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for root in roots {
        let top = root.join(rel);
        if top.join("cgroup.procs").exists() {
            walk(&top, &mut found);
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    found.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.join("cgroup.procs").exists() {
                walk(&path, found);
            }
        }
    }
}

/// Every process in a cgroup at or under `parent`.
fn cgroup_pids(parent: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = cgroup_dirs(parent)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|procs| {
            procs
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Cleans up after earlier runs of this test binary whose process is gone (killed before its
/// clean-up at exit could run): their directories `<tmp>/pidone-cri-<pid>-<millis>`.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name.strip_prefix(PREFIX) else {
            continue;
        };
        // A killed test binary may linger as a zombie until the machine's init reaps it.
        let alive = |pid: i32| Path::new("/proc").join(pid.to_string()).exists() && !is_zombie(pid);
        match run.split('-').next().and_then(|p| p.parse::<i32>().ok()) {
            Some(pid) if !alive(pid) => {}
            _ => continue,
        }
        let left = cleanup(&entry.path(), &format!("/{name}"), None);
        println!("note: removed {name} of a killed run; left: {left:?}");
    }
}
