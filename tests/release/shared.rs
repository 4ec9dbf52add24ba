//! The release under test, shared by tests/release.rs and tests/registry.rs: `scripts/release`
//! runs once for both (the first test binary to need it builds it, the other finds it), since a
//! three-target release is the slowest step of the suite.
//!
//! The build is reused only when it is the same release: the same commit (scripts/release builds
//! HEAD), the same scripts/release file, the same `PIDONE_RELEASE_TARGETS` and the same Rust
//! toolchain. That key is written next to it after a successful build; anything else is built
//! afresh. A lock file keeps two test binaries run at once from building it twice.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::run;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// One release build may take this long (it compiles pidone per target and the man page).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// A finished `scripts/release` run.
pub struct Release {
    /// OUTDIR, holding the artifacts.
    pub out: PathBuf,
    /// The parent under which the script made its temporary build directory.
    pub workdir: PathBuf,
}

impl Release {
    /// The architectures it holds a binary for (`uname -m` names, from `pidone-VERSION-ARCH`),
    /// in the order of the release's target list.
    pub fn arches(&self) -> Vec<String> {
        let prefix = format!("pidone-{VERSION}-");
        let mut present: Vec<String> = std::fs::read_dir(&self.out)
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter_map(|n| n.strip_prefix(&prefix).map(str::to_string))
                    .filter(|a| !a.ends_with(".tar"))
                    .collect()
            })
            .unwrap_or_default();
        let order = expected_arches();
        present.sort_by_key(|a| order.iter().position(|o| o == a).unwrap_or(usize::MAX));
        present
    }

    /// The release's image tar.
    pub fn image_tar(&self) -> PathBuf {
        self.out.join(format!("pidone-{VERSION}-image.tar"))
    }
}

/// Where the release tests keep their files.
pub fn base() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-test")
}

/// True (and nothing printed) with `PIDONE_RELEASE_TESTS=1`; otherwise prints that `test` is
/// skipped and why.
pub fn enabled(test: &str) -> bool {
    let on = std::env::var("PIDONE_RELEASE_TESTS").is_ok_and(|v| v == "1");
    if !on {
        println!(
            "SKIPPED {test}: set PIDONE_RELEASE_TESTS=1 (scripts/test does) to build a release"
        );
    }
    on
}

/// Runs `scripts/release OUT` with its temporary build directory under `workdir`.
pub fn build(name: &str, out: &Path, workdir: &Path) -> Result<Release, String> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(workdir).map_err(|e| e.to_string())?;
    let result = run(
        Command::new(Path::new(REPO).join("scripts/release"))
            .arg(out)
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
        out: out.to_path_buf(),
        workdir: workdir.to_path_buf(),
    })
}

/// What the shared build depends on besides the tree of HEAD.
fn key() -> Result<String, String> {
    let output = |program: &str, args: &[&str]| {
        let out = run(
            Command::new(program).args(args).current_dir(REPO),
            Duration::from_secs(60),
        );
        if out.ok() {
            Ok(out.stdout)
        } else {
            Err(format!("{program} {args:?}: {out:?}"))
        }
    };
    let commit = output("git", &["rev-parse", "HEAD"])?;
    let script = output("sha256sum", &["scripts/release"])?;
    let rustc = output("rustc", &["-vV"])?;
    let cargo = output("cargo", &["-V"])?;
    let targets = std::env::var("PIDONE_RELEASE_TARGETS").unwrap_or_default();
    Ok(format!(
        "commit {commit}script {script}targets {targets}\n{rustc}{cargo}"
    ))
}

static SHARED: OnceLock<Result<Release, String>> = OnceLock::new();

/// The shared release: reused when its key matches, else built; `Err` says why there is none.
pub fn shared() -> Result<&'static Release, String> {
    SHARED
        .get_or_init(build_or_reuse)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_or_reuse() -> Result<Release, String> {
    let dir = base().join("shared");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(base().join("shared.lock")).map_err(|e| e.to_string())?;
    // Held until this function returns.
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking shared.lock: {e}"))?;
    let dirty = run(
        Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(REPO),
        Duration::from_secs(60),
    );
    if !dirty.stdout.trim().is_empty() {
        println!("note: uncommitted changes are not tested: scripts/release builds HEAD");
    }
    let key = key()?;
    let key_file = dir.join("key");
    let release = Release {
        out: dir.join("out"),
        workdir: dir.join("work"),
    };
    if std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) && release.out.is_dir() {
        println!(
            "reusing the release in {} (same commit, script, targets and toolchain)",
            release.out.display()
        );
        return Ok(release);
    }
    let _ = std::fs::remove_file(&key_file);
    let release = build("shared", &release.out, &release.workdir)?;
    std::fs::write(&key_file, key).map_err(|e| e.to_string())?;
    Ok(release)
}

/// The architectures a default release has (`uname -m` names), or those `PIDONE_RELEASE_TARGETS`
/// names.
pub fn expected_arches() -> Vec<String> {
    match std::env::var("PIDONE_RELEASE_TARGETS") {
        Ok(targets) if !targets.trim().is_empty() => targets
            .split_whitespace()
            .map(|t| t.split('-').next().unwrap_or_default().to_string())
            .collect(),
        _ => ["x86_64", "aarch64", "i686"].map(String::from).to_vec(),
    }
}

/// The image platform of an architecture (`uname -m` name), as scripts/release gives it.
pub fn platform(arch: &str) -> &'static str {
    match arch {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64/v8",
        "i686" => "linux/386",
        other => panic!("no image platform known for {other}"),
    }
}

