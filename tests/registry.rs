//! The release image as users get it: from a registry. A real one, the distribution registry of
//! Debian's `docker-registry` package, serves on 127.0.0.1 (a free port, its own configuration
//! and storage in a temporary directory, stopped at the end); `scripts/publish` pushes the
//! release's image index to it with `skopeo copy --all`; then each engine pulls it:
//!
//! - `skopeo inspect --raw` gets the release's own index (same digest), with every platform;
//! - Docker (the machine's daemon): `docker pull --platform` of a foreign platform gives that
//!   platform's image, whose /pidone (`docker create` + `docker cp`) is the release's binary for
//!   it; a plain `docker pull` gives the host's image, which runs; a Dockerfile with
//!   `COPY --from=REGISTRY/pidone:VERSION` builds (the builder pulls the host's image by itself),
//!   runs with pidone as PID 1, and `docker stop` is fast. Every image and container it pulled,
//!   built or made is removed again: the daemon is left as it was found;
//! - Podman, with its own storage in the temporary directory, pulls every platform;
//! - containerd: a private one (own root, state, socket and network namespace, not the machine's
//!   Docker containerd) serves `ctr images pull --platform` of every foreign platform, and
//!   `ctr images mount` shows the binary.
//!
//! Registries are reached over plain HTTP: Docker treats 127.0.0.0/8 as insecure by itself, the
//! other tools are told (`--tls-verify=false`, `--plain-http`). The release is shared with
//! tests/release.rs (tests/release/shared.rs); like those tests this one runs only with
//! `PIDONE_RELEASE_TESTS=1`, and then it needs docker-registry, skopeo, containerd and python3
//! (`scripts/setup` installs them). Without a Docker engine or Podman their part is skipped with
//! a printed reason unless `PIDONE_REQUIRE_DOCKER=1` / `PIDONE_REQUIRE_PODMAN=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() in the Docker harness (not used here, compiled with it)

#[path = "docker/harness.rs"]
mod harness;
#[path = "release/shared.rs"]
mod shared;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Container, Engine, Output, poll, processes_mentioning, run, run_checks, run_id, unmount_under,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shared::{ImageTar, REPO, Release, VERSION};

/// Any single command (a pull, a push, a build) may take this long.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A server (registry, containerd) must answer within this after its start.
const START: Duration = Duration::from_secs(30);

/// `docker stop -t 10` of a container whose app ends on SIGTERM, under pidone, must return
/// within this: well below the 10 s an init that forwards nothing makes it wait.
const FAST_STOP: Duration = Duration::from_secs(5);

/// The containerd namespace the test's `ctr` uses (in its private containerd).
const CTR_NAMESPACE: &str = "pidone-test";

/// Whether `program` is on PATH.
fn have(program: &str) -> bool {
    run(
        Command::new("sh").args(["-c", "command -v \"$1\"", "sh", program]),
        Duration::from_secs(5),
    )
    .ok()
}

/// Skips (prints why) or, when `var=1`, fails.
fn skip(what: &str, var: &str, reason: &str) {
    assert!(
        !std::env::var(var).is_ok_and(|v| v == "1"),
        "{what}: {reason} ({var}=1 forbids skipping)"
    );
    println!("SKIPPED {what}: {reason}");
}

/// Runs `program args...` (bounded) and panics with its output unless it exits 0.
fn ok(program: &str, args: &[&str]) -> Output {
    let out = run(Command::new(program).args(args), TIMEOUT);
    assert!(out.ok(), "{program} {args:?} failed: {out:?}");
    out
}

/// What `file -b` says about `path`.
fn file_type(path: &Path) -> String {
    ok("file", &["-b", path.to_str().unwrap()]).stdout
}

/// Panics unless `path` is the release's pidone for `arch` (by `file` and by content).
fn assert_is_release_binary(rel: &Release, arch: &str, path: &Path, what: &str) {
    let file = file_type(path);
    println!("{what}: /pidone is {}", file.trim());
    assert!(
        file.contains(shared::file_machine(arch)),
        "{what}: /pidone is not {}: {file}",
        shared::file_machine(arch)
    );
    let release_binary = rel.out.join(format!("pidone-{VERSION}-{arch}"));
    assert_eq!(
        shared::sha256_of(path),
        shared::sha256_of(&release_binary),
        "{what}: /pidone is not {}",
        release_binary.display()
    );
}

