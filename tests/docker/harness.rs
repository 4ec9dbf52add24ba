//! Plumbing for the Docker tests (and the engine tests of tests/engines.rs): bounded command
//! runs, the `FROM scratch` test image, container guards and the skip-or-fail policy.
//!
//! Every engine command goes through an [`Engine`]: the machine's `docker` by default, or
//! another CLI and environment (a second dockerd behind `DOCKER_HOST`, Podman with its own
//! storage), which the Docker-compatible commands used here (`run -d`, `logs`, `stop -t`,
//! `kill -s`, `wait`, `inspect -f`, `exec`, `rm -f`) serve alike.
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

/// The image's orphan maker: zombie_factory making 5 orphans every 100 ms until it is stopped
/// (TERM ends it with 0), for the zombie checks of every engine.
pub const ORPHAN_MAKER: &[&str] = &[
    "/app/zombie_factory",
    "--forever",
    "--interval-ms",
    "100",
    "--batch",
    "5",
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

/// A container engine's command line: the program, its global options and its environment.
#[derive(Clone, Debug)]
pub struct Engine {
    /// `docker` or `podman`.
    pub program: String,
    /// Options before the subcommand (`--root DIR --runtime runc`...).
    pub global: Vec<String>,
    /// Extra environment (`DOCKER_HOST`, `CONTAINERS_CONF`...).
    pub env: Vec<(String, String)>,
}

impl Engine {
    /// The machine's Docker engine, as the `docker` client finds it.
    pub fn docker() -> Self {
        Self {
            program: "docker".to_string(),
            global: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The engine command with its global options and environment, no subcommand yet.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.global)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `ENGINE ARGS...` with a timeout.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Output {
        run(self.command().args(args), timeout)
    }

    /// Runs `ENGINE ARGS...` (30 s bound) and panics with its output unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, Duration::from_secs(30));
        assert!(out.ok(), "{} {args:?} failed: {out:?}", self.program);
        out.stdout
    }
}

/// Runs `docker ARGS...` with a timeout.
pub fn docker(args: &[&str], timeout: Duration) -> Output {
    Engine::docker().run(args, timeout)
}

/// Runs `docker ARGS...` (30 s bound) and panics with its output unless it succeeds.
pub fn docker_ok(args: &[&str]) -> String {
    Engine::docker().ok(args)
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
    let files = image_files(&bin)?;
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

/// The files of the test image (host path, path in the image): pidone as `/init` and
/// `/sbin/docker-init`, the examples as `/app/<name>` (built first if needed), static busybox as
/// `/bin/busybox` and `/bin/sh`. Fails with a reason if any of them is not a static binary.
pub fn image_files(bin: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let cargo_bin = PathBuf::from(env!("CARGO_BIN_EXE_pidone"));
    let bindir = cargo_bin
        .parent()
        .ok_or("pidone binary has no directory")?
        .to_path_buf();
    let mut files: Vec<(PathBuf, String)> = vec![(bin.to_path_buf(), "init".to_string())];
    check_static(bin)?;
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
    files.push((bin.to_path_buf(), "sbin/docker-init".to_string()));
    files.push((busybox.clone(), "bin/busybox".to_string()));
    files.push((busybox, "bin/sh".to_string()));
    Ok(files)
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
    make_image(&Engine::docker(), true, image, files, instructions)
}

/// `ENGINE import` of a tree made of `files`, with `instructions` as `--change`s (ENTRYPOINT,
/// CMD...): how the engine tests load their image, with no build step and no registry.
pub fn import_image(
    engine: &Engine,
    image: &str,
    files: &[(PathBuf, String)],
    instructions: &[&str],
) -> Result<(), String> {
    make_image(engine, false, image, files, instructions)
}

/// Stages `files` in a fresh context directory, then builds (if `build`) or imports the image.
fn make_image(
    engine: &Engine,
    build: bool,
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
    let result = build_in(engine, build, &dir, image, files, instructions);
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

/// `make_image` with the context in `dir`.
fn build_in(
    engine: &Engine,
    build: bool,
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
    let label = format!("{LABEL}={}", run_id());
    if build {
        let mut dockerfile = String::from("FROM scratch\nCOPY . /\n");
        for line in instructions {
            dockerfile.push_str(line);
            dockerfile.push('\n');
        }
        // Outside the context, so it does not end up in the image.
        let file = dir.with_extension("Dockerfile");
        std::fs::write(&file, dockerfile).map_err(|e| e.to_string())?;
        let built = run(
            engine
                .command()
                .args(["build", "-q", "--label", &label, "-t", image, "-f"])
                .arg(&file)
                .arg(dir),
            Duration::from_secs(120),
        );
        if built.ok() {
            return Ok(());
        }
        println!(
            "note: {} build failed ({}); using {0} import",
            engine.program,
            built.both().trim()
        );
    }
    let engine_cmd = engine.command();
    let mut import = Command::new("sh");
    import
        .args(["-c", "dir=$1; shift; tar -C \"$dir\" -c . | \"$@\"", "sh"])
        .arg(dir)
        .arg(engine_cmd.get_program())
        .args(engine_cmd.get_args())
        .envs(engine.env.iter().map(|(k, v)| (k, v)))
        .args(["import", "--change", &format!("LABEL {label}")]);
    for change in instructions {
        let keyword = change.split_whitespace().next().unwrap_or_default();
        if IMPORT_CHANGES.contains(&keyword.to_ascii_uppercase().as_str()) {
            import.args(["--change", change]);
        } else {
            println!(
                "note: {} import cannot apply {change:?}; left out",
                engine.program
            );
        }
    }
    let imported = run(import.args(["-", image]), Duration::from_secs(120));
    if imported.ok() {
        Ok(())
    } else {
        Err(format!(
            "{} import failed: {}",
            engine.program,
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

/// A container that is removed (`ENGINE rm -f`) when dropped, even if the test panics.
pub struct Container {
    pub name: String,
    /// The engine it runs on.
    pub engine: Engine,
}

impl Container {
    /// Guards an existing or future container called `name` on the machine's Docker engine.
    pub fn named(name: &str) -> Self {
        Self::named_on(&Engine::docker(), name)
    }

    /// Guards an existing or future container called `name` on `engine`.
    pub fn named_on(engine: &Engine, name: &str) -> Self {
        Self {
            name: name.to_string(),
            engine: engine.clone(),
        }
    }

    /// `docker run -d` on the machine's engine (whose test image `_env` holds) with a fresh name
    /// and this run's label; `args` go after `docker run -d --name N --label L` (options, image,
    /// command).
    pub fn start(_env: &Env, what: &str, args: &[&str]) -> Self {
        Self::start_on(&Engine::docker(), what, args)
    }

    /// `ENGINE run -d` with a fresh name and this run's label; `args` go after `run -d --name N
    /// --label L` (options, image, command).
    pub fn start_on(engine: &Engine, what: &str, args: &[&str]) -> Self {
        let container = Self::named_on(engine, &container_name(what));
        let label = format!("{LABEL}={}", run_id());
        let mut all = vec!["run", "-d", "--name", &container.name, "--label", &label];
        all.extend_from_slice(args);
        let out = engine.run(&all, Duration::from_secs(30));
        assert!(out.ok(), "{} {all:?} failed: {out:?}", engine.program);
        container
    }

    /// `ENGINE ARGS...` with a timeout.
    fn engine(&self, args: &[&str], timeout: Duration) -> Output {
        self.engine.run(args, timeout)
    }

    /// `docker logs` (stdout and stderr together).
    pub fn logs(&self) -> String {
        self.engine(&["logs", &self.name], Duration::from_secs(10))
            .both()
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
        self.engine(
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
        let out = self.engine(
            &["stop", "-t", &t, &self.name],
            Duration::from_secs(u64::from(secs) + 20),
        );
        assert!(
            out.ok(),
            "{} stop {} failed: {out:?}",
            self.engine.program,
            self.name
        );
        out.elapsed
    }

    /// `docker kill -s SIG`.
    pub fn kill(&self, sig: &str) {
        self.engine.ok(&["kill", "-s", sig, &self.name]);
    }

    /// Waits (bounded) for the container to exit and returns its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let out = self.engine(&["wait", &self.name], timeout);
        assert!(
            out.ok(),
            "{} did not exit within {timeout:?}: {out:?}\nlogs:\n{}",
            self.name,
            self.logs()
        );
        out.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{} wait printed {:?}", self.engine.program, out.stdout))
    }

    /// Counts zombie processes in the container by reading /proc/*/stat with `docker exec` (`docker
    /// top` does not show them: exited tasks leave the cgroup). Returns (zombies, processes).
    pub fn zombies(&self) -> (usize, usize) {
        let out = self.engine(
            &[
                "exec",
                &self.name,
                "/bin/sh",
                "-c",
                // `; true`: a process that exits during the read makes cat fail.
                "cat /proc/[0-9]*/stat 2>/dev/null; true",
            ],
            Duration::from_secs(20),
        );
        assert!(out.ok(), "{} exec failed: {out:?}", self.engine.program);
        let states: Vec<&str> = out
            .stdout
            .lines()
            .filter_map(|l| l.rsplit_once(") ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        let z = states.iter().filter(|s| **s == "Z").count();
        (z, states.len())
    }

    /// The `total=` of zombie_factory's last batch line.
    pub fn orphans_made(&self) -> u64 {
        self.logs()
            .lines()
            .filter_map(|l| {
                l.rsplit_once("total=")
                    .and_then(|(_, n)| n.trim().parse().ok())
            })
            .max()
            .unwrap_or(0)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.engine(&["rm", "-f", &self.name], Duration::from_secs(30));
    }
}

/// Runs `ENGINE run -it ARGS` on a new pseudo-terminal, types `keys` once the terminal shows
/// `ready`, and returns the exit code of `ENGINE run` and what the terminal showed.
pub fn run_in_pty(
    engine: &Engine,
    args: &[&str],
    ready: &str,
    keys: &[u8],
) -> (Option<i32>, String) {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    let ready_within = Duration::from_secs(15);
    let pty = match nix::pty::openpty(None, None) {
        Ok(pty) => pty,
        Err(e) => panic!("openpty: {e}"),
    };
    let guard = Container::named_on(engine, &container_name("tty-it"));
    let label = format!("{LABEL}={}", run_id());
    let stdio = |fd: &std::os::fd::OwnedFd| match fd.try_clone() {
        Ok(fd) => Stdio::from(fd),
        Err(e) => panic!("dup of the pty: {e}"),
    };
    let mut cmd = engine.command();
    cmd.args(["run", "-it", "--name", &guard.name, "--label", &label])
        .args(args)
        .stdin(stdio(&pty.slave))
        .stdout(stdio(&pty.slave))
        .stderr(Stdio::from(pty.slave));
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!("{} run -it: {e}", engine.program),
    };
    drop(cmd); // closes our copies of the slave, so the master sees EOF/EIO at the end

    let mut master = std::fs::File::from(pty.master);
    let mut reader = match master.try_clone() {
        Ok(reader) => reader,
        Err(e) => panic!("dup of the pty master: {e}"),
    };
    let screen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&screen);
    // Not joined: it ends when the last slave descriptor closes.
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if let (Ok(mut screen), Some(read)) = (sink.lock(), buf.get(..n)) {
                screen.extend_from_slice(read);
            }
        }
    });
    let shown = || {
        screen
            .lock()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + ready_within;
    let saw_ready = poll(ready_within, || shown().contains(ready).then_some(()));
    if saw_ready.is_some() {
        let _ = master.write_all(keys);
    }
    let status = wait_bounded(&mut child, deadline + Duration::from_secs(10));
    let screen = shown();
    assert!(
        saw_ready.is_some(),
        "no {ready:?} on the terminal:\n{screen}"
    );
    (status.and_then(|s| s.code()), screen)
}

/// One check of an engine test: a name and what it runs against the test's context.
pub type Check<'a, C> = (&'a str, fn(&C));

/// Runs every check in its own thread, prints each one's time, and returns the names (with the
/// reason) of the failed ones.
pub fn run_checks<C: Sync>(ctx: &C, checks: &[Check<'_, C>]) -> Vec<String> {
    std::thread::scope(|s| {
        let started: Vec<_> = checks
            .iter()
            .map(|&(name, check)| {
                let start = Instant::now();
                let handle = s.spawn(move || {
                    check(ctx);
                    start.elapsed()
                });
                (name, start, handle)
            })
            .collect();
        started
            .into_iter()
            .filter_map(|(name, start, handle)| {
                let result = handle.join();
                let took = start.elapsed().as_secs_f64();
                match result {
                    Ok(took) => {
                        let took = took.as_secs_f64();
                        println!("check {name}: passed in {took:.2} s");
                        None
                    }
                    Err(panic) => {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                            .unwrap_or_default();
                        println!("check {name}: FAILED after {took:.2} s");
                        Some(format!("{name}: {why}"))
                    }
                }
            })
            .collect()
    })
}

/// Mount points at or under `dir` (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

/// Lazily unmounts every mount point at or under `dir`, deepest first; returns `mount POINT` for
/// each (what a clean shutdown should have left: nothing).
pub fn unmount_under(dir: &Path) -> Vec<String> {
    let mut mounts = mounts_under(dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for mount in &mounts {
        run(
            Command::new("umount").args(["-l", mount]),
            Duration::from_secs(10),
        );
    }
    mounts.into_iter().map(|m| format!("mount {m}")).collect()
}

/// Live host processes (other than this one) whose command line mentions `needle`, with that
/// command line (NULs as spaces). Zombies are left out: they hold nothing and cannot be killed.
pub fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("Z")
        });
        if cmdline.contains(needle) && !zombie {
            found.push((name.parse().unwrap_or(0), cmdline));
        }
    }
    found
}
