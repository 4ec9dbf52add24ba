//! pidone's descendants, for `--forward-to all` and `--wait-all` when pidone is not PID 1.
//!
//! As PID 1 of a namespace, `kill(-1, sig)` reaches every other process of the namespace, all of
//! them pidone's descendants. Outside that, pidone must find its own tree and never signal a
//! process outside it: it reads every `/proc/<pid>/stat` once, walks parent links down from
//! itself, and signals each descendant through a pidfd after re-checking its parent, so a pid
//! recycled in between is never hit.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::sys;

/// The parent pid from the contents of `/proc/<pid>/stat` (field 4, after the `(comm)` field,
/// which may itself contain spaces and parentheses).
pub fn parent_from_stat(stat: &str) -> Option<i32> {
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

fn stat_path(pid: i32) -> Option<CString> {
    CString::new(format!("/proc/{pid}/stat")).ok()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = sys::read_file(&stat_path(pid)?).ok()?;
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
    let pids = sys::numeric_entries(c"/proc").map_err(|e| format!("/proc: {e}"))?;
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

/// Sends `sig` to every descendant of `root`; returns how many were signalled.
pub fn signal_descendants(root: i32, sig: i32) -> Result<usize, String> {
    let tree = descendants(root)?;
    let members: BTreeSet<i32> = tree.iter().copied().chain([root]).collect();
    let mut sent = 0;
    for pid in tree {
        let Ok(pidfd) = sys::pidfd_open(pid) else {
            continue; // already gone
        };
        // The pidfd pins the process; if its parent is still in our tree it is ours.
        if parent_of(pid).is_some_and(|parent| members.contains(&parent))
            && sys::pidfd_send_signal(&pidfd, sig).is_ok()
        {
            sent += 1;
        }
    }
    Ok(sent)
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
