//! Plumbing for the Docker tests: bounded command runs, the `FROM scratch` test image, container
//! guards and the skip-or-fail policy.
//!
//! The image holds `/init` (pidone), `/sbin/docker-init` (pidone again, under the name Docker
//! gives its init), `/app/<example>` for the example workloads, and static busybox as
//! `/bin/busybox` and `/bin/sh`. It is built once per test binary and removed at exit.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Example programs copied into the image as `/app/<name>`.
pub const EXAMPLES: [&str; 7] = [
    "graceful_server",
    "zombie_factory",
    "ignore_term",
    "sigprint",
    "exit_with",
    "status_dump",
    "with_mask",
];

/// Set to `1` (as `.ci/run` does) to turn every reason to skip into a failure.
pub const REQUIRE_VAR: &str = "PIDONE_REQUIRE_DOCKER";

/// Overrides the binary under test (debugging only; the default is Cargo's pidone).
pub const BIN_VAR: &str = "PIDONE_TEST_BIN";

/// The label put on every image and container of one test run.
pub const LABEL: &str = "pidone-test";

/// What a finished (or timed-out) command left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit status, `None` if the command was killed at its timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// True if the command ran to completion and exited 0.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Exit code, if it exited normally before the timeout.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stdout and stderr together (container logs come on both).
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` with stdin closed, killing it after `timeout`; never hangs.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let start = Instant::now();
    let mut child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Output {
                status: None,
                stdout: String::new(),
                stderr: format!("cannot run {cmd:?}: {e}"),
                elapsed: start.elapsed(),
            };
        }
    };
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, start + timeout);
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// Reads a pipe to the end in a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Waits for `child` until `deadline`, then kills it (by its own pid) and returns `None`.
pub fn wait_bounded(child: &mut std::process::Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs `docker ARGS...` with a timeout.
pub fn docker(args: &[&str], timeout: Duration) -> Output {
    run(Command::new("docker").args(args), timeout)
}

/// Runs `docker ARGS...` (30 s bound) and panics with its output unless it succeeds.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args, Duration::from_secs(30));
    assert!(out.ok(), "docker {args:?} failed: {out:?}");
    out.stdout
}

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The prepared test environment.
pub struct Env {
    /// `repository:tag` of the test image.
    pub image: String,
    /// Identifies this test run (`<pid>-<millis>`), in names and labels.
    pub run_id: String,
    /// The pidone binary under test (on the host).
    pub bin: PathBuf,
    /// Whether `docker run --init` works on this engine, or why not.
    pub docker_init: Result<(), String>,
}

static ENV: OnceLock<Result<Env, String>> = OnceLock::new();
static RUN_ID: OnceLock<String> = OnceLock::new();
static SEQ: AtomicU32 = AtomicU32::new(0);

/// True if `PIDONE_REQUIRE_DOCKER=1`.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// The environment, or `None` after printing why the test is skipped. With
/// `PIDONE_REQUIRE_DOCKER=1` a reason to skip is a failure instead.
pub fn env(test: &str) -> Option<&'static Env> {
    match ENV.get_or_init(prepare) {
        Ok(env) => Some(env),
        Err(reason) if required() => panic!("{test}: {reason} ({REQUIRE_VAR}=1 forbids skipping)"),
        Err(reason) => {
            println!("SKIPPED {test}: {reason}");
            None
        }
    }
}

/// The binary under test: `PIDONE_TEST_BIN` or Cargo's pidone.
pub fn pidone_bin() -> PathBuf {
    std::env::var_os(BIN_VAR).map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_pidone")),
        PathBuf::from,
    )
}

/// Identifies this test run: `<pid>-<millis since the epoch>`.
pub fn run_id() -> &'static str {
    RUN_ID.get_or_init(|| {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{}-{millis}", std::process::id())
    })
}

/// A fresh container name: `pidone-test-<run>-<seq>-<what>`.
pub fn container_name(what: &str) -> String {
    let seq = SEQ.fetch_add(1, Ordering::SeqCst);
    format!("pidone-test-{}-{seq}-{what}", run_id())
}

/// Checks the engine, finds static binaries, builds the image.
fn prepare() -> Result<Env, String> {
    let version = docker(
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(10),
    );
    if !version.ok() {
        return Err(format!(
            "no Docker engine answered `docker version` within 10 s: {}",
            version.both().trim()
        ));
    }
    remove_stale();

    let bin = pidone_bin();
    let cargo_bin = PathBuf::from(env!("CARGO_BIN_EXE_pidone"));
    let bindir = cargo_bin
        .parent()
        .ok_or("pidone binary has no directory")?
        .to_path_buf();
    let mut files: Vec<(PathBuf, String)> = vec![(bin.clone(), "init".to_string())];
    check_static(&bin)?;
    build_examples(&bindir);
    for name in EXAMPLES {
        let path = bindir.join("examples").join(name);
        check_static(&path)?;
        files.push((path, format!("app/{name}")));
    }
    let busybox = PathBuf::from("/bin/busybox");
    if !matches!(is_static(&busybox), Ok(true)) {
        return Err("/bin/busybox is missing or not static (install busybox-static)".to_string());
    }
    files.push((bin.clone(), "sbin/docker-init".to_string()));
    files.push((busybox.clone(), "bin/busybox".to_string()));
    files.push((busybox, "bin/sh".to_string()));

    let image = format!("pidone-test-{}:all", run_id());
    build_image(&image, &files, &[])?;
    register_cleanup();
    let docker_init = probe_docker_init(&image);
    Ok(Env {
        image,
        run_id: run_id().to_string(),
        bin,
        docker_init,
    })
}

/// Fails with a hint unless `path` is a static executable.
fn check_static(path: &Path) -> Result<(), String> {
    match is_static(path) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{} is dynamically linked; a FROM scratch image needs static binaries: run \
             `cargo test --release --target x86_64-unknown-linux-musl`",
            path.display()
        )),
        Err(e) => Err(format!(
            "{} is not usable ({e}); build pidone and its examples for \
             x86_64-unknown-linux-musl: `cargo test --release --target x86_64-unknown-linux-musl`",
            path.display()
        )),
    }
}

/// Builds the examples for the same target and profile as the pidone binary in `bindir`
/// (`cargo test --test docker` alone does not build them). Best effort: a failure here shows
/// up as missing or stale binaries right after.
fn build_examples(bindir: &Path) {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let Some(profile_dir) = bindir.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let profile = match profile_dir {
        "debug" => "dev",
        other => other,
    };
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--examples", "--profile", profile])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // <target-dir>/<triple>/<profile>/ when built with --target, else <target-dir>/<profile>/.
    let triple = format!(
        "{}-unknown-linux-{}",
        std::env::consts::ARCH,
        if cfg!(target_env = "musl") {
            "musl"
        } else {
            "gnu"
        }
    );
    let with_triple =
        bindir.parent().and_then(Path::file_name) == Some(std::ffi::OsStr::new(&triple));
    if with_triple {
        cmd.args(["--target", &triple]);
    }
    let target_dir = if with_triple {
        bindir.parent().and_then(Path::parent)
    } else {
        bindir.parent()
    };
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let out = run(&mut cmd, Duration::from_secs(300));
    if !out.ok() {
        println!("note: building the examples failed: {}", out.stderr.trim());
    }
}

/// Whether the ELF file at `path` is static: it has no PT_INTERP program header.
pub fn is_static(path: &Path) -> Result<bool, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let bytes = |at: usize, n: usize| data.get(at..at + n).ok_or("truncated ELF file");
    let u16_at = |at: usize| -> Result<usize, String> {
        let b = bytes(at, 2)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    if bytes(0, 4)? != b"\x7fELF" || bytes(4, 1)? != [2] || bytes(5, 1)? != [1] {
        return Err("not a 64-bit little-endian ELF file".to_string());
    }
    let phoff_bytes: [u8; 8] = bytes(0x20, 8)?.try_into().map_err(|_| "bad ELF header")?;
    let phoff = usize::try_from(u64::from_le_bytes(phoff_bytes)).map_err(|e| e.to_string())?;
    let (phentsize, phnum) = (u16_at(0x36)?, u16_at(0x38)?);
    for i in 0..phnum {
        let p_type: [u8; 4] = bytes(phoff + i * phentsize, 4)?
            .try_into()
            .map_err(|_| "bad program header")?;
        if u32::from_le_bytes(p_type) == 3 {
            return Ok(false); // PT_INTERP: needs a dynamic loader
        }
    }
    Ok(true)
}

/// Builds `image` FROM scratch with `files` (host path, path in the image) and then the
/// Dockerfile `instructions` (USER, ENTRYPOINT...). When `docker build` fails on this engine it
/// falls back to `docker import` of the same tree, with the instructions as `--change`s.
pub fn build_image(
    image: &str,
    files: &[(PathBuf, String)],
    instructions: &[&str],
) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "{}-ctx-{}",
        image.replace([':', '/'], "-"),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let result = build_in(&dir, image, files, instructions);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("Dockerfile"));
    result
}

/// The instructions `docker import --change` accepts.
const IMPORT_CHANGES: [&str; 9] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// `build_image` with the context in `dir`.
fn build_in(
    dir: &Path,
    image: &str,
    files: &[(PathBuf, String)],
    instructions: &[&str],
) -> Result<(), String> {
    for (from, to) in files {
        let dest = dir.join(to.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(from, &dest).map_err(|e| format!("copy {}: {e}", from.display()))?;
    }
    let mut dockerfile = String::from("FROM scratch\nCOPY . /\n");
    for line in instructions {
        dockerfile.push_str(line);
        dockerfile.push('\n');
    }
    // Outside the context, so it does not end up in the image.
    let file = dir.with_extension("Dockerfile");
    std::fs::write(&file, dockerfile).map_err(|e| e.to_string())?;
    let label = format!("{LABEL}={}", run_id());
    let built = run(
        Command::new("docker")
            .args(["build", "-q", "--label", &label, "-t", image, "-f"])
            .arg(&file)
            .arg(dir),
        Duration::from_secs(120),
    );
    if built.ok() {
        return Ok(());
    }
    println!(
        "note: docker build failed ({}); using docker import",
        built.both().trim()
    );
    let mut import = Command::new("sh");
    import
        .args([
            "-c",
            "dir=$1; shift; tar -C \"$dir\" -c . | docker import \"$@\"",
            "sh",
        ])
        .arg(dir)
        .args(["--change", &format!("LABEL {label}")]);
    for change in instructions {
        let keyword = change.split_whitespace().next().unwrap_or_default();
        if IMPORT_CHANGES.contains(&keyword.to_ascii_uppercase().as_str()) {
            import.args(["--change", change]);
        } else {
            println!("note: docker import cannot apply {change:?}; left out");
        }
    }
    let imported = run(import.args(["-", image]), Duration::from_secs(120));
    if imported.ok() {
        Ok(())
    } else {
        Err(format!(
            "docker import failed too: {}",
            imported.both().trim()
        ))
    }
}

/// Removes this run's containers and images when the test binary exits.
fn register_cleanup() {
    extern "C" fn cleanup() {
        remove_labelled(run_id());
    }
    // SAFETY: `cleanup` is a plain function that is safe to call at exit (it only runs docker).
    let _ = unsafe { libc::atexit(cleanup) };
}

/// Removes every container and image labelled with `run`.
fn remove_labelled(run: &str) {
    let filter = format!("label={LABEL}={run}");
    let t = Duration::from_secs(30);
    let ids = docker(&["ps", "-aq", "--filter", &filter], t).stdout;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        docker(&args, t);
    }
    // By id: the stand-in builder stage of Dockerfile.example leaves an untagged image.
    let images = docker(&["images", "--filter", &filter, "--format", "{{.ID}}"], t).stdout;
    let mut images: Vec<&str> = images.split_whitespace().collect();
    images.sort_unstable();
    images.dedup();
    if !images.is_empty() {
        let mut args = vec!["rmi", "-f"];
        args.extend(images);
        docker(&args, t);
    }
}

/// Removes leftovers of earlier runs whose test process is gone (killed before its clean-up).
/// Their label and names start with `<pid>-` / `pidone-test-<pid>-`.
fn remove_stale() {
    let t = Duration::from_secs(30);
    let dead = |run: &str| {
        let pid = run.split('-').next().unwrap_or_default();
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
    };
    let names = docker(&["ps", "-a", "--format", "{{.Names}}"], t).stdout;
    let stale: Vec<&str> = names
        .split_whitespace()
        .filter(|n| n.strip_prefix("pidone-test-").is_some_and(dead))
        .collect();
    if !stale.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(stale);
        docker(&args, t);
    }
    let label = format!("label={LABEL}");
    let ids = docker(&["images", "--filter", &label, "--format", "{{.ID}}"], t).stdout;
    let format = format!("{{{{index .Config.Labels \"{LABEL}\"}}}}");
    for id in ids.split_whitespace() {
        let run = docker(&["image", "inspect", "-f", &format, id], t).stdout;
        if dead(run.trim()) {
            docker(&["rmi", "-f", id], t);
        }
    }
}

/// Whether `docker run --init` works here (the engine needs a docker-init binary).
fn probe_docker_init(image: &str) -> Result<(), String> {
    let name = container_name("probe-init");
    let _guard = Container::named(&name);
    let out = docker(
        &[
            "run",
            "--name",
            &name,
            "--label",
            &format!("{LABEL}={}", run_id()),
            "--init",
            "--entrypoint",
            "/app/exit_with",
            image,
            "7",
        ],
        Duration::from_secs(30),
    );
    if out.code() == Some(7) {
        Ok(())
    } else {
        Err(format!(
            "docker run --init does not work here: {}",
            out.both().trim()
        ))
    }
}

/// A container that is removed (`docker rm -f`) when dropped, even if the test panics.
pub struct Container {
    pub name: String,
}

impl Container {
    /// Guards an existing or future container called `name`.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }

    /// `docker run -d` with a fresh name and this run's label; `args` go after `docker run -d
    /// --name N --label L` (options, image, command).
    pub fn start(env: &Env, what: &str, args: &[&str]) -> Self {
        let container = Self::named(&container_name(what));
        let label = format!("{LABEL}={}", env.run_id);
        let mut all = vec!["run", "-d", "--name", &container.name, "--label", &label];
        all.extend_from_slice(args);
        let out = docker(&all, Duration::from_secs(30));
        assert!(out.ok(), "docker {all:?} failed: {out:?}");
        container
    }

    /// `docker logs` (stdout and stderr together).
    pub fn logs(&self) -> String {
        docker(&["logs", &self.name], Duration::from_secs(10)).both()
    }

    /// Waits (bounded) until the logs contain `needle`; panics with the logs otherwise.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        match poll(timeout, || Some(self.logs()).filter(|l| l.contains(needle))) {
            Some(logs) => logs,
            None => panic!(
                "{}: no {needle:?} in the logs within {timeout:?}:\n{}\nstate: {}",
                self.name,
                self.logs(),
                self.inspect("{{json .State}}")
            ),
        }
    }

    /// `docker inspect -f FORMAT`, trimmed.
    pub fn inspect(&self, format: &str) -> String {
        docker(
            &["inspect", "-f", format, &self.name],
            Duration::from_secs(10),
        )
        .stdout
        .trim()
        .to_string()
    }

    /// The container's exit code (`State.ExitCode`).
    pub fn exit_code(&self) -> Option<i32> {
        self.inspect("{{.State.ExitCode}}").parse().ok()
    }

    /// Times `docker stop -t SECS`; panics if it fails or takes longer than `SECS + 20`.
    pub fn stop(&self, secs: u32) -> Duration {
        let t = secs.to_string();
        let out = docker(
            &["stop", "-t", &t, &self.name],
            Duration::from_secs(u64::from(secs) + 20),
        );
        assert!(out.ok(), "docker stop {} failed: {out:?}", self.name);
        out.elapsed
    }

    /// `docker kill -s SIG`.
    pub fn kill(&self, sig: &str) {
        docker_ok(&["kill", "-s", sig, &self.name]);
    }

    /// Waits (bounded) for the container to exit and returns its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let out = docker(&["wait", &self.name], timeout);
        assert!(
            out.ok(),
            "{} did not exit within {timeout:?}: {out:?}\nlogs:\n{}",
            self.name,
            self.logs()
        );
        out.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("docker wait printed {:?}", out.stdout))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name], Duration::from_secs(30));
    }
}
