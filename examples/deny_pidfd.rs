//! Test helper: runs a command under a seccomp filter that makes `pidfd_open` fail with EPERM,
//! the way some container seccomp profiles (and kernels before 5.3, with ENOSYS) do.
//!
//! ```text
//! deny_pidfd CMD [ARGS...]
//! ```
//! Sets `no_new_privs`, installs the filter and execs CMD via the PATH; exits 127 if it cannot.
#![allow(unsafe_code)] // installing a seccomp filter is a raw prctl with a BPF program.

#[path = "common/mod.rs"]
mod common;

use std::os::unix::process::CommandExt;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        common::warn("deny_pidfd", "usage: deny_pidfd CMD [ARGS...]");
        std::process::exit(2);
    };
    if let Err(error) = deny_pidfd_open() {
        common::warn("deny_pidfd", &format!("cannot install the filter: {error}"));
        std::process::exit(127);
    }
    let error = std::process::Command::new(program).args(args).exec();
    common::warn("deny_pidfd", &format!("exec: {error}"));
    std::process::exit(127);
}

/// `pidfd_open` → EPERM, every other system call allowed. The syscall number is the same on
/// every architecture (new system calls share one table), so no arch check is needed here.
fn deny_pidfd_open() -> std::io::Result<()> {
    let nr = libc::SYS_pidfd_open as u32;
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    // SAFETY: BPF_STMT/BPF_JUMP only build plain structs.
    let mut filter = unsafe {
        [
            libc::BPF_STMT((libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, 0), // seccomp_data.nr
            libc::BPF_JUMP(
                (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                nr,
                0,
                1,
            ),
            libc::BPF_STMT((libc::BPF_RET | libc::BPF_K) as u16, eperm),
            libc::BPF_STMT(
                (libc::BPF_RET | libc::BPF_K) as u16,
                libc::SECCOMP_RET_ALLOW,
            ),
        ]
    };
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    nix::sys::prctl::set_no_new_privs()?;
    // SAFETY: `program` points to a valid filter that outlives the call (the kernel copies it).
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &program as *const libc::sock_fprog,
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
