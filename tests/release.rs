//! The release artifacts of `scripts/release`, checked the way users use them: checksums with
//! `sha256sum -c`, the static binaries' version line, the .deb's contents, lintian, an install
//! into a scratch root, the image tar's index (one image per architecture) and `docker load` +
//! `COPY --from`, the man page through `man`, a second build in another directory that must
//! give identical files, and the crate as `cargo install` gets it.
//!
//! `scripts/release` builds the committed tree (HEAD), not the working tree; the build is shared
//! with tests/registry.rs (tests/release/shared.rs). The tests run only with
//! `PIDONE_RELEASE_TESTS=1` (set by `scripts/test`), because they build pidone several times
//! more; without it each says so and returns. They need what `scripts/setup` installs (dpkg-dev,
//! lintian, man-db, busybox-static, python3) and a Docker engine for the image test (skipped
//! without one unless `PIDONE_REQUIRE_DOCKER=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() in the Docker harness, kill() in the PID 1 harness

mod common;
#[path = "docker/harness.rs"]
mod harness;
#[path = "release/shared.rs"]
mod shared;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use harness::{Container, LABEL, Output, docker, run, run_id};
use shared::{REPO, Release, VERSION};

/// Any other command (lintian, man, dpkg, docker) may take this long.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A directory for this test binary's scratch files (emptied once per run).
fn scratch(name: &str) -> PathBuf {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    let dir = ONCE.get_or_init(|| {
        let dir = shared::base().join("release-scratch");
        let _ = std::fs::remove_dir_all(&dir);
        dir
    });
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The release under test (shared, see tests/release/shared.rs), or `None` after printing why
/// not.
fn release(test: &str) -> Option<&'static Release> {
    if !shared::enabled(test) {
        return None;
    }
    match shared::shared() {
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
    // Every architecture of the release's target list, with its .deb (Debian's name).
    let mut expected = vec![
        format!("pidone-{VERSION}-image.tar"),
        "pidone.1".to_string(),
    ];
    for arch in shared::expected_arches() {
        let deb_arch = match arch.as_str() {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "i686" => "i386",
            other => panic!("unknown architecture {other}"),
        };
        expected.push(format!("pidone-{VERSION}-{arch}"));
        expected.push(format!("pidone_{VERSION}_{deb_arch}.deb"));
    }
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
    let dir = scratch("deb-install");
    let root = dir.join("dpkg-root");
    let db = root.join("var/lib/dpkg");
    std::fs::create_dir_all(db.join("info")).unwrap();
    std::fs::create_dir_all(db.join("updates")).unwrap();
    std::fs::write(db.join("status"), "").unwrap();
    let root_arg = format!("--root={}", root.display());
    ok(
        "dpkg",
        &[&root_arg, "--log=/dev/null", "-i", deb.to_str().unwrap()],
        &dir,
    );
    let installed = ok("dpkg", &[&root_arg, "-L", "pidone"], &dir).stdout;
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
        &dir,
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

#[test]
fn image_tar_is_an_index_of_one_image_per_architecture_each_holding_its_pidone() {
    let Some(rel) = release("image_tar") else {
        return;
    };
    let tar = shared::read_image_tar(&rel.image_tar());
    println!("{tar:#?}");
    assert!(tar.bad_blobs.is_empty(), "blobs not matching their digest");
    assert_eq!(tar.ref_name, VERSION, "index.json's ref name is the tag");
    assert_eq!(
        tar.containerd_name,
        format!("docker.io/library/pidone:{VERSION}")
    );
    let arches = rel.arches();
    assert_eq!(arches, shared::expected_arches(), "the release's binaries");
    let platforms: Vec<&str> = tar.images.iter().map(|i| i.platform.as_str()).collect();
    let want: Vec<&str> = arches.iter().map(|a| shared::platform(a)).collect();
    assert_eq!(
        platforms, want,
        "one image per architecture, in the release's order"
    );
    for (image, arch) in tar.images.iter().zip(&arches) {
        assert_eq!(image.config_platform, image.platform, "{image:?}");
        assert_eq!(
            image.run_config,
            r#"{"Cmd":["-P"],"Entrypoint":["/pidone"]}"#
        );
        assert_eq!(image.files, "pidone", "the layer holds only /pidone");
        let binary = rel.out.join(format!("pidone-{VERSION}-{arch}"));
        assert_eq!(
            image.pidone_sha256,
            shared::sha256_of(&binary),
            "{}: /pidone is not {}",
            image.platform,
            binary.display()
        );
    }
    // Three different binaries: the comparison above can tell the images apart.
    let distinct: BTreeSet<&str> = tar
        .images
        .iter()
        .map(|i| i.pidone_sha256.as_str())
        .collect();
    assert_eq!(distinct.len(), tar.images.len());
    // `docker load` (manifest.json) gets one image: amd64 when there is one.
    let load = tar.image("linux/amd64").unwrap_or(&tar.images[0]);
    assert_eq!(
        tar.docker_load,
        vec![(load.config.clone(), format!("pidone:{VERSION}"))]
    );
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

    // manifest.json, all that this engine's `docker load` reads, gives the linux/amd64 image
    // (or the first one of a release without x86_64); its config names the platform and runs
    // `/pidone -P` unless given other arguments.
    let image_tar = shared::read_image_tar(&tar);
    let want = image_tar
        .image("linux/amd64")
        .unwrap_or(&image_tar.images[0]);
    let loaded = docker(
        &[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}",
            &tag,
        ],
        TIMEOUT,
    );
    assert!(loaded.ok(), "{loaded:?}");
    let arch = want.platform.split('/').nth(1).unwrap();
    assert_eq!(
        loaded.stdout.trim(),
        format!("{} linux/{arch} [\"/pidone\"] [\"-P\"]", want.config),
        "docker load did not give the {} image",
        want.platform
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
    let ctx = scratch("app-context");
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    let dockerfile = scratch("app").join("Dockerfile");
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
    let dir = shared::base().join("second");
    let other = dir.join("work-b").join("longer-directory-name");
    let second = shared::build("second", &dir.join("out"), &other).unwrap();
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

/// Removes a directory tree when dropped (pass or fail).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The crate as `cargo install pidone` gets it: `cargo package` makes the .crate that crates.io
/// would serve, it is unpacked outside this repository (as Cargo unpacks a download under
/// `$CARGO_HOME/registry/src`), and `cargo install` builds it there with a user's environment.
/// Outside, because `cargo install --path` applies the Cargo config of the package's directory
/// and its parents (this repository's `.cargo/config.toml` for a package under `target/`), which
/// a crates.io install never sees. The directory is made a git checkout of its own, as when
/// `$CARGO_HOME` sits in a dotfiles repository: its commit must not end up in pidone's version
/// line. The installed pidone must be static, print the version line without a commit, and work
/// as PID 1.
///
/// `cargo package --no-verify`: verifying would build the packaged crate once more (in debug),
/// and the `cargo install` below builds exactly that crate anyway, for the release target.
/// `--allow-dirty`: like `cargo publish`, this packages the working tree. `--offline`: every
/// dependency is in Cargo's cache after the suite's own build, so the test needs no network.
#[test]
fn cargo_package_then_cargo_install_gives_a_static_pidone_that_runs_as_pid_1() {
    const TEST: &str = "cargo_install";
    if !shared::enabled(TEST) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pidone-cargo-install-{}", run_id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _guard = RemoveOnDrop(dir.clone());
    std::fs::create_dir_all(dir.join("src")).unwrap();
    // The install must really happen outside the repository and any Cargo config above it.
    assert!(
        !dir.starts_with(REPO),
        "{} is inside the repository",
        dir.display()
    );
    for parent in dir.ancestors() {
        let config = parent.join(".cargo/config.toml");
        assert!(!config.exists(), "{} would apply", config.display());
    }
    // Some other repository around the unpacked crate, with a commit.
    let git = |args: &[&str]| {
        let mut all = vec!["-C", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        ok("git", &all, &dir).stdout
    };
    git(&["init", "-q"]);
    git(&[
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "not pidone",
    ]);
    let other_commit = git(&["rev-parse", "--short=7", "HEAD"]);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let long = Duration::from_secs(600);

    let package = run(
        Command::new(&cargo)
            .args(["package", "--offline", "--allow-dirty", "--no-verify"])
            .arg("--target-dir")
            .arg(dir.join("package-target"))
            .current_dir(REPO),
        long,
    );
    println!("cargo package: {:.1} s", package.elapsed.as_secs_f64());
    assert!(package.ok(), "cargo package: {package:?}");
    let crate_file = dir.join(format!("package-target/package/pidone-{VERSION}.crate"));
    let listing = ok("tar", &["-tzf", crate_file.to_str().unwrap()], &dir).stdout;
    let files: BTreeSet<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("pidone-{VERSION}/")))
        .collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "src/main.rs",
        "src/lib.rs",
    ] {
        assert!(
            files.contains(needed),
            "the crate lacks {needed}: {files:?}"
        );
    }
    for file in &files {
        assert!(
            file.starts_with("src/")
                || [
                    "Cargo.toml",
                    "Cargo.toml.orig",
                    "Cargo.lock",
                    ".cargo_vcs_info.json",
                    "build.rs",
                    "LICENSE",
                    "README.md",
                    "CHANGELOG.md",
                ]
                .contains(file),
            "the crate holds {file}, which a user's build does not need"
        );
    }
    ok(
        "tar",
        &[
            "-xzf",
            crate_file.to_str().unwrap(),
            "-C",
            dir.join("src").to_str().unwrap(),
        ],
        &dir,
    );

    // A user's environment: none of the variables Cargo gave this test (CARGO_*, RUSTFLAGS...),
    // only what finds the toolchain.
    let mut install = Command::new(&cargo);
    install.env_clear();
    for (key, value) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["PATH", "HOME", "CARGO_HOME", "TMPDIR"].contains(&key_text.as_ref())
            || key_text.starts_with("RUSTUP_")
        {
            install.env(key, value);
        }
    }
    let root = dir.join("root");
    let install = run(
        install
            .args(["install", "--offline", "--locked", "--path"])
            .arg(dir.join(format!("src/pidone-{VERSION}")))
            .args(["--target", "x86_64-unknown-linux-musl", "--root"])
            .arg(&root)
            .current_dir(&dir),
        long,
    );
    println!("cargo install: {:.1} s", install.elapsed.as_secs_f64());
    assert!(install.ok(), "cargo install: {install:?}");
    let bin = root.join("bin/pidone");

    let file = ok("file", &["-b", bin.to_str().unwrap()], &dir).stdout;
    println!("installed pidone: {}", file.trim());
    assert!(
        file.contains("static-pie linked") || file.contains("statically linked"),
        "not static without the repository's .cargo/config.toml: {file}"
    );
    // The check tells a dynamic binary apart.
    let dynamic = ok("file", &["-bL", "/bin/sh"], &dir).stdout;
    assert!(dynamic.contains("dynamically linked"), "{dynamic}");

    // No commit in the version line: the packaged crate has no .git (and the build script does
    // not take the one of a repository it may sit in).
    let version = run(Command::new(&bin).arg("--version"), TIMEOUT);
    assert!(version.ok(), "{version:?}");
    assert_eq!(
        version.stdout,
        format!("tini version {VERSION}_pidone\n"),
        "the commit of the repository around the crate is {}",
        other_commit.trim()
    );

    // As PID 1: the exit code passes through, and a TERM sent to pidone reaches the command.
    let bin_arg = bin.as_os_str();
    let exit = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        common::start_with(common::Mode::Pid1, &[], bin_arg, &args, &[])
    };
    let mut run42 = exit(&["--", "/bin/sh", "-c", "echo pid=$$; exit 42"]);
    assert_eq!(run42.wait(), 42, "exit code: {:?}", run42.stderr_lines());
    assert_eq!(
        run42.rest_of_stdout(),
        vec!["pid=2".to_string()],
        "pidone is PID 1"
    );
    let mut term = exit(&[
        "--",
        "/bin/sh",
        "-c",
        "trap 'echo got TERM; exit 7' TERM; echo ready; sleep 60 & wait",
    ]);
    term.expect_line("ready");
    term.signal(libc::SIGTERM);
    term.expect_line("got TERM");
    assert_eq!(term.wait(), 7, "stderr: {:?}", term.stderr_lines());
}
