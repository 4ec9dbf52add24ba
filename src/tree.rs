//! pidone's descendants, for `--forward-to all` and `--wait-all` when pidone is not PID 1.
//!
//! As PID 1 of a namespace, `kill(-1, sig)` reaches every other process of the namespace, all of
//! them pidone's descendants. Outside that, pidone must find its own tree and never signal a
//! process outside it: it reads every `/proc/<pid>/stat` once, walks parent links down from
//! itself, and signals each descendant through a pidfd after re-checking its parent, so a pid
//! recycled in between is never hit.

use std::collections::{BTreeMap, BTreeSet};

use crate::sys::{self, Errno};

/// The parent pid from the contents of `/proc/<pid>/stat` (field 4, after the `(comm)` field,
/// which may itself contain spaces and parentheses).
pub fn parent_from_stat(stat: &str) -> Option<i32> {
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parent_from_stat(&String::from_utf8_lossy(&stat))
}

/// Every descendant of `root`, parents before children.
///
/// Fails when /proc is not mounted: an empty /proc directory must not look like a
/// process without descendants (callers then fall back and say so).
pub fn descendants(root: i32) -> Result<Vec<i32>, String> {
    if parent_of(root).is_none() {
        return Err(format!("/proc/{root} not found (is /proc mounted?)"));
    }
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let pids = entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok());
    for pid in pids {
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
    }
    Ok(walk(root, &children))
}

/// Breadth-first walk of a parent → children map from `root` (excluded).
pub fn walk(root: i32, children: &BTreeMap<i32, Vec<i32>>) -> Vec<i32> {
    let mut found = Vec::new();
    let mut next = 0;
    found.extend(children.get(&root).into_iter().flatten().copied());
    while let Some(&pid) = found.get(next) {
        next += 1;
        found.extend(
            children
                .get(&pid)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&c| c != root),
        );
        if found.len() > 1 << 22 {
            break; // a cycle in a racy snapshot cannot make this loop forever
        }
    }
    found
}

/// What [`signal_descendants`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signalled {
    /// How many descendants were signalled.
    pub count: usize,
    /// Set when pidfds are unavailable (kernel before 5.3, or a seccomp profile refusing
    /// `pidfd_open`): the descendants were then signalled by pid after re-checking their parent.
    pub without_pidfd: Option<Errno>,
}

/// Sends `sig` to every descendant of `root` except `skip` (the main child, which the caller
/// signals by pid: an unreaped child's pid cannot be recycled). Each one is signalled through a
/// pidfd after re-checking that its parent is in the tree, so a pid recycled in between is never
/// hit; without pidfds, by pid after the same check.
pub fn signal_descendants(root: i32, sig: i32, skip: Option<i32>) -> Result<Signalled, String> {
    let tree = descendants(root)?;
    let members: BTreeSet<i32> = tree.iter().copied().chain([root]).collect();
    let still_ours = |pid| parent_of(pid).is_some_and(|parent| members.contains(&parent));
    let mut done = Signalled::default();
    for pid in tree.into_iter().filter(|&pid| Some(pid) != skip) {
        let sent = match sys::pidfd_open(pid) {
            // The pidfd pins the process; if its parent is still in our tree it is ours.
            Ok(pidfd) => still_ours(pid) && sys::pidfd_send_signal(&pidfd, sig).is_ok(),
            Err(Errno::ESRCH) => false, // already gone
            Err(error) => {
                done.without_pidfd = Some(error);
                still_ours(pid) && sys::kill(pid, sig).is_ok()
            }
        };
        done.count += usize::from(sent);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_survives_odd_command_names() {
        assert_eq!(parent_from_stat("42 (a) b) (c) S 7 42 42 0"), Some(7));
        assert_eq!(parent_from_stat("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parent_from_stat("garbage"), None);
        assert_eq!(parent_from_stat("1 (x)"), None);
    }

    #[test]
    fn walk_finds_the_whole_tree_only() {
        let map: BTreeMap<i32, Vec<i32>> =
            [(1, vec![2, 3]), (2, vec![4]), (4, vec![5]), (9, vec![10])]
                .into_iter()
                .collect();
        let mut tree = walk(1, &map);
        tree.sort();
        assert_eq!(tree, [2, 3, 4, 5]);
        assert!(walk(9, &map) == [10]);
        assert!(walk(3, &map).is_empty());
    }
}