/// What `file -b` says about a binary of an architecture (`uname -m` name).
pub fn file_machine(arch: &str) -> &'static str {
    match arch {
        "x86_64" => "x86-64",
        "aarch64" => "ARM aarch64",
        "i686" => "Intel 80386",
        other => panic!("unknown architecture {other}"),
    }
}

/// One image of the index in an image tar.
#[derive(Debug, Clone)]
pub struct TarImage {
    /// `os/arch[/variant]` as the index lists it.
    pub platform: String,
    /// The digest of its manifest (`sha256:...`).
    pub manifest: String,
    /// The digest of its config (`sha256:...`), which Docker and Podman use as the image ID.
    pub config: String,
    /// `os/arch[/variant]` as the config names it.
    pub config_platform: String,
    /// The config's `config` object (Entrypoint, Cmd), as compact JSON with sorted keys.
    pub run_config: String,
    /// The names of the files in its one layer, comma-separated.
    pub files: String,
    /// The SHA-256 of /pidone in its layer.
    pub pidone_sha256: String,
}

/// An image tar of scripts/image-tar.py, read with Python's tarfile and json.
#[derive(Debug)]
pub struct ImageTar {
    /// The digest of the image index that index.json names (what a registry serves for the tag).
    pub index: String,
    /// index.json's `org.opencontainers.image.ref.name` and `io.containerd.image.name`.
    pub ref_name: String,
    pub containerd_name: String,
    /// The index's images, in its order.
    pub images: Vec<TarImage>,
    /// docker-save manifest.json: (config digest, tags) per entry.
    pub docker_load: Vec<(String, String)>,
    /// Blobs whose SHA-256 is not their name.
    pub bad_blobs: Vec<String>,
}

impl ImageTar {
    /// The image for `platform`, if the index has it.
    pub fn image(&self, platform: &str) -> Option<&TarImage> {
        self.images.iter().find(|i| i.platform == platform)
    }
}

const READ_IMAGE_TAR: &str = r#"
import hashlib, io, json, sys, tarfile
tar = tarfile.open(sys.argv[1])
def blob(digest):
    return tar.extractfile("blobs/sha256/" + digest.split(":")[1]).read()
def platform(p):
    return "/".join(filter(None, [p["os"], p["architecture"], p.get("variant")]))
for member in tar.getmembers():
    if member.isfile() and member.name.startswith("blobs/sha256/"):
        data = tar.extractfile(member).read()
        if hashlib.sha256(data).hexdigest() != member.name.rsplit("/", 1)[1]:
            print("bad-blob", member.name)
(top,) = json.load(tar.extractfile("index.json"))["manifests"]
notes = top.get("annotations", {})
print("index", top["digest"], notes.get("org.opencontainers.image.ref.name", "-"),
      notes.get("io.containerd.image.name", "-"))
for entry in json.loads(blob(top["digest"]))["manifests"]:
    manifest = json.loads(blob(entry["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    (layer,) = manifest["layers"]
    inner = tarfile.open(fileobj=io.BytesIO(blob(layer["digest"])))
    pidone = hashlib.sha256(inner.extractfile("pidone").read()).hexdigest()
    print("image", platform(entry["platform"]), entry["digest"], manifest["config"]["digest"],
          platform(config), json.dumps(config["config"], sort_keys=True, separators=(",", ":")),
          ",".join(inner.getnames()), pidone)
for entry in json.load(tar.extractfile("manifest.json")):
    print("load", "sha256:" + entry["Config"].rsplit("/", 1)[1], ",".join(entry["RepoTags"]))
"#;

/// Reads an image tar; panics with Python's message if it is not one.
pub fn read_image_tar(tar: &Path) -> ImageTar {
    let out = run(
        Command::new("python3")
            .args(["-c", READ_IMAGE_TAR])
            .arg(tar),
        Duration::from_secs(60),
    );
    assert!(out.ok(), "reading {}: {out:?}", tar.display());
    let mut image_tar = ImageTar {
        index: String::new(),
        ref_name: String::new(),
        containerd_name: String::new(),
        images: Vec::new(),
        docker_load: Vec::new(),
        bad_blobs: Vec::new(),
    };
    for line in out.stdout.lines() {
        let words: Vec<String> = line.split(' ').map(str::to_string).collect();
        match (words[0].as_str(), words.len()) {
            ("bad-blob", 2) => image_tar.bad_blobs.push(words[1].clone()),
            ("index", 4) => {
                image_tar.index.clone_from(&words[1]);
                image_tar.ref_name.clone_from(&words[2]);
                image_tar.containerd_name.clone_from(&words[3]);
            }
            ("image", 8) => image_tar.images.push(TarImage {
                platform: words[1].clone(),
                manifest: words[2].clone(),
                config: words[3].clone(),
                config_platform: words[4].clone(),
                run_config: words[5].clone(),
                files: words[6].clone(),
                pidone_sha256: words[7].clone(),
            }),
            ("load", 3) => image_tar
                .docker_load
                .push((words[1].clone(), words[2].clone())),
            _ => panic!("unexpected line from the image tar reader: {line:?}"),
        }
    }
    image_tar
}

/// The SHA-256 of a file, in hex.
pub fn sha256_of(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), Duration::from_secs(60));
    assert!(out.ok(), "sha256sum {}: {out:?}", path.display());
    out.stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
