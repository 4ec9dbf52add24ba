//! Embeds the git commit in the version line (`tini version X_pidone - git.H`) when built from a
//! git checkout of pidone; other builds print the version without it.
//!
//! Only the crate's own checkout counts: a packaged crate (`cargo package`, `cargo install
//! pidone`) has no `.git`, and it may be unpacked inside some other repository (`cargo package`
//! itself unpacks it under this repository's `target/`), whose commit says nothing about it.
use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let git = Path::new(&dir).join(".git");
    let hash = if git.exists() {
        // A linked worktree's .git is a file naming where its HEAD lives.
        if git.is_dir() {
            println!("cargo:rerun-if-changed=.git/HEAD");
            println!("cargo:rerun-if-changed=.git/refs/heads");
        } else {
            println!("cargo:rerun-if-changed=.git");
        }
        Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["rev-parse", "--short=7", "HEAD"])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    } else {
        // Without this line Cargo would rerun the script on every build.
        println!("cargo:rerun-if-changed=build.rs");
        String::new()
    };
    println!("cargo:rustc-env=PIDONE_GIT_HASH={hash}");
}
