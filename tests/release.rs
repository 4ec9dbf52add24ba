//! The release artifacts of `scripts/release`, checked the way users use them: checksums with
//! `sha256sum -c`, the static binaries' version line, the .deb's contents, lintian, an install
//! into a scratch root, the image through `docker load` and `COPY --from`, the man page through
//! `man`, and a second build in another directory that must give identical files.
//!
//! `scripts/release` builds the committed tree (HEAD), not the working tree. The tests run only
//! with `PIDONE_RELEASE_TESTS=1` (set by `scripts/test`), because they build pidone twice more;
//! without it each says so and returns. They need what `scripts/setup` installs (dpkg-dev,
//! lintian, man-db, busybox-static) and a Docker engine for the image test (skipped without one
//! unless `PIDONE_REQUIRE_DOCKER=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() in the Docker harness (not used here, compiled with it)

#[path = "docker/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use harness::{Container, LABEL, Output, docker, run, run_id};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// One release build may take this long (it compiles pidone and the man page generator).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Any other command (lintian, man, dpkg, docker) may take this long.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A finished `scripts/release` run.
struct Release {
    /// OUTDIR, holding the artifacts.
    out: PathBuf,
    /// Directory the tests may use for scratch files.
    scratch: PathBuf,
    /// The parent under which the script made its temporary build directory.
    workdir: PathBuf,
}

static FIRST: OnceLock<Result<Release, String>> = OnceLock::new();

fn base() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-test")
}

/// Runs `scripts/release OUT` with its temporary build directory under `workdir`.
fn build_release(name: &str, workdir: &Path) -> Result<Release, String> {
    let dir = base().join(name);
    let out = dir.join("out");
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(workdir).map_err(|e| e.to_string())?;
    let result = run(
        Command::new(Path::new(REPO).join("scripts/release"))
            .arg(&out)
            .env("PIDONE_RELEASE_WORKDIR", workdir),
        BUILD_TIMEOUT,
    );
    println!(
        "scripts/release ({name}) took {:.1} s",
        result.elapsed.as_secs_f64()
    );
    if !result.ok() {
        return Err(format!(
            "scripts/release {} failed: {result:?}",
            out.display()
        ));
    }
    Ok(Release {
        out,
        scratch,
        workdir: workdir.to_path_buf(),
    })
}

/// The release under test (built once per test binary), or `None` after printing why not.
fn release(test: &str) -> Option<&'static Release> {
    if !std::env::var("PIDONE_RELEASE_TESTS").is_ok_and(|v| v == "1") {
        println!(
            "SKIPPED {test}: set PIDONE_RELEASE_TESTS=1 (scripts/test does) to build a release"
        );
        return None;
    }
    let built = FIRST.get_or_init(|| {
        let _ = std::fs::remove_dir_all(base());
        let dirty = run(
            Command::new("git")
                .args(["status", "--porcelain", "--untracked-files=no"])
                .current_dir(REPO),
            TIMEOUT,
        );
        if !dirty.stdout.trim().is_empty() {
            println!("note: uncommitted changes are not tested: scripts/release builds HEAD");
        }
        build_release("first", &base().join("work-a"))
    });
    match built {
        Ok(release) => Some(release),
        Err(e) => panic!("{test}: {e}"),
    }
}

/// Runs `program args...` (bounded) and panics with its output unless it exits 0.
fn ok(program: &str, args: &[&str], dir: &Path) -> Output {
    let out = run(Command::new(program).args(args).current_dir(dir), TIMEOUT);
    assert!(out.ok(), "{program} {args:?} failed: {out:?}");
    out
}

/// `tini version VERSION_pidone - git.HASH` for HEAD, as the binaries must print it.
fn expected_version_line() -> String {
    let head = ok("git", &["rev-parse", "--short=7", "HEAD"], Path::new(REPO));
    format!("tini version {VERSION}_pidone - git.{}", head.stdout.trim())
}

