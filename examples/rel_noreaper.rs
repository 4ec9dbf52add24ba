//! Reliability helper: runs a command where `prctl(PR_SET_CHILD_SUBREAPER)` fails with EPERM, to
//! show what pidone does when it cannot become a subreaper. That prctl needs no privilege, so the
//! only way to deny it is a seccomp filter, which this program installs (x86_64 only).
//!
//! ```text
//! rel_noreaper CMD [ARGS...]
//! ```
//! Sets `no_new_privs`, installs the filter and execs CMD (via the PATH); on failure it reports
//! on stderr and exits 127.
#![allow(unsafe_code)] // prctl(PR_SET_SECCOMP) with a BPF program has no safe wrapper.

#[path = "common/mod.rs"]
mod common;

use std::os::unix::process::CommandExt;

use common::warn;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const PR_SET_CHILD_SUBREAPER: u32 = 36;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        warn("rel_noreaper", "usage: rel_noreaper CMD [ARGS...]");
        std::process::exit(127);
    };
    // seccomp_data: nr at 0, arch at 4, args[0] (low half on little-endian) at 16.
    let mut filter = [
        op(BPF_LD_W_ABS, 0, 0, 4),
        op(BPF_JEQ_K, 0, 4, AUDIT_ARCH_X86_64),
        op(BPF_LD_W_ABS, 0, 0, 0),
        op(BPF_JEQ_K, 0, 2, libc::SYS_prctl as u32),
        op(BPF_LD_W_ABS, 0, 0, 16),
        op(BPF_JEQ_K, 1, 0, PR_SET_CHILD_SUBREAPER),
        op(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        op(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::EPERM as u32),
    ];
    let program_bpf = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: plain integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    // SAFETY: `program_bpf` points to `filter`, both alive across the call; the kernel copies them.
    let rc = rc
        | unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &raw const program_bpf,
            )
        };
    if rc != 0 {
        warn(
            "rel_noreaper",
            &format!("seccomp: {}", std::io::Error::last_os_error()),
        );
        std::process::exit(127);
    }
    let error = std::process::Command::new(program).args(rest).exec();
    warn("rel_noreaper", &format!("exec {program}: {error}"));
    std::process::exit(127);
}
