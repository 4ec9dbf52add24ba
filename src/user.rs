//! `--user USER[:GROUP]`: resolving names through /etc/passwd and /etc/group.
//!
//! A static musl binary has no NSS, so the two files are read directly, as su-exec does. Numeric
//! ids always work. Rules (documented in the README):
//! - USER is a name or uid; a uid missing from /etc/passwd runs with gid 0 and HOME=/, as runc
//!   does for `docker run --user 1000`.
//! - Without GROUP: primary gid from /etc/passwd, supplementary groups = the primary gid plus every
//!   group of /etc/group that lists the user (getgrouplist's rule).
//! - With GROUP: that gid, and it is the only supplementary group (su-exec's least-privilege rule).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::parse::UserSpec;
use crate::sys::{self, Credentials};

/// A resolved `--user`: the ids plus the home directory for `HOME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    /// Ids to switch to.
    pub credentials: Credentials,
    /// Home directory from /etc/passwd (`/` when unknown).
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    text.lines().filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?.to_string();
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        let _gecos = fields.next()?;
        let home = fields.next()?.to_string();
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home,
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let gid = fields.next()?.parse().ok()?;
        let members = fields
            .next()
            .unwrap_or_default()
            .split(',')
            .filter(|m| !m.is_empty())
            .collect();
        Some(GroupEntry { name, gid, members })
    })
}

fn numeric(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Resolves `spec` against the system's /etc/passwd and /etc/group.
pub fn resolve(spec: &UserSpec) -> Result<ResolvedUser, String> {
    let read = |path| {
        sys::read_file(path)
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    let (passwd, group) = (read(c"/etc/passwd"), read(c"/etc/group"));
    resolve_with(spec, passwd.as_deref(), group.as_deref())
}

/// Resolves `spec` against the given file contents (`None`: the file could not be read).
pub fn resolve_with(
    spec: &UserSpec,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, String> {
    let entry = passwd.and_then(|text| {
        passwd_entries(text).find(|e| match numeric(&spec.user) {
            Some(uid) => e.uid == uid,
            None => e.name == spec.user,
        })
    });
    let (uid, primary_gid, home, name) = match (entry, numeric(&spec.user)) {
        (Some(e), _) => (e.uid, e.gid, e.home, Some(e.name)),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => {
            let why = if passwd.is_none() {
                "/etc/passwd cannot be read"
            } else {
                "no such user in /etc/passwd"
            };
            return Err(format!("unknown user '{}': {why}", spec.user));
        }
    };
    let credentials = match &spec.group {
        Some(wanted) => {
            let gid = match numeric(wanted) {
                Some(gid) => gid,
                None => group
                    .and_then(|text| {
                        group_entries(text)
                            .find(|g| g.name == wanted)
                            .map(|g| g.gid)
                    })
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
            let mut groups = vec![primary_gid];
            if let (Some(name), Some(text)) = (&name, group) {
                for entry in group_entries(text) {
                    if entry.members.contains(&name.as_str()) && !groups.contains(&entry.gid) {
                        groups.push(entry.gid);
                    }
                }
            }
            Credentials {
                uid,
                gid: primary_gid,
                groups,
            }
        }
    };
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    Ok(ResolvedUser { credentials, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\nbroken line\n";
    const GROUP: &str =
        "root:x:0:\napp:x:1000:\naudio:x:29:app,other\nvideo:x:44:other\nstaff:x:50:app\n";

    fn spec(user: &str, group: Option<&str>) -> UserSpec {
        UserSpec {
            user: user.into(),
            group: group.map(Into::into),
        }
    }

    #[test]
    fn name_gets_primary_and_member_groups_and_home() {
        let got = resolve_with(&spec("app", None), Some(PASSWD), Some(GROUP));
        let want = ResolvedUser {
            credentials: Credentials {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 29, 50],
            },
            home: "/home/app".into(),
        };
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn explicit_group_is_the_only_group() {
        let got = resolve_with(&spec("app", Some("video")), Some(PASSWD), Some(GROUP));
        assert_eq!(
            got.map(|r| r.credentials),
            Ok(Credentials {
                uid: 1000,
                gid: 44,
                groups: vec![44]
            })
        );
        let got = resolve_with(&spec("1000", Some("7")), Some(PASSWD), Some(GROUP));
        assert_eq!(
            got.map(|r| r.credentials),
            Ok(Credentials {
                uid: 1000,
                gid: 7,
                groups: vec![7]
            })
        );
    }

    #[test]
    fn unknown_numeric_uid_works_without_files() {
        let got = resolve_with(&spec("4242", None), None, None);
        let want = ResolvedUser {
            credentials: Credentials {
                uid: 4242,
                gid: 0,
                groups: vec![0],
            },
            home: "/".into(),
        };
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(resolve_with(&spec("nobody-here", None), Some(PASSWD), Some(GROUP)).is_err());
        assert!(resolve_with(&spec("app", Some("nogroup")), Some(PASSWD), Some(GROUP)).is_err());
        assert!(resolve_with(&spec("app", None), None, None).is_err());
    }
}