/// The Debian architecture of the host (`dpkg --print-architecture`).
fn deb_arch() -> String {
    ok("dpkg", &["--print-architecture"], Path::new("/"))
        .stdout
        .trim()
        .to_string()
}

/// The files in OUTDIR, by name.
fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn every_file_is_in_sha256sums_and_verifies() {
    let Some(rel) = release("sha256sums") else {
        return;
    };
    let sums = std::fs::read_to_string(rel.out.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<String> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    let mut present = files(&rel.out);
    present.remove("SHA256SUMS");
    assert_eq!(listed, present, "SHA256SUMS must list every other file");
    let expected = [
        format!("pidone-{VERSION}-x86_64"),
        format!("pidone_{VERSION}_amd64.deb"),
        format!("pidone-{VERSION}-image.tar"),
        "pidone.1".to_string(),
    ];
    for name in &expected {
        assert!(present.contains(name), "{name} missing from {present:?}");
    }
    let check = ok("sha256sum", &["--strict", "-c", "SHA256SUMS"], &rel.out);
    assert_eq!(check.stdout.lines().count(), listed.len(), "{check:?}");
    assert!(
        check.stdout.lines().all(|l| l.ends_with(": OK")),
        "{check:?}"
    );
}

#[test]
fn binaries_are_static_and_print_the_version_line_of_the_commit() {
    let Some(rel) = release("binaries") else {
        return;
    };
    let want = expected_version_line();
    let prefix = format!("pidone-{VERSION}-");
    let binaries: Vec<String> = files(&rel.out)
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && !n.ends_with(".tar"))
        .collect();
    assert!(
        !binaries.is_empty(),
        "no pidone-{VERSION}-ARCH in the release"
    );
    for name in binaries {
        let arch = name.strip_prefix(&prefix).unwrap();
        let path = rel.out.join(&name);
        let file = ok("file", &["-b", path.to_str().unwrap()], &rel.out).stdout;
        assert!(
            file.contains("statically linked") || file.contains("static-pie linked"),
            "{name} is not static: {file}"
        );
        let machine = match arch {
            "x86_64" => "x86-64",
            "aarch64" => "ARM aarch64",
            "i686" => "Intel 80386",
            other => panic!("{name}: unknown architecture {other}"),
        };
        assert!(file.contains(machine), "{name} is not {machine}: {file}");
        // i686 runs natively on x86_64; other architectures through qemu-user (scripts/setup
        // installs qemu-user-static for the architecture tests).
        let native =
            arch == std::env::consts::ARCH || (arch == "i686" && cfg!(target_arch = "x86_64"));
        let qemu = format!("qemu-{arch}-static");
        let mut command = if native {
            Command::new(&path)
        } else if let Some(qemu) = on_path(&qemu) {
            let mut command = Command::new(qemu);
            command.arg(&path);
            command
        } else {
            println!("{name}: not run (an {arch} binary, and no {qemu} on PATH)");
            continue;
        };
        let out = run(command.arg("--version"), TIMEOUT);
        assert!(out.ok(), "{name} --version: {out:?}");
        assert_eq!(out.stdout.trim_end(), want, "{name} --version");
    }
}

/// `program` in a directory of `PATH`, if it is there.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The .deb for this host's architecture.
fn host_deb(rel: &Release) -> PathBuf {
    let deb = rel.out.join(format!("pidone_{VERSION}_{}.deb", deb_arch()));
    assert!(deb.is_file(), "{} missing", deb.display());
    deb
}

/// Every .deb of the release, with the Debian architecture its name gives.
fn debs(rel: &Release) -> Vec<(PathBuf, String)> {
    let prefix = format!("pidone_{VERSION}_");
    let debs: Vec<(PathBuf, String)> = files(&rel.out)
        .into_iter()
        .filter_map(|name| {
            let arch = name
                .strip_prefix(&prefix)?
                .strip_suffix(".deb")?
                .to_string();
            Some((rel.out.join(name), arch))
        })
        .collect();
    assert!(!debs.is_empty(), "no .deb in the release");
    debs
}