/// Removes `dir` after killing the processes that mention it and unmounting what is mounted
/// under it. Returns what had to be cleaned besides the directory (empty after a clean stop).
fn remove_dir_and_leftovers(dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let needle = dir.to_string_lossy().into_owned();
    for (pid, cmdline) in processes_mentioning(&needle) {
        left.push(format!("process {pid}: {cmdline}"));
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    if !left.is_empty() {
        poll(Duration::from_secs(10), || {
            processes_mentioning(&needle).is_empty().then_some(())
        });
    }
    left.extend(unmount_under(dir));
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(dir)
    {
        left.push(format!("cannot remove {needle}: {e}"));
    }
    left
}

/// Stops `child` with SIGTERM (SIGKILL after `grace`); true if it ended on SIGTERM.
fn stop_child(child: &mut Child, grace: Duration) -> bool {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(-1));
    let _ = kill(pid, Signal::SIGTERM);
    harness::wait_bounded(child, Instant::now() + grace).is_some()
}

// ---------------------------------------------------------------------------------------------
// The test's directory, and what a killed earlier run left

/// `<tmp>/pidone-registry-<run>`: everything the test's servers and engines write.
fn run_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pidone-registry-{}", run_id()))
}

/// The app image the Docker check builds.
fn app_image(run: &str) -> String {
    format!("pidone-test-{run}-registry-app:latest")
}

/// Removes what earlier runs of this test left when they were killed before their clean-up:
/// their directory (servers, mounts), and in Docker the images of their registry and their app.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name.strip_prefix("pidone-registry-") else {
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
        if let Ok(port) = std::fs::read_to_string(dir.join("registry/port")) {
            let repo = format!("127.0.0.1:{}/pidone", port.trim());
            remove_docker_images(&repo, &app_image(run));
        }
        let left = remove_dir_and_leftovers(&dir);
        println!("note: removed {name} of a killed run; left: {left:?}");
    }
}

/// Every image reference of `repo` (tags and digests) in the machine's Docker, as `docker rmi`
/// takes them.
fn docker_refs(repo: &str) -> Vec<String> {
    let out = harness::docker(
        &[
            "images",
            "-a",
            "--digests",
            "--format",
            "{{.Repository}} {{.Tag}} {{.Digest}}",
        ],
        Duration::from_secs(30),
    );
    let mut refs = Vec::new();
    for line in out.stdout.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() == 3 && words[0] == repo {
            if words[1] != "<none>" {
                refs.push(format!("{repo}:{}", words[1]));
            }
            if words[2] != "<none>" {
                refs.push(format!("{repo}@{}", words[2]));
            }
        }
    }
    refs
}

/// Removes `app` and every image of `repo` from the machine's Docker, by reference: an image
/// someone else also tagged keeps their tag. Returns what is still there.
fn remove_docker_images(repo: &str, app: &str) -> Vec<String> {
    let t = Duration::from_secs(30);
    if harness::docker(&["image", "inspect", app], t).ok() {
        harness::docker(&["rmi", app], t);
    }
    // A tag and a digest may name two images (after pulls of two platforms): a few rounds.
    for _ in 0..4 {
        let refs = docker_refs(repo);
        if refs.is_empty() {
            break;
        }
        let mut args = vec!["rmi"];
        args.extend(refs.iter().map(String::as_str));
        harness::docker(&args, t);
    }
    let mut left = docker_refs(repo);
    if harness::docker(&["image", "inspect", app], t).ok() {
        left.push(app.to_string());
    }
    left
}

// ---------------------------------------------------------------------------------------------
// The registry

