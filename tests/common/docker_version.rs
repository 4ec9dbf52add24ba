//! moby's `parseInitVersion` (daemon/info_unix.go), shared by the tests that check pidone's
//! `--version` line the way `docker info` does: split on ` - `, `tini version X`, then an
//! optional `git.H`. `None` where Docker reports "unknown output format".

/// (version, commit) as Docker reads them from `<init> --version`.
pub fn parse_init_version(output: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = output.split(" - ").collect();
    let mut commit = String::new();
    if let Some(second) = parts.get(1) {
        let git: Vec<&str> = second.trim().split('.').collect();
        if let [first, hash] = git[..]
            && first == "git"
        {
            commit = hash.to_string();
        }
    }
    let version = parts
        .first()
        .and_then(|p| p.trim().strip_prefix("tini version "))
        .unwrap_or_default()
        .to_string();
    (!version.is_empty() || !commit.is_empty()).then_some((version, commit))
}