#[test]
fn deb_holds_exactly_pidone_its_man_page_and_its_docs() {
    let Some(rel) = release("deb_contents") else {
        return;
    };
    let files: BTreeSet<String> = [
        "/usr/bin/pidone",
        "/usr/share/man/man1/pidone.1.gz",
        "/usr/share/doc/pidone/README.md.gz",
        "/usr/share/doc/pidone/changelog.gz",
        "/usr/share/doc/pidone/copyright",
        "/usr/share/lintian/overrides/pidone",
    ]
    .map(String::from)
    .into();
    let dirs: BTreeSet<String> = [
        "/",
        "/usr/",
        "/usr/bin/",
        "/usr/share/",
        "/usr/share/doc/",
        "/usr/share/doc/pidone/",
        "/usr/share/lintian/",
        "/usr/share/lintian/overrides/",
        "/usr/share/man/",
        "/usr/share/man/man1/",
    ]
    .map(String::from)
    .into();
    for (deb, arch) in debs(rel) {
        let listing = ok("dpkg-deb", &["-c", deb.to_str().unwrap()], &rel.out).stdout;
        let mut paths = BTreeSet::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields[1], "root/root", "not owned by root: {line}");
            assert!(!fields[0].starts_with('l'), "no links expected: {line}");
            paths.insert(fields[5].trim_start_matches('.').to_string());
        }
        assert_eq!(paths, &files | &dirs, "dpkg-deb -c {}", deb.display());
        assert!(
            !paths.iter().any(|p| p.contains("tini")),
            "another package's file"
        );
        let field = |name: &str| {
            ok("dpkg-deb", &["-f", deb.to_str().unwrap(), name], &rel.out)
                .stdout
                .trim()
                .to_string()
        };
        assert_eq!(field("Package"), "pidone");
        assert_eq!(field("Version"), VERSION);
        assert_eq!(field("Architecture"), arch);
    }
}

#[test]
fn lintian_reports_no_errors() {
    let Some(rel) = release("lintian") else {
        return;
    };
    for (deb, _) in debs(rel) {
        let out = run(
            Command::new("lintian")
                .args(["--fail-on", "error"])
                .arg(&deb),
            Duration::from_secs(300),
        );
        println!("lintian {}:\n{}", deb.display(), out.stdout);
        assert!(out.ok(), "lintian failed: {out:?}");
        assert!(!out.stdout.lines().any(|l| l.starts_with("E:")), "{out:?}");
    }
}

#[test]
fn deb_installs_into_a_scratch_root_and_pidone_runs_from_there() {
    let Some(rel) = release("deb_install") else {
        return;
    };
    let deb = host_deb(rel);
    let root = rel.scratch.join("dpkg-root");
    let _ = std::fs::remove_dir_all(&root);
    let db = root.join("var/lib/dpkg");
    std::fs::create_dir_all(db.join("info")).unwrap();
    std::fs::create_dir_all(db.join("updates")).unwrap();
    std::fs::write(db.join("status"), "").unwrap();
    let root_arg = format!("--root={}", root.display());
    ok(
        "dpkg",
        &[&root_arg, "--log=/dev/null", "-i", deb.to_str().unwrap()],
        &rel.scratch,
    );
    let installed = ok("dpkg", &[&root_arg, "-L", "pidone"], &rel.scratch).stdout;
    assert!(
        installed.lines().any(|l| l == "/usr/bin/pidone"),
        "{installed}"
    );
    let out = run(
        Command::new(root.join("usr/bin/pidone")).arg("--version"),
        TIMEOUT,
    );
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim_end(), expected_version_line());
    // The installed man page is the release's pidone.1.
    let man = ok(
        "gzip",
        &[
            "-dc",
            root.join("usr/share/man/man1/pidone.1.gz")
                .to_str()
                .unwrap(),
        ],
        &rel.scratch,
    );
    let page = std::fs::read_to_string(rel.out.join("pidone.1")).unwrap();
    assert!(
        man.stdout == page,
        "the .deb's man page differs from pidone.1"
    );
}

