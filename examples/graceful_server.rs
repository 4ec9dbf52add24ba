//! A graceful HTTP server: on SIGTERM or SIGINT it stops accepting, finishes the requests in
//! flight and exits 0 — but only if the signal reaches it, which is pidone's job as PID 1.
//!
//! ```text
//! graceful_server [--port P] [--work-ms W]
//! ```
//! Listens on `0.0.0.0:P` (default 8080) and prints `listening on <addr>`. Every request gets
//! `HTTP/1.1 200 OK` after W ms (default 300) of pretend work. Every signal is logged as
//! `received <NAME>`; SIGTERM and SIGINT then end it with
//! `shutting down after <NAME>, finished <n> in-flight`. SIGPIPE never kills it.

#[path = "common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{say, sig_name, warn};

/// Set once by the signal thread: the name of the signal that asked us to stop.
static STOP: Mutex<Option<String>> = Mutex::new(None);

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port: u16 = 8080;
    let mut work_ms: u64 = 300;
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--port", Some(p)) => port = u16::try_from(p).unwrap_or_else(|_| usage("bad port")),
            ("--work-ms", Some(w)) => work_ms = w,
            _ => usage(&format!("bad argument {arg:?}")),
        }
    }

    // Block the asynchronous signals in every thread (threads inherit the mask) and take them
    // synchronously in one thread. Faults (SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT), SIGCHLD and the
    // C library's reserved signals (it is multi-threaded) keep their defaults.
    let faults = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGSYS,
        libc::SIGABRT,
        libc::SIGCHLD,
    ];
    let sigs: Vec<i32> = common::catchable()
        .into_iter()
        .filter(|s| !faults.contains(s) && !common::reserved().contains(s))
        .collect();
    if let Err(e) = common::mask(libc::SIG_BLOCK, &sigs) {
        fail(&format!("sigprocmask: {e}"));
    }

    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        .unwrap_or_else(|e| fail(&format!("bind port {port}: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| fail(&format!("local_addr: {e}")));
    say(&format!("listening on {addr}"));

    let wake = SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
    std::thread::spawn(move || signal_loop(&sigs, wake));

    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if stop_reason().is_some() {
            break;
        }
        let Ok(stream) = conn else { continue };
        workers.retain(|w| !w.is_finished());
        let in_flight = Arc::clone(&in_flight);
        in_flight.fetch_add(1, Ordering::SeqCst);
        workers.push(std::thread::spawn(move || {
            serve(stream, work_ms);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    drop(listener);
    let pending = in_flight.load(Ordering::SeqCst);
    for worker in workers {
        let _ = worker.join();
    }
    let reason = stop_reason().unwrap_or_default();
    say(&format!(
        "shutting down after {reason}, finished {pending} in-flight"
    ));
}

/// Logs every signal; on SIGTERM/SIGINT records the reason and wakes the accept loop.
fn signal_loop(sigs: &[i32], wake: SocketAddr) {
    let set = common::sigset(sigs);
    loop {
        let Some(sig) = common::wait_signal(&set, None) else {
            continue;
        };
        let name = sig_name(sig);
        say(&format!("received {name}"));
        if sig == libc::SIGTERM || sig == libc::SIGINT {
            if let Ok(mut stop) = STOP.lock() {
                stop.get_or_insert(name);
            }
            // A connection to ourselves makes the blocking accept() return.
            let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        }
    }
}

/// The signal that asked us to stop, if any.
fn stop_reason() -> Option<String> {
    STOP.lock().ok().and_then(|s| s.clone())
}

/// Answers one HTTP request after `work_ms` of pretend work, then closes the connection.
fn serve(mut stream: TcpStream, work_ms: u64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    std::thread::sleep(Duration::from_millis(work_ms));
    let body = "hello from graceful_server\n";
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Reports a fatal error and exits 1.
fn fail(problem: &str) -> ! {
    warn("graceful_server", problem);
    std::process::exit(1);
}

/// Prints usage to stderr and exits 2.
fn usage(problem: &str) -> ! {
    warn(
        "graceful_server",
        &format!("{problem}\nusage: graceful_server [--port P] [--work-ms W]"),
    );
    std::process::exit(2);
}
