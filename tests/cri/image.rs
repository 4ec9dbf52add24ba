//! The node's images, made here and imported with `ctr images import` into the CRI's
//! namespace (`k8s.io`); nothing is pulled.
//!
//! - [`PAUSE`]: the release image, written by `scripts/image-tar.py` (what `scripts/release`
//!   ships) from the pidone under test: `FROM scratch`, `/pidone`, `Entrypoint ["/pidone"]`,
//!   `Cmd ["-P"]`. It is containerd's `sandbox_image`, so every pod's sandbox (pause) process
//!   is pidone in pause mode.
//! - [`APP`] and [`STOPSIGNAL`]: one `FROM scratch` layer with pidone at `/pidone` (and `/init`,
//!   `/sbin/docker-init`), the example programs at `/app/<name>`, static busybox at
//!   `/bin/busybox` and `/bin/sh`; no entrypoint. [`STOPSIGNAL`] is the same layer with
//!   `STOPSIGNAL SIGQUIT` in its config. Both come in one docker-save archive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::run;
use crate::node::Node;

/// The release image as the sandbox image (containerd's `sandbox_image`).
pub const PAUSE: &str = "docker.io/library/pidone-cri-pause:test";
/// The app image: pidone, the examples, busybox.
pub const APP: &str = "docker.io/library/pidone-cri-app:test";
/// The app image with `STOPSIGNAL SIGQUIT`.
pub const STOPSIGNAL: &str = "docker.io/library/pidone-cri-stopsignal:test";

/// The `ctr` command for the node's containerd, in the CRI's namespace.
pub fn ctr(node_socket: &Path) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(node_socket)
        .args(["--namespace", "k8s.io"]);
    cmd
}

/// Writes and imports every image; `files` are the app image's (host path, path in the image).
pub fn import_all(node: &Node, files: &[(PathBuf, String)]) -> Result<(), String> {
    let work = node.dir.join("images");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    // The release image, by the release's own writer.
    let pause_tar = work.join("pause.tar");
    let (repo_tag, _) = short_name(PAUSE);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image-tar.py");
    let out = std::fs::File::create(&pause_tar).map_err(|e| e.to_string())?;
    let status = Command::new("python3")
        .arg(&script)
        .arg(&node.bin)
        .arg(repo_tag)
        .env("SOURCE_DATE_EPOCH", "0")
        .stdout(out)
        .status()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()));
    }
    import(node, &pause_tar)?;

    // The app images: one layer, two configs.
    let mut files = files.to_vec();
    files.push((node.bin.clone(), "pidone".to_string()));
    let layer = write_layer(&work, &files)?;
    let diff_id = sha256_of(&layer)?;
    let config = |extra: &str| {
        format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin"]{extra}}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#
        )
    };
    write(&work.join("app.json"), &config(""))?;
    write(
        &work.join("stopsignal.json"),
        &config(r#","StopSignal":"SIGQUIT""#),
    )?;
    let entry = |config: &str, image: &str| {
        format!(
            r#"{{"Config":"{config}","RepoTags":["{}"],"Layers":["layer.tar"]}}"#,
            short_name(image).0
        )
    };
    write(
        &work.join("manifest.json"),
        &format!(
            "[{},{}]",
            entry("app.json", APP),
            entry("stopsignal.json", STOPSIGNAL)
        ),
    )?;
    let archive = work.join("app.tar");
    let tarred = run(
        Command::new("tar")
            .arg("-C")
            .arg(&work)
            .arg("-cf")
            .arg(&archive)
            .args(["manifest.json", "app.json", "stopsignal.json", "layer.tar"]),
        Duration::from_secs(60),
    );
    if !tarred.ok() {
        return Err(format!("tar of the app images: {tarred:?}"));
    }
    import(node, &archive)
}

/// `repo:tag` of a `docker.io/library/repo:tag` reference (what docker-save archives and
/// image-tar.py take), and the repository alone.
fn short_name(image: &str) -> (&str, &str) {
    let short = image.trim_start_matches("docker.io/library/");
    (short, short.split(':').next().unwrap_or(short))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Stages `files` under `work/rootfs` and tars them (root-owned, sorted) into `work/layer.tar`.
fn write_layer(work: &Path, files: &[(PathBuf, String)]) -> Result<PathBuf, String> {
    let rootfs = work.join("rootfs");
    let _ = std::fs::remove_dir_all(&rootfs);
    for (from, to) in files {
        let dest = rootfs.join(to.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(from, &dest).map_err(|e| format!("copy {}: {e}", from.display()))?;
    }
    // An empty /tmp, as most images have.
    std::fs::create_dir_all(rootfs.join("tmp")).map_err(|e| e.to_string())?;
    let layer = work.join("layer.tar");
    let tarred = run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner"])
            .arg("-cf")
            .arg(&layer)
            .arg("."),
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_dir_all(&rootfs);
    if tarred.ok() {
        Ok(layer)
    } else {
        Err(format!("tar of the image layer: {tarred:?}"))
    }
}

/// The SHA-256 of a file (coreutils' `sha256sum`), in hex.
pub fn sha256_of(path: &Path) -> Result<String, String> {
    let out = run(Command::new("sha256sum").arg(path), Duration::from_secs(30));
    if !out.ok() {
        return Err(format!("sha256sum {}: {out:?}", path.display()));
    }
    Ok(out
        .stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// `ctr images import` of an archive into the CRI's namespace.
fn import(node: &Node, archive: &Path) -> Result<(), String> {
    let out = run(
        ctr(&node.socket).args(["images", "import"]).arg(archive),
        Duration::from_secs(120),
    );
    if out.ok() {
        Ok(())
    } else {
        Err(format!(
            "ctr images import {}: {}",
            archive.display(),
            out.both().trim()
        ))
    }
}