#[test]
fn man_page_renders_without_warnings_and_covers_personas_environment_signals_exit_codes() {
    let Some(rel) = release("man") else {
        return;
    };
    let out = run(
        Command::new("man")
            .args(["--warnings", "-l"])
            .arg(rel.out.join("pidone.1"))
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8"),
        TIMEOUT,
    );
    assert!(out.ok(), "man failed: {out:?}");
    assert_eq!(out.stderr, "", "man --warnings printed warnings");
    let text = out.stdout;
    let header = text.lines().next().unwrap_or_default();
    assert!(header.starts_with("pidone(1)"), "{header}");
    let footer = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        footer.contains(VERSION),
        "version not in the footer: {footer}"
    );
    for needle in [
        "SYNOPSIS",
        "OPTIONS",
        "PERSONAS",
        "ENVIRONMENT",
        "SIGNALS",
        "EXIT STATUS",
        "docker-init",
        "dumb-init",
        "catatonit",
        "podman-init",
        "--grace-period",
        "--wait-all",
        "--forward-to",
        "--stop-delay",
        "--user",
        "--log-format",
        "--rewrite",
        "PIDONE_GRACE_PERIOD",
        "TINI_SUBREAPER",
        "TINI_KILL_PROCESS_GROUP",
        "TINI_VERBOSITY",
        "DUMB_INIT_SETSID",
        "DUMB_INIT_DEBUG",
        "CATATONIT_DEBUG",
        "SIGRTMIN",
        "128 + N",
        "127",
        "126",
    ] {
        assert!(text.contains(needle), "man page lacks {needle:?}:\n{text}");
    }
    // Every long option and variable that pidone's own --help names is in the page too.
    let bin = rel
        .out
        .join(format!("pidone-{VERSION}-{}", std::env::consts::ARCH));
    let help = run(Command::new(bin).arg("--help"), TIMEOUT);
    assert!(help.ok(), "pidone --help: {help:?}");
    let words: BTreeSet<&str> = help
        .stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| {
            (w.starts_with("--") && w.len() > 2)
                || ["PIDONE_", "TINI_", "DUMB_INIT_", "CATATONIT_"]
                    .iter()
                    .any(|p| w.starts_with(p))
        })
        .collect();
    assert!(words.len() > 20, "too few options in --help: {words:?}");
    for word in words {
        assert!(text.contains(word), "man page lacks {word:?} from --help");
    }
}

/// Restores the `pidone:VERSION` tag as it was and removes the test's app image, even when the
/// test panics.
struct ImageGuard {
    tag: String,
    before: Option<String>,
    app: String,
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let t = Duration::from_secs(30);
        let _ = docker(&["rmi", "-f", &self.app], t);
        match &self.before {
            Some(id) => {
                let _ = docker(&["tag", id, &self.tag], t);
            }
            None => {
                let _ = docker(&["rmi", &self.tag], t);
            }
        }
    }
}

