//! pidone's own descriptors and working directory: what it lets go of once the child runs, and
//! the one write to stderr that never blocks.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

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

/// What became of a diagnostic line offered to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StderrWrite {
    /// Written (all of it, or what one `write` took).
    Written,
    /// Not written: stderr had no room (a pipe whose reader stalls).
    Full,
    /// Not written: stderr is closed, broken or failing; nobody will read it.
    Unusable,
}

/// Writes `bytes` to stderr only if that cannot block: a zero-timeout `poll` for room first,
/// then one `write`. pidone cannot make the file description non-blocking (the child shares
/// it), and a full stderr must never stop PID 1 from forwarding and reaping. A pipe with room
/// takes up to `PIPE_BUF` bytes at once, so callers keep lines that short.
pub fn write_stderr_if_room(bytes: &[u8]) -> StderrWrite {
    let stderr = std::io::stderr();
    let fd = stderr.as_fd();
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    let ready = loop {
        match poll(&mut fds, PollTimeout::ZERO) {
            Err(Errno::EINTR) => {}
            other => break other,
        }
    };
    let revents = fds
        .first()
        .and_then(PollFd::revents)
        .unwrap_or(PollFlags::empty());
    match ready {
        Ok(_) if revents.contains(PollFlags::POLLOUT) => {}
        // Closed (POLLNVAL), or the reader is gone (POLLERR): nobody will ever read it.
        Ok(n) if n > 0 => return StderrWrite::Unusable,
        // No room, or poll itself failed (RLIMIT_NOFILE 0): room cannot be seen, so no write.
        _ => return StderrWrite::Full,
    }
    loop {
        match nix::unistd::write(fd, bytes) {
            Ok(_) => return StderrWrite::Written,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return StderrWrite::Full,
            Err(_) => return StderrWrite::Unusable,
        }
    }
}
