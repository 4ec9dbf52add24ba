//! pidone's tree, for `--forward-to all`, `--wait-all` and the grace period's SIGKILL.
//!
//! "All" means pidone's own tree: its children, their descendants, and the orphans re-parented
//! to it. Never `kill(-1)`, not even as PID 1: that would also reach the processes `docker exec`
//! or `kubectl exec` start in the namespace, whose parent is outside it, and an operator's debug
//! shell would die with the app. pidone reads every `/proc/<pid>/stat`, walks parent links down
//! from itself, and signals each descendant through a pidfd after re-checking its parent, so a
//! pid recycled in between is never hit. For SIGKILL it walks again until a walk finds nobody
//! new, so a process forked while a walk ran is not missed; any other signal goes out in one
//! walk, because what a process forks after receiving it (a TERM handler's own commands) must
//! not receive it too.

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

/// Fails unless `/proc` shows pidone's own PID namespace: without /proc (an empty directory
/// must not look like a process without descendants) and with another namespace's /proc (its
/// pid numbers are not pidone's) callers fall back and say so.
fn check_proc(own_pid: i32) -> Result<(), String> {
    let stat = std::fs::read("/proc/self/stat").map_err(|_| "/proc is not mounted".to_string())?;
    let shown: Option<i32> = String::from_utf8_lossy(&stat)
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok());
    if shown == Some(own_pid) {
        Ok(())
    } else {
        Err("/proc belongs to another PID namespace".to_string())
    }
}

/// Every descendant of `root` (pidone itself), parents before children.
pub fn descendants(root: i32) -> Result<Vec<i32>, String> {
    check_proc(root)?;
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

/// Breadth-first walk of a parent → children map from `root` (excluded), each pid once: a racy
/// snapshot (a pid recycled between two reads) can hold a cycle, which must not loop forever.
pub fn walk(root: i32, children: &BTreeMap<i32, Vec<i32>>) -> Vec<i32> {
    let mut seen = BTreeSet::from([root]);
    let mut found = Vec::new();
    let (mut parent, mut next) = (Some(root), 0);
    while let Some(pid) = parent {
        for &child in children.get(&pid).into_iter().flatten() {
            if seen.insert(child) {
                found.push(child);
            }
        }
        parent = found.get(next).copied();
        next += 1;
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

/// How many walks [`signal_descendants`] makes at most for SIGKILL: each one after the first
/// looks only for processes forked while the previous one ran.
const MAX_KILL_WALKS: usize = 4;

/// Sends `sig` to every descendant of `root` except `skip` (the main child, which the caller
/// signals by pid: an unreaped child's pid cannot be recycled). Each one is signalled through a
/// pidfd after re-checking that its parent is in the tree, so a pid recycled in between is never
/// hit; without pidfds, by pid after the same check. SIGKILL walks again (see the module docs);
/// each process is signalled once, however many walks see it.
pub fn signal_descendants(root: i32, sig: i32, skip: Option<i32>) -> Result<Signalled, String> {
    let mut done = Signalled::default();
    let mut seen: BTreeSet<i32> = skip.into_iter().collect();
    let walks = if sig == libc::SIGKILL {
        MAX_KILL_WALKS
    } else {
        1
    };
    for _ in 0..walks {
        let tree = descendants(root)?;
        let members: BTreeSet<i32> = tree.iter().copied().chain([root]).collect();
        let still_ours = |pid| parent_of(pid).is_some_and(|parent| members.contains(&parent));
        let new: Vec<i32> = tree.into_iter().filter(|pid| seen.insert(*pid)).collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
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
        // A cycle (pids recycled while /proc was read), back to the root too: each pid once.
        let cycle: BTreeMap<i32, Vec<i32>> =
            [(1, vec![2]), (2, vec![3, 4]), (3, vec![2, 1]), (4, vec![2])]
                .into_iter()
                .collect();
        assert_eq!(walk(1, &cycle), [2, 3, 4]);
    }
}
