//! Measures the two candidate designs for pidone's signal loop on the same workload, so the
//! choice is a measurement rather than an assumption:
//!
//! - `signalfd`: block the signals, one blocking `read(2)` on a signalfd drains every pending
//!   signal (what pidone does);
//! - `pipe`: signal-hook's self-pipe (`low_level::pipe::register`): a handler runs for each
//!   delivery and writes a byte; the loop reads the pipe.
//!
//! ```text
//! loop_design signalfd|pipe ROUNDS
//! ```
//! A forked sender sends SIGUSR1 to this process ROUNDS times, waiting for each to be forwarded
//! (to a sink child, by `kill`) before the next, so nothing coalesces; the process then prints
//! its own CPU time per forwarded signal. Run it under `strace -c -f` to count the syscalls per
//! signal of each design.
//!
//! Measured 2026-11-30 on the project's 2-core VM (`taskset -c 1 loop_design D 20000`, three runs
//! each; `strace -c` over 2000 signals): signalfd 1.99-2.36 µs CPU per forwarded signal, 2
//! syscalls per signal (`read`, `kill`); self-pipe 3.98-5.51 µs, 4 syscalls per signal
//! (`sendto` in the handler, `rt_sigreturn`, `recvfrom`, `kill`) plus the signal frame, and
//! restarted reads when a signal lands mid-`recvfrom`. pidone therefore uses the signalfd.
#![allow(unsafe_code)] // fork, kill and sigprocmask on raw numbers, as in pidone itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

fn cpu_micros() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

fn block(sig: i32) {
    // SAFETY: the set is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let design = args.get(1).cloned().unwrap_or_default();
    let rounds: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    // The sink: a child that only receives the forwarded signals and acknowledges each one.
    let (mut ack_rx, ack_tx) = UnixStream::pair().unwrap();
    block(libc::SIGUSR2);
    // SAFETY: single-threaded here; the child only calls async-signal-safe functions.
    let sink = unsafe { libc::fork() };
    if sink == 0 {
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain signal-set calls on a local set, then sigwait/write in a loop.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            let mut sig = 0;
            loop {
                libc::sigwait(&set, &mut sig);
                libc::write(ack_tx.as_raw_fd(), b"a".as_ptr().cast(), 1);
            }
        }
    }
    // The sender: sends SIGUSR1 to us, waits for the sink's ack, repeats.
    let me = std::process::id() as i32;
    let mut forwarder = Forwarder::new(&design);
    // SAFETY: as above.
    let sender = unsafe { libc::fork() };
    if sender == 0 {
        let mut byte = [0u8; 1];
        for _ in 0..rounds {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(me, libc::SIGUSR1) };
            if ack_rx.read_exact(&mut byte).is_err() {
                break;
            }
        }
        // SAFETY: leaving the forked child without running destructors.
        unsafe { libc::_exit(0) };
    }
    let start = cpu_micros();
    let mut forwarded = 0;
    while forwarded < rounds {
        forwarded += forwarder.wait_and_forward(sink);
    }
    let per_signal = (cpu_micros() - start) / rounds as f64;
    println!(
        "{design}: {rounds} signals forwarded, {per_signal:.2} µs CPU per signal in the forwarder"
    );
    // SAFETY: kill/waitpid on our own children.
    unsafe {
        libc::kill(sink, libc::SIGKILL);
        libc::kill(sender, libc::SIGKILL);
        libc::waitpid(sink, std::ptr::null_mut(), 0);
        libc::waitpid(sender, std::ptr::null_mut(), 0);
    }
}

enum Forwarder {
    SignalFd(OwnedFd),
    Pipe(UnixStream),
}

impl Forwarder {
    fn new(design: &str) -> Forwarder {
        match design {
            "signalfd" => {
                block(libc::SIGUSR1);
                // SAFETY: the set is initialised before signalfd reads it.
                let fd = unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGUSR1);
                    libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
                };
                // SAFETY: a new descriptor owned by nobody else.
                Forwarder::SignalFd(unsafe { OwnedFd::from_raw_fd(fd) })
            }
            "pipe" => {
                let (read, write) = UnixStream::pair().unwrap();
                signal_hook::low_level::pipe::register(libc::SIGUSR1, write).unwrap();
                read.set_nonblocking(false).unwrap();
                Forwarder::Pipe(read)
            }
            _ => {
                eprintln!("usage: loop_design signalfd|pipe ROUNDS");
                std::process::exit(2);
            }
        }
    }

    /// Blocks for the next wake-up, forwards what arrived, returns how many signals.
    fn wait_and_forward(&mut self, sink: i32) -> usize {
        let count = match self {
            Forwarder::SignalFd(fd) => {
                let mut buf = [0u8; 32 * 128];
                // SAFETY: buf is writable for its length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                (n.max(0) as usize) / 128
            }
            Forwarder::Pipe(stream) => {
                let mut buf = [0u8; 32];
                stream.read(&mut buf).unwrap_or(0)
            }
        };
        for _ in 0..count {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(sink, libc::SIGUSR2) };
        }
        count
    }
}