/// The distribution registry (`docker-registry serve`), on 127.0.0.1 with its own storage;
/// stopped and its directory removed when dropped.
struct Registry {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Registry {
    /// Starts it on a free port (a few tries, in case another process takes the port first).
    fn start(dir: PathBuf) -> Self {
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        let mut registry = Self {
            dir,
            port: 0,
            child: None,
        };
        for _ in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let config = registry.dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: error\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n\
                     http:\n  addr: 127.0.0.1:{port}\n",
                    registry.dir.join("storage").display()
                ),
            )
            .unwrap();
            std::fs::write(registry.dir.join("port"), port.to_string()).unwrap();
            let log = std::fs::File::create(registry.dir.join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry serve");
            registry.port = port;
            registry.child = Some(child);
            let up = poll(START, || {
                if let Some(Ok(Some(_))) = registry.child.as_mut().map(Child::try_wait) {
                    return Some(false);
                }
                v2_answers(port).then_some(true)
            });
            match up {
                Some(true) => return registry,
                Some(false) => {
                    println!("note: the registry exited:\n{}", registry.log());
                    registry.child = None;
                }
                None => panic!(
                    "the registry did not answer within {START:?}:\n{}",
                    registry.log()
                ),
            }
        }
        panic!("the registry did not start:\n{}", registry.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops it; `Err` if it needed SIGKILL or left something behind.
    fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let clean = stop_child(&mut child, Duration::from_secs(10));
        let left = remove_dir_and_leftovers(&self.dir);
        match (clean, left.is_empty()) {
            (true, true) => Ok(()),
            _ => Err(format!(
                "registry: stopped by SIGTERM: {clean}; left: {left:?}"
            )),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{e}");
        }
    }
}

/// True when `GET /v2/` on 127.0.0.1:`port` answers 200 (the registry API's version check).
fn v2_answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

// ---------------------------------------------------------------------------------------------
// What the checks share

struct Ctx {
    rel: &'static Release,
    tar: ImageTar,
    /// `127.0.0.1:PORT/pidone`.
    repo: String,
    /// `127.0.0.1:PORT/pidone:VERSION`.
    reference: String,
    /// (platform, architecture) of this host's image.
    host: (String, String),
    /// (platform, architecture) of the others.
    foreign: Vec<(String, String)>,
    /// The test's directory.
    dir: PathBuf,
    /// What `pidone --version` prints for the release's commit.
    version_line: String,
}

impl Ctx {
    /// The config digest (the image ID of Docker and Podman) of `platform`'s image.
    fn config(&self, platform: &str) -> &str {
        &self.tar.image(platform).unwrap().config
    }

    /// A fresh directory under the test's one.
    fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// `os/arch` (without the variant), as engines print an image's platform.
fn os_arch(platform: &str) -> String {
    platform.split('/').take(2).collect::<Vec<_>>().join("/")
}

// ---------------------------------------------------------------------------------------------
// Docker

/// Removes the check's images from the machine's Docker when dropped (pass or fail).
struct DockerImages<'a> {
    ctx: &'a Ctx,
    app: String,
}

impl Drop for DockerImages<'_> {
    fn drop(&mut self) {
        let left = remove_docker_images(&self.ctx.repo, &self.app);
        if !left.is_empty() {
            eprintln!("docker images left behind: {left:?}");
        }
    }
}

/// `docker image inspect -f FORMAT REF`, trimmed; panics if there is no such image.
fn docker_inspect(reference: &str, format: &str) -> String {
    harness::docker_ok(&["image", "inspect", "-f", format, reference])
        .trim()
        .to_string()
}

