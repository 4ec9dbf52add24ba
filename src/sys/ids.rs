//! The child's user and group ids for `--user`: switched completely, then checked.

use nix::errno::Errno;
use nix::unistd::{Gid, Uid, getresgid, getresuid, setgroups, setresgid, setresuid};

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
    /// `setresgid`.
    Gid,
    /// `setresuid`.
    Uid,
    /// The switch left a way back to the old ids.
    PartialDrop,
}

/// Switches real, effective and saved ids and the supplementary groups to `credentials`, then
/// verifies that all three ids changed and, for a non-root target, that root cannot be regained.
/// Makes only system calls (async-signal-safe): it runs in the child between fork and exec.
pub fn switch_to(credentials: &Credentials) -> Result<(), (IdStep, Errno)> {
    let (uid, gid) = (credentials.uid, credentials.gid);
    setgroups(&credentials.groups).map_err(|e| (IdStep::Groups, e))?;
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
