//! The child's environment: pidone's own, byte for byte, with at most two changes.
//!
//! - `--user` sets `HOME` to the target user's home, as gosu and su-exec do: Docker and
//!   Kubernetes always set `HOME` (to root's), so keeping it would point the user at `/root`.
//! - `LISTEN_PID` (systemd socket activation) naming pidone is rewritten to the child's pid,
//!   which exists only after the fork: [`ChildEnvironment::for_child`] runs in the child.
//!
//! Every other entry passes untouched, in its order, duplicates and entries without `=` (or with
//! an empty name) included: the list is `main`'s raw `envp`, not `std::env`, which drops those.
//! When nothing changes, the child simply inherits pidone's environment.

use std::ffi::{CStr, CString};

/// An environment entry's name: the bytes before the first `=` (all of it when there is none).
fn name_of(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

/// The environment the child execs with, prepared before the fork.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildEnvironment {
    entries: Vec<CString>,
    /// The `LISTEN_PID` entry that names pidone (the first one: what `getenv` finds).
    listen_pid: Option<usize>,
}

impl ChildEnvironment {
    /// The child's environment from pidone's raw one, or `None` when it needs no change.
    /// `home` is the `--user` target's home directory.
    pub fn prepare(
        raw: &[&CStr],
        own_pid: i32,
        home: Option<&[u8]>,
    ) -> Result<Option<ChildEnvironment>, String> {
        let first_listen_pid = raw
            .iter()
            .map(|e| e.to_bytes())
            .find(|e| name_of(e) == b"LISTEN_PID");
        let rewrite = first_listen_pid.is_some_and(|e| {
            e.strip_prefix(b"LISTEN_PID=") == Some(own_pid.to_string().as_bytes())
        });
        if !rewrite && home.is_none() {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(raw.len() + 1);
        let mut listen_pid = None;
        for entry in raw {
            let bytes = entry.to_bytes();
            if home.is_some() && name_of(bytes) == b"HOME" {
                continue;
            }
            if rewrite && listen_pid.is_none() && name_of(bytes) == b"LISTEN_PID" {
                listen_pid = Some(entries.len());
            }
            entries.push((*entry).to_owned());
        }
        if let Some(home) = home {
            entries.push(c_string([b"HOME=", home].concat())?);
        }
        Ok(Some(ChildEnvironment {
            entries,
            listen_pid,
        }))
    }

    /// The entries for the child whose pid is `child_pid` (called in the child after the fork).
    pub fn for_child(&self, child_pid: i32) -> Vec<CString> {
        let mut entries = self.entries.clone();
        if let Some(slot) = self.listen_pid.and_then(|i| entries.get_mut(i))
            && let Ok(entry) = CString::new(format!("LISTEN_PID={child_pid}"))
        {
            *slot = entry;
        }
        entries
    }
}

/// An entry as a C string; entries come from C strings, so a NUL byte cannot really occur.
fn c_string(bytes: Vec<u8>) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an environment variable contains a NUL byte".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(entries: &[&str]) -> Vec<CString> {
        entries
            .iter()
            .filter_map(|e| CString::new(*e).ok())
            .collect()
    }

    fn prepare(
        entries: &[CString],
        own_pid: i32,
        home: Option<&[u8]>,
    ) -> Result<Option<ChildEnvironment>, String> {
        let borrowed: Vec<&CStr> = entries.iter().map(CString::as_c_str).collect();
        ChildEnvironment::prepare(&borrowed, own_pid, home)
    }

    fn strings(entries: &[CString]) -> Vec<String> {
        entries
            .iter()
            .map(|e| e.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn nothing_to_change_keeps_pidones_own() {
        let env = raw(&["A=1", "LISTEN_PID=99"]);
        assert_eq!(prepare(&env, 7, None), Ok(None));
    }

    #[test]
    fn odd_entries_pass_whole_under_user() {
        let env = raw(&[
            "NOEQUALS",
            "=leading",
            "HOME=/root",
            "A=1",
            "HOME=/again",
            "A=1",
        ]);
        let prepared = prepare(&env, 7, Some(b"/home/app"));
        let child = prepared.ok().flatten().map(|e| e.for_child(8));
        assert_eq!(
            child.as_deref().map(strings),
            Some(vec![
                "NOEQUALS".to_string(),
                "=leading".into(),
                "A=1".into(),
                "A=1".into(),
                "HOME=/home/app".into()
            ])
        );
    }

    #[test]
    fn listen_pid_naming_pidone_becomes_the_childs() {
        let env = raw(&["LISTEN_FDS=1", "LISTEN_PID=7", "X"]);
        let prepared = prepare(&env, 7, None).ok().flatten();
        let child = prepared.map(|e| strings(&e.for_child(12)));
        assert_eq!(
            child,
            Some(vec![
                "LISTEN_FDS=1".into(),
                "LISTEN_PID=12".into(),
                "X".into()
            ])
        );
        // Only the entry getenv would find counts: a later one naming pidone is left alone,
        // and so is a later one after the first named pidone.
        let env = raw(&["LISTEN_PID=3", "LISTEN_PID=7"]);
        assert_eq!(prepare(&env, 7, None), Ok(None));
        let env = raw(&["A=1", "LISTEN_PID=7", "LISTEN_PID=7"]);
        let child = prepare(&env, 7, None)
            .ok()
            .flatten()
            .map(|e| strings(&e.for_child(12)));
        assert_eq!(
            child,
            Some(vec![
                "A=1".into(),
                "LISTEN_PID=12".into(),
                "LISTEN_PID=7".into()
            ])
        );
    }
}
