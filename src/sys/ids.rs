//! The child's user and group ids for `--user`: switched completely, then checked.

use nix::errno::Errno;
use nix::unistd::{Gid, Uid, getgroups, getresgid, getresuid, setgroups, setresgid, setresuid};

/// The ids the child switches to before exec (`--user`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Target uid.
    pub uid: Uid,
    /// Target primary gid.
    pub gid: Gid,
    /// Supplementary groups.
    pub groups: Vec<Gid>,
}

/// Which part of the switch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdStep {
    /// `setgroups`.
    Groups,
    /// `setgroups` is denied in this user namespace and pidone holds groups not asked for.
    GroupsDenied,
    /// `setresgid`.
    Gid,
    /// `setresuid`.
    Uid,
    /// The switch left a way back to the old ids.
    PartialDrop,
}

/// Switches real, effective and saved ids and the supplementary groups to `credentials`, then
/// verifies that all three ids changed and, for a non-root target, that root cannot be regained.
/// It runs in the child between fork and exec (pidone is single-threaded, so reading
/// `/proc/self/setgroups` there is sound).
pub fn switch_to(credentials: &Credentials) -> Result<(), (IdStep, Errno)> {
    let (uid, gid) = (credentials.uid, credentials.gid);
    set_groups(&credentials.groups)?;
    setresgid(gid, gid, gid).map_err(|e| (IdStep::Gid, e))?;
    setresuid(uid, uid, uid).map_err(|e| (IdStep::Uid, e))?;
    let complete = match (getresuid(), getresgid()) {
        (Ok(u), Ok(g)) => {
            [u.real, u.effective, u.saved] == [uid; 3] && [g.real, g.effective, g.saved] == [gid; 3]
        }
        _ => false,
    };
    if !complete
        || (!uid.is_root()
            && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok())
    {
        return Err((IdStep::PartialDrop, Errno::EPERM));
    }
    Ok(())
}

/// `setgroups(groups)`. In a user namespace whose `/proc/self/setgroups` says `deny` (an
/// unprivileged `unshare --user`, rootless engines) the call always fails with EPERM; as runc
/// does, the groups are then left as they are, but only when that drops nothing: every group
/// pidone holds is one `--user` asked for. Otherwise the switch fails and says why.
fn set_groups(groups: &[Gid]) -> Result<(), (IdStep, Errno)> {
    match setgroups(groups) {
        Err(Errno::EPERM) if setgroups_denied() => {
            let held = getgroups().map_err(|e| (IdStep::Groups, e))?;
            if held.iter().all(|gid| groups.contains(gid)) {
                Ok(())
            } else {
                Err((IdStep::GroupsDenied, Errno::EPERM))
            }
        }
        result => result.map_err(|e| (IdStep::Groups, e)),
    }
}

/// Whether this user namespace forbids `setgroups` (`/proc/self/setgroups` reads `deny`).
fn setgroups_denied() -> bool {
    std::fs::read("/proc/self/setgroups").is_ok_and(|text| text.trim_ascii() == b"deny")
}