fn docker_pulls_each_platform_and_copy_from_builds(ctx: &Ctx) {
    let docker = Engine::docker();
    let version = docker.run(
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(10),
    );
    if !version.ok() {
        return skip(
            "registry docker check",
            harness::REQUIRE_VAR,
            &format!("no Docker engine answered: {}", version.both().trim()),
        );
    }
    let images = DockerImages {
        ctx,
        app: app_image(run_id()),
    };
    let scratch = ctx.subdir("docker");
    let (host_platform, host_arch) = &ctx.host;

    // A foreign platform first: `--platform` picks its image from the index (`linux/arm64`, as
    // users write it, is the index's linux/arm64/v8).
    for (platform, arch) in &ctx.foreign {
        let request = os_arch(platform);
        let pulled = docker.run(&["pull", "--platform", &request, &ctx.reference], TIMEOUT);
        assert!(pulled.ok(), "docker pull --platform {request}: {pulled:?}");
        let json = docker_inspect(&ctx.reference, "{{json .}}");
        let id = docker_inspect(&ctx.reference, "{{.Id}} {{.Os}}/{{.Architecture}}");
        println!("docker pull --platform {request}: {id}");
        assert_eq!(
            id,
            format!("{} {request}", ctx.config(platform)),
            "docker pull --platform {request} did not give the {platform} image"
        );
        if let Some(variant) = platform.split('/').nth(2) {
            assert!(
                json.contains(&format!("\"Variant\":\"{variant}\"")),
                "no variant {variant}: {json}"
            );
        }
        let container = Container::named(&harness::container_name("registry-cp"));
        let created = docker.run(
            &[
                "create",
                "--platform",
                &request,
                "--name",
                &container.name,
                "--label",
                &format!("{}={}", harness::LABEL, run_id()),
                &ctx.reference,
            ],
            TIMEOUT,
        );
        assert!(created.ok(), "docker create: {created:?}");
        let copy = scratch.join(format!("pidone-{arch}"));
        docker.ok(&[
            "cp",
            &format!("{}:/pidone", container.name),
            copy.to_str().unwrap(),
        ]);
        assert_is_release_binary(ctx.rel, arch, &copy, &format!("docker {platform}"));
        drop(container);
        // So that the next pull, and the build's own pull, start from nothing.
        assert!(remove_docker_images(&ctx.repo, &images.app).is_empty());
    }

    // The host's platform by default; it runs.
    let pulled = docker.run(&["pull", &ctx.reference], TIMEOUT);
    assert!(pulled.ok(), "docker pull: {pulled:?}");
    let id = docker_inspect(
        &ctx.reference,
        "{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}",
    );
    println!("docker pull: {id}");
    assert_eq!(
        id,
        format!(
            "{} {} [\"/pidone\"] [\"-P\"]",
            ctx.config(host_platform),
            os_arch(host_platform)
        ),
        "docker pull did not give the host's ({host_platform}) image"
    );
    let direct = Container::named(&harness::container_name("registry-version"));
    let out = docker.run(
        &[
            "run",
            "--pull",
            "never",
            "--network",
            "none",
            "--name",
            &direct.name,
            &ctx.reference,
            "--version",
        ],
        TIMEOUT,
    );
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim_end(), ctx.version_line);
    drop(direct);
    assert!(remove_docker_images(&ctx.repo, &images.app).is_empty());

    // COPY --from the registry: the builder pulls the image itself, for the host's platform.
    let context = ctx.subdir("docker-context");
    std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    let dockerfile = scratch.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             COPY --from={} /pidone /init\n\
             ENTRYPOINT [\"/init\", \"--\"]\n\
             CMD [\"/bin/busybox\", \"sh\", \"-c\", \
             \"/bin/busybox readlink /proc/1/exe; exec /bin/busybox sleep 1000\"]\n",
            ctx.reference
        ),
    )
    .unwrap();
    let label = format!("{}={}", harness::LABEL, run_id());
    let built = run(
        docker
            .command()
            .args(["build", "-q", "--label", &label, "-t", &images.app, "-f"])
            .arg(&dockerfile)
            .arg(&context),
        TIMEOUT,
    );
    assert!(built.ok(), "docker build: {built:?}");
    assert_eq!(
        docker_inspect(&ctx.reference, "{{.Id}}"),
        ctx.config(host_platform),
        "the build's COPY --from did not pull the {host_platform} image"
    );
    let app = Container::start_on(
        &docker,
        "registry-app",
        &["--pull", "never", "--network", "none", &images.app],
    );
    app.wait_log("/init", Duration::from_secs(15));
    let took = app.stop(10);
    let code = app.exit_code();
    println!(
        "docker stop -t 10 of the COPY --from app: {:.3} s, exit {code:?}",
        took.as_secs_f64()
    );
    assert!(took < FAST_STOP, "docker stop took {took:?}");
    assert_eq!(code, Some(143), "the app's SIGTERM death passes as 143");
    assert_eq!(host_arch, std::env::consts::ARCH);
    drop(app);

    // Nothing of this check is left in the daemon.
    let left = remove_docker_images(&ctx.repo, &images.app);
    assert!(left.is_empty(), "left in Docker: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// Podman

/// Podman with its own storage under the test's directory; its images are removed and the
/// directory deleted when dropped.
struct PodmanStore {
    dir: PathBuf,
    engine: Engine,
}

impl PodmanStore {
    fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("containers.conf");
        // Podman's default open-files limit is refused on this machine (see tests/engines.rs).
        std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n").unwrap();
        let sub = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let engine = Engine {
            program: "podman".to_string(),
            global: vec![
                "--root".to_string(),
                sub("root"),
                // Podman refuses a runroot longer than 50 characters: short names.
                "--runroot".to_string(),
                sub("r"),
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
        Self { dir, engine }
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        let t = Duration::from_secs(60);
        let _ = self.engine.run(&["rm", "-af", "-t", "0"], t);
        let _ = self.engine.run(&["rmi", "-af"], t);
        let left = remove_dir_and_leftovers(&self.dir);
        if !left.is_empty() {
            eprintln!("podman store: left {left:?}");
        }
    }
}

fn podman_pulls_each_platform(ctx: &Ctx) {
    const WHAT: &str = "registry podman check";
    const REQUIRE_PODMAN: &str = "PIDONE_REQUIRE_PODMAN";
    if !have("podman") || !have("runc") {
        return skip(WHAT, REQUIRE_PODMAN, "podman or runc is not installed");
    }
    if !nix::unistd::geteuid().is_root() {
        return skip(WHAT, REQUIRE_PODMAN, "rootful Podman needs root");
    }
    let store = PodmanStore::new(ctx.dir.join("p"));
    let podman = &store.engine;
    let platforms = std::iter::once(&ctx.host).chain(&ctx.foreign);
    for (i, (platform, arch)) in platforms.enumerate() {
        let request = os_arch(platform);
        let mut args = vec!["pull", "-q", "--tls-verify=false"];
        if i > 0 {
            args.extend(["--platform", &request]);
        }
        args.push(&ctx.reference);
        let pulled = podman.run(&args, TIMEOUT);
        assert!(pulled.ok(), "podman {args:?}: {pulled:?}");
        let id = podman.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Os}}/{{.Architecture}}",
            &ctx.reference,
        ]);
        println!("podman {args:?}: {}", id.trim());
        let config = ctx.config(platform);
        assert_eq!(
            id.trim(),
            format!(
                "{} {}",
                config.strip_prefix("sha256:").unwrap(),
                os_arch(platform)
            ),
            "podman pull {} did not give the {platform} image",
            if i == 0 { "(default)" } else { "--platform" }
        );
        let mounted = podman.ok(&["image", "mount", &ctx.reference]);
        let binary = PathBuf::from(mounted.trim()).join("pidone");
        assert_is_release_binary(ctx.rel, arch, &binary, &format!("podman {platform}"));
        podman.ok(&["image", "unmount", &ctx.reference]);
        if i == 0 {
            let out = podman.run(
                &[
                    "run",
                    "--rm",
                    "--pull",
                    "never",
                    "--network",
                    "none",
                    &ctx.reference,
                    "--version",
                ],
                TIMEOUT,
            );
            assert!(out.ok(), "podman run: {out:?}");
            assert_eq!(out.stdout.trim_end(), ctx.version_line);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// containerd

/// A private containerd: its own root, state and socket under `dir`, its own (empty) network
/// namespace, no CRI plugin. Stopped, and `dir` removed, when dropped.
struct Containerd {
    dir: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
}

impl Containerd {
    fn start(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\n\
                 root = \"{root}\"\n\
                 state = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{socket}\"\n\
                 [ttrpc]\n  address = \"{socket}.ttrpc\"\n",
                root = dir.join("root").display(),
                state = dir.join("state").display(),
                socket = socket.display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        // unshare execs containerd: the child is containerd itself.
        let child = Command::new("unshare")
            .args(["--net", "containerd", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("unshare --net containerd");
        let mut containerd = Self {
            dir,
            socket,
            child: Some(child),
        };
        let up = poll(START, || {
            if let Some(Ok(Some(status))) = containerd.child.as_mut().map(Child::try_wait) {
                panic!("containerd exited with {status}:\n{}", containerd.log());
            }
            containerd
                .ctr(&["version"], Duration::from_secs(5))
                .ok()
                .then_some(())
        });
        assert!(
            up.is_some(),
            "containerd did not answer within {START:?}:\n{}",
            containerd.log()
        );
        containerd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCKET --namespace pidone-test ARGS...`.
    fn ctr(&self, args: &[&str], timeout: Duration) -> Output {
        run(
            Command::new("ctr")
                .arg("--address")
                .arg(&self.socket)
                .args(["--namespace", CTR_NAMESPACE])
                .args(args),
            timeout,
        )
    }

    /// Like [`Self::ctr`], panicking with the output unless it succeeds.
    fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args, TIMEOUT);
        assert!(out.ok(), "ctr {args:?}: {out:?}");
        out.stdout
    }

    fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let clean = stop_child(&mut child, Duration::from_secs(20));
        let left = remove_dir_and_leftovers(&self.dir);
        match (clean, left.is_empty()) {
            (true, true) => Ok(()),
            _ => Err(format!(
                "containerd: stopped by SIGTERM: {clean}; left: {left:?}"
            )),
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{e}");
        }
    }
}

/// Unmounts a `ctr images mount` when dropped.
struct CtrMount<'a>(&'a Containerd, PathBuf);

impl Drop for CtrMount<'_> {
    fn drop(&mut self) {
        let target = self.1.to_string_lossy().into_owned();
        let out = self.0.ctr(&["images", "unmount", "--rm", &target], TIMEOUT);
        if !out.ok() {
            eprintln!("ctr images unmount {target}: {out:?}");
        }
    }
}

fn containerd_pulls_the_foreign_platforms(ctx: &Ctx) {
    let containerd = Containerd::start(ctx.dir.join("containerd"));
    for (platform, arch) in &ctx.foreign {
        let request = os_arch(platform);
        let out = containerd.ctr_ok(&[
            "images",
            "pull",
            "--plain-http",
            "--platform",
            &request,
            &ctx.reference,
        ]);
        assert!(
            out.contains(&format!("unpacking {request}")),
            "ctr pull --platform {request} did not unpack that platform: {out}"
        );
        let target = ctx.subdir(&format!("ctr-mount-{arch}"));
        let target_text = target.to_string_lossy().into_owned();
        containerd.ctr_ok(&[
            "images",
            "mount",
            "--platform",
            &request,
            &ctx.reference,
            &target_text,
        ]);
        let mount = CtrMount(&containerd, target.clone());
        assert_is_release_binary(
            ctx.rel,
            arch,
            &target.join("pidone"),
            &format!("ctr {platform}"),
        );
        drop(mount);
    }
    // The image is the release's index, with all its platforms listed.
    let listed = containerd.ctr_ok(&["images", "ls"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&format!("{} ", ctx.reference)))
        .unwrap_or_else(|| panic!("ctr images ls lacks {}: {listed}", ctx.reference));
    println!("ctr images ls: {line}");
    assert!(line.contains(&ctx.tar.index), "{line}");
}

// ---------------------------------------------------------------------------------------------

/// Removes the test's directory when dropped (the servers' guards are dropped before it).
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let left = remove_dir_and_leftovers(&self.0);
        if !left.is_empty() {
            eprintln!("{}: left {left:?}", self.0.display());
        }
    }
}

#[test]
fn release_image_through_a_registry_to_docker_podman_and_containerd() {
    const TEST: &str = "registry";
    if !shared::enabled(TEST) {
        return;
    }
    for program in [
        "docker-registry",
        "skopeo",
        "containerd",
        "ctr",
        "python3",
        "file",
    ] {
        assert!(
            have(program),
            "{TEST}: `{program}` is not installed (scripts/setup installs it)"
        );
    }
    assert!(nix::unistd::geteuid().is_root(), "{TEST}: needs root");
    let rel = shared::shared().unwrap_or_else(|e| panic!("{TEST}: {e}"));
    let start = Instant::now();
    remove_stale();
    let dir = RunDir(run_dir());
    std::fs::create_dir_all(&dir.0).unwrap();
    let mut registry = Registry::start(dir.0.join("registry"));

    // Publish, as a release is published.
    let repo = format!("{}/pidone", registry.host());
    let published = run(
        Command::new(Path::new(REPO).join("scripts/publish"))
            .args(["--dest-tls-verify=false", &repo])
            .arg(&rel.out),
        TIMEOUT,
    );
    println!(
        "scripts/publish: {:.2} s: {}",
        published.elapsed.as_secs_f64(),
        published.stderr.lines().last().unwrap_or_default()
    );
    assert!(published.ok(), "scripts/publish: {published:?}");
    let tar = shared::read_image_tar(&rel.image_tar());
    let reference = format!("{repo}:{VERSION}");

    // The registry serves the release's own index: the same digest, every platform.
    let raw = run(
        Command::new("skopeo").args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ]),
        TIMEOUT,
    );
    assert!(raw.ok(), "skopeo inspect --raw: {raw:?}");
    let raw_file = dir.0.join("index.json");
    std::fs::write(&raw_file, &raw.stdout).unwrap();
    assert_eq!(
        format!("sha256:{}", shared::sha256_of(&raw_file)),
        tar.index,
        "the registry's index is not the release's: {}",
        raw.stdout
    );
    let platforms = run(
        Command::new("python3")
            .args([
                "-c",
                "import json, sys\n\
                 index = json.load(open(sys.argv[1]))\n\
                 print(index['mediaType'])\n\
                 for m in index['manifests']:\n\
                 \x20   p = m['platform']\n\
                 \x20   print('/'.join(filter(None, [p['os'], p['architecture'], p.get('variant')])))",
            ])
            .arg(&raw_file),
        TIMEOUT,
    );
    assert!(platforms.ok(), "{platforms:?}");
    let want: Vec<String> = std::iter::once("application/vnd.oci.image.index.v1+json")
        .chain(rel.arches().iter().map(|a| shared::platform(a)))
        .map(String::from)
        .collect();
    let got: Vec<String> = platforms.stdout.lines().map(String::from).collect();
    println!("skopeo inspect --raw: {got:?}");
    assert_eq!(got, want, "the index's media type and platforms");

    let host_arch = std::env::consts::ARCH.to_string();
    let host = (shared::platform(&host_arch).to_string(), host_arch.clone());
    assert!(
        tar.image(&host.0).is_some(),
        "the release has no image for this host ({})",
        host.0
    );
    let foreign: Vec<(String, String)> = rel
        .arches()
        .into_iter()
        .filter(|a| *a != host_arch)
        .map(|a| (shared::platform(&a).to_string(), a))
        .collect();
    if foreign.is_empty() {
        println!(
            "note: the release has no foreign platform (PIDONE_RELEASE_TARGETS); only the host's is pulled"
        );
    }
    let head = run(
        Command::new("git")
            .args(["rev-parse", "--short=7", "HEAD"])
            .current_dir(REPO),
        TIMEOUT,
    );
    let ctx = Ctx {
        rel,
        tar,
        repo,
        reference,
        host,
        foreign,
        dir: dir.0.clone(),
        version_line: format!("tini version {VERSION}_pidone - git.{}", head.stdout.trim()),
    };
    let failed = run_checks(
        &ctx,
        &[
            (
                "docker_pulls_each_platform_and_copy_from_builds",
                docker_pulls_each_platform_and_copy_from_builds,
            ),
            ("podman_pulls_each_platform", podman_pulls_each_platform),
            (
                "containerd_pulls_the_foreign_platforms",
                containerd_pulls_the_foreign_platforms,
            ),
        ],
    );
    let stopped = registry.stop();
    drop(ctx);
    drop(dir);
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    stopped.unwrap();
    assert!(
        !run_dir().exists(),
        "{} was not removed",
        run_dir().display()
    );
    println!("{TEST}: {:.2} s in all", start.elapsed().as_secs_f64());
}
