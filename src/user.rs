//! `--user USER[:GROUP]`: resolving names and ids through the C library's user database.
//!
//! nix's `User`/`Group` lookups and `getgrouplist` call musl, which reads `/etc/passwd` and
//! `/etc/group` itself, so names work in the static binary and any image. Numeric ids always
//! work. runc's rules (documented in docs/design.md, "What the child gets"):
//! - USER is a name or uid; a uid missing from /etc/passwd runs with gid 0 and HOME=/, as runc
//!   does for `docker run --user 1000`.
//! - Without GROUP: primary gid from /etc/passwd, supplementary groups = the primary gid plus every
//!   group of /etc/group that lists the user (getgrouplist's rule).
//! - With GROUP: that gid, and it is the only supplementary group (su-exec's least-privilege rule).

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

use crate::parse::UserSpec;
use crate::sys::Credentials;

/// A resolved `--user`: the ids plus the home directory for `HOME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    /// Ids to switch to.
    pub credentials: Credentials,
    /// Home directory from /etc/passwd (`/` when unknown).
    pub home: String,
}

fn numeric(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Resolves `spec` with the system's user database.
pub fn resolve(spec: &UserSpec) -> Result<ResolvedUser, String> {
    let uid = numeric(&spec.user);
    let entry = match uid {
        Some(uid) => User::from_uid(Uid::from_raw(uid)),
        None => User::from_name(&spec.user),
    }
    .ok()
    .flatten();
    let (uid, primary_gid, home, name) = match (entry, uid) {
        (Some(user), _) => (user.uid, user.gid, user.dir, Some(user.name)),
        (None, Some(uid)) => (Uid::from_raw(uid), Gid::from_raw(0), "/".into(), None),
        (None, None) => {
            return Err(format!(
                "unknown user '{}': no such user in /etc/passwd",
                spec.user
            ));
        }
    };
    let credentials = match &spec.group {
        Some(wanted) => {
            let gid = match numeric(wanted) {
                Some(gid) => Gid::from_raw(gid),
                None => Group::from_name(wanted)
                    .ok()
                    .flatten()
                    .map(|group| group.gid)
                    .ok_or_else(|| {
                        format!("unknown group '{wanted}': no such group in /etc/group")
                    })?,
            };
            Credentials {
                uid,
                gid,
                groups: vec![gid],
            }
        }
        None => {
            let member_of = name
                .and_then(|name| CString::new(name).ok())
                .and_then(|name| getgrouplist(&name, primary_gid).ok());
            let mut groups = vec![primary_gid];
            for gid in member_of.unwrap_or_default() {
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
            Credentials {
                uid,
                gid: primary_gid,
                groups,
            }
        }
    };
    let home = home.to_string_lossy().into_owned();
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    Ok(ResolvedUser { credentials, home })
}