#[test]
fn image_loads_and_copy_from_gives_an_app_image_with_pidone_as_pid_1() {
    let Some(rel) = release("image") else {
        return;
    };
    let version = docker(&["version", "--format", "{{.Server.Version}}"], TIMEOUT);
    if !version.ok() {
        assert!(!harness::required(), "no Docker engine: {version:?}");
        println!(
            "SKIPPED image: no Docker engine answered: {}",
            version.both().trim()
        );
        return;
    }
    let tag = format!("pidone:{VERSION}");
    let inspect = docker(&["image", "inspect", "-f", "{{.Id}}", &tag], TIMEOUT);
    let guard = ImageGuard {
        tag: tag.clone(),
        before: inspect.ok().then(|| inspect.stdout.trim().to_string()),
        app: format!("pidone-test-{}-release-app:latest", run_id()),
    };
    let tar = rel.out.join(format!("pidone-{VERSION}-image.tar"));
    let loaded = docker(&["load", "-i", tar.to_str().unwrap()], TIMEOUT);
    assert!(loaded.ok(), "docker load: {loaded:?}");
    assert!(
        loaded.stdout.contains(&format!("Loaded image: {tag}")),
        "{loaded:?}"
    );

    // The image holds only /pidone, and its entrypoint is pidone.
    let label = format!("{LABEL}={}", run_id());
    let direct = Container::named(&harness::container_name("release-version"));
    let out = docker(
        &[
            "run",
            "--pull",
            "never",
            "--name",
            &direct.name,
            "--label",
            &label,
            &tag,
            "--version",
        ],
        TIMEOUT,
    );
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.stdout.trim_end(), expected_version_line());

    // An app image FROM scratch with the README's COPY --from line; busybox is the app.
    let ctx = rel.scratch.join("app-context");
    let _ = std::fs::remove_dir_all(&ctx);
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    let dockerfile = rel.scratch.join("app.Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             COPY --from={tag} /pidone /init\n\
             ENTRYPOINT [\"/init\", \"--\"]\n\
             CMD [\"/bin/busybox\", \"sh\", \"-c\", \
             \"/bin/busybox readlink /proc/1/exe; /bin/busybox tr '\\\\0' ' ' </proc/1/cmdline; exit 42\"]\n"
        ),
    )
    .unwrap();
    let built = run(
        Command::new("docker")
            .args([
                "build",
                "-q",
                "--pull=false",
                "--label",
                &label,
                "-t",
                &guard.app,
                "-f",
            ])
            .arg(&dockerfile)
            .arg(&ctx),
        TIMEOUT,
    );
    assert!(built.ok(), "docker build: {built:?}");
    let app = Container::named(&harness::container_name("release-app"));
    let out = docker(
        &[
            "run", "--pull", "never", "--name", &app.name, "--label", &label, &guard.app,
        ],
        TIMEOUT,
    );
    assert_eq!(
        out.code(),
        Some(42),
        "the app's exit code must pass: {out:?}"
    );
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("/init"), "PID 1 is not /init: {out:?}");
    let cmdline = lines.next().unwrap_or_default();
    assert!(
        cmdline.starts_with("/init -- /bin/busybox sh -c "),
        "PID 1's command line: {cmdline:?}"
    );
}

#[test]
fn a_second_build_in_another_directory_is_identical_and_holds_no_build_paths() {
    let Some(rel) = release("reproducible") else {
        return;
    };
    let other = base().join("work-b-in-a").join("longer-directory-name");
    let second = build_release("second", &other).unwrap();
    let first_sums = std::fs::read_to_string(rel.out.join("SHA256SUMS")).unwrap();
    let second_sums = std::fs::read_to_string(second.out.join("SHA256SUMS")).unwrap();
    assert_eq!(first_sums, second_sums, "two builds of one commit differ");
    assert!(
        first_sums.contains(".deb") && first_sums.contains(&format!("pidone-{VERSION}-x86_64"))
    );

    // No path of this machine in an artifact: neither the build directories nor $HOME (Cargo's
    // registry, rustup's toolchain). The .deb and the image hold the binary uncompressed or
    // xz-compressed; the binary itself is checked here, the rest is text or checked by equality.
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_string());
    let needles = [
        rel.workdir.to_str().unwrap().to_string(),
        second.workdir.to_str().unwrap().to_string(),
        format!("{home}/"),
        "/.cargo/".to_string(),
        "/.rustup/".to_string(),
    ];
    for name in files(&rel.out) {
        if name.ends_with(".deb") {
            continue; // compressed; its files are the binary, the man page and docs
        }
        let bytes = std::fs::read(rel.out.join(&name)).unwrap();
        for needle in &needles {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(
                !found,
                "{name} contains the build machine's path {needle:?}"
            );
        }
    }
}
