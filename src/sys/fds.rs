//! pidone's own descriptors and working directory: what it lets go of once the child runs.

use nix::errno::Errno;

/// Moves pidone's working directory to `/`, so it never pins a mount.
pub fn chdir_root() -> Result<(), Errno> {
    nix::unistd::chdir("/")
}

/// Closes every descriptor >= 3 except `keep` (pidone's signalfd): the child has its own copies,
/// and pidone must not pin files, sockets or pipes it does not use.
pub fn close_inherited_fds(keep: Option<i32>) {
    let keep = keep.and_then(|fd| u32::try_from(fd).ok());
    let closed = match keep {
        Some(keep) if keep >= 3 => {
            close_range(3, keep.saturating_sub(1)) && close_range(keep.saturating_add(1), u32::MAX)
        }
        _ => close_range(3, u32::MAX),
    };
    if closed {
        return;
    }
    // Kernels before 5.9: close what /proc lists, or a bounded sweep without /proc.
    let listed: Option<Vec<u32>> = std::fs::read_dir("/proc/self/fd").ok().map(|entries| {
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    });
    for fd in listed.unwrap_or_else(|| (3..4096).collect()) {
        if fd >= 3 && Some(fd) != keep {
            // libc, not nix: these are inherited numbers that nothing in pidone owns (nix's close
            // takes an owned descriptor); a number that is not open just gives EBADF.
            // SAFETY: closing a descriptor number touches no memory.
            unsafe { libc::close(fd as i32) };
        }
    }
}

/// `close_range(first, last)`; true on success (an empty range succeeds trivially).
fn close_range(first: u32, last: u32) -> bool {
    if first > last {
        return true;
    }
    // libc, not nix: close_range (nix has no wrapper).
    // SAFETY: close_range only closes descriptors in the range; it touches no memory.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) == 0 }
}
