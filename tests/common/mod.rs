//! Shared harness for the integration tests: runs the real pidone binary as PID 1 of a new PID
//! namespace (`unshare --pid --fork --mount-proc`, needs root) or directly (subreaper mode),
//! reads the child's output line by line with timeouts, signals pidone by its host pid, and
//! inspects /proc from outside. Every wait is bounded; `Drop` kills whatever is left.
#![allow(unsafe_code)] // tests signal processes by raw number (libc::kill), as pidone does.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// Default bound for any wait in the tests: long enough for a loaded CI machine, short enough
/// that a hang fails instead of stalling the suite.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The pidone binary under test: `PIDONE_TEST_BIN` if set (e.g. another architecture's build,
/// see [`emulator`]), else this build's.
pub fn pidone() -> PathBuf {
    std::env::var_os("PIDONE_TEST_BIN")
        .filter(|path| !path.is_empty())
        .map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_pidone")),
            PathBuf::from,
        )
}

/// The user-mode emulator that runs [`pidone`] (`PIDONE_TEST_EMULATOR`, e.g.
/// `qemu-aarch64-static`), None when pidone runs natively. Where binfmt_misc cannot be registered
/// the harness starts `EMULATOR -0 ARGV0 PIDONE ARGS...` itself with execve (a shell in between
/// would add `PWD` to the environment); `-0` keeps argv[0], which selects the persona. Only pidone
/// is emulated: its children (the examples, sh) are native programs, and exec leaves the emulator.
pub fn emulator() -> Option<OsString> {
    std::env::var_os("PIDONE_TEST_EMULATOR").filter(|e| !e.is_empty())
}

/// The words that start the pidone binary (or a persona link to it) at `path` with argv[0] =
/// `path`: just `path`, or the emulator's command line under emulation.
pub fn pidone_words(path: &Path) -> Vec<OsString> {
    match emulator() {
        Some(emulator) => vec![
            emulator,
            OsString::from("-0"),
            path.as_os_str().to_owned(),
            path.as_os_str().to_owned(),
        ],
        None => vec![path.as_os_str().to_owned()],
    }
}

/// The full path of `program` as found in `PATH` (itself if it has a slash or is not found).
pub fn which(program: &OsStr) -> PathBuf {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.to_path_buf();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| path.to_path_buf())
}

/// Whether `program` is the pidone under test, directly or through a persona link.
fn is_pidone(program: &OsStr) -> bool {
    let target = pidone();
    Path::new(program) == target
        || std::fs::canonicalize(program)
            .is_ok_and(|p| std::fs::canonicalize(&target).is_ok_and(|t| p == t))
}

/// Under emulation, prints why the calling test (or the part of it named by `what`) cannot run
/// there and returns true; the caller then skips exactly that. Natively returns false.
pub fn skip_under_emulation(what: &str, reason: &str) -> bool {
    let Some(emulator) = emulator() else {
        return false;
    };
    // Written to the real stderr, past the test harness's capture, so that a passing run shows
    // every skip too.
    let line = format!(
        "SKIPPED under {}: {what}: {reason}\n",
        emulator.to_string_lossy()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    true
}

/// Why subreaper mode cannot be tested under qemu-user.
pub const QEMU_SUBREAPER: &str = "qemu-user 7.2 answers EINVAL to prctl(PR_SET_CHILD_SUBREAPER) \
    (pidone logs 'cannot register as child subreaper (Invalid argument)'), so orphans go to the \
    real init instead of pidone";

/// A compiled example (test workload) next to this build's binary. Examples are always native,
/// also when [`pidone`] is another architecture's build.
pub fn example(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_pidone"))
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "example {name} not built at {}: run the README's test command",
        path.display()
    );
    path
}

/// A symlink to pidone named `name` (selects the persona), in a per-process temp dir.
pub fn persona_link(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pidone-personas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(pidone(), &link);
    }
    link
}

/// How to start pidone.
pub enum Mode {
    /// PID 1 of a new PID namespace (with a fresh /proc).
    Pid1,
    /// A plain child of the test (subreaper mode).
    Direct,
}

/// A running pidone with its output streams.
pub struct Run {
    /// The process the test started (`unshare`, or pidone itself in `Direct` mode).
    pub process: Child,
    /// pidone's pid as seen from the test (host) namespace.
    pub host_pid: i32,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Lines already read from stdout.
    pub seen: Vec<String>,
    exit: Option<i32>,
    /// The write end of the child's stdin; dropping it sends EOF.
    pub stdin: Option<std::process::ChildStdin>,
}

/// Starts `launcher... pidone args...` in `mode`; `prefix` runs before pidone (e.g. with_mask).
pub fn start_with(
    mode: Mode,
    prefix: &[&OsStr],
    program: &OsStr,
    args: &[&OsStr],
    env: &[(&str, &str)],
) -> Run {
    start_with_stdin(mode, prefix, program, args, env, Stdio::null())
}

/// [`start_with`] with the child's stdin given: `Stdio::piped()` keeps it open (the test holds
/// the write end in [`Run::stdin`]) for children that run until stdin reaches EOF.
pub fn start_with_stdin(
    mode: Mode,
    prefix: &[&OsStr],
    program: &OsStr,
    args: &[&OsStr],
    env: &[(&str, &str)],
    stdin: Stdio,
) -> Run {
    // pidone itself (or a persona link) goes through the emulator, if any; other programs do not.
    let program: Vec<OsString> = if is_pidone(program) {
        pidone_words(Path::new(program))
    } else {
        vec![program.to_owned()]
    };
    let mut command = match mode {
        Mode::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]);
            c.args(prefix);
            c.args(&program);
            c
        }
        Mode::Direct => {
            let mut parts = prefix
                .iter()
                .copied()
                .chain(program.iter().map(|p| p.as_os_str()));
            let mut c = Command::new(parts.next().unwrap());
            c.args(parts);
            c
        }
    };
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let process = command
        .spawn()
        .expect("cannot start pidone (is unshare installed? are we root?)");
    adopt_piped(process, matches!(mode, Mode::Direct))
}

/// Starts pidone with `args` in `mode`.
pub fn start(mode: Mode, args: &[&str]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    start_with(mode, &[], pidone().as_os_str(), &args, &[])
}

/// Starts pidone as PID 1 with `args`.
pub fn pid1(args: &[&str]) -> Run {
    start(Mode::Pid1, args)
}

fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first child of `parent` (unshare's forked child is pidone), waiting for it to appear;
/// -1 if the launcher exited first (pidone already gone: nothing to signal).
fn find_child_of(parent: &mut Child) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    let id = parent.id();
    let path = format!("/proc/{id}/task/{id}/children");
    loop {
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        {
            return pid;
        }
        let state = std::fs::read_to_string(format!("/proc/{id}/stat")).unwrap_or_default();
        let exited = state
            .rfind(')')
            .and_then(|i| state[i + 1..].split_whitespace().next())
            .is_none_or(|s| s == "Z");
        if exited {
            return -1;
        }
        assert!(Instant::now() < deadline, "the launcher never forked");
        thread::sleep(Duration::from_millis(1));
    }
}

/// The number of `read(2)` that `/proc/PID/syscall` shows for the pidone under test: the
/// kernel shows the number of the process's own ABI, so an i686 pidone on an x86_64 kernel reads
/// with the i386 number 3. An emulated pidone is the emulator, a process of this machine's ABI.
fn read_syscall_number() -> libc::c_long {
    const EM_386: u16 = 3;
    let mut header = [0u8; 20];
    let is_i386 = std::fs::File::open(pidone())
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && header.starts_with(b"\x7fELF")
        && u16::from_le_bytes([header[18], header[19]]) == EM_386;
    if is_i386 && emulator().is_none() && cfg!(target_arch = "x86_64") {
        3
    } else {
        libc::SYS_read
    }
}

/// pidone's signalfd: the descriptor of `pid` whose `/proc/PID/fdinfo` has a `sigmask:` line
/// (its number depends on what the test runner leaves open, so it is looked up, not assumed).
pub fn signalfd_of(pid: i32) -> Option<i32> {
    std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find(|fd| {
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
                .is_ok_and(|info| info.lines().any(|l| l.starts_with("sigmask:")))
        })
}

/// Waits until pidone sits in `read(2)` on its signalfd, i.e. has finished start-up.
pub fn wait_until_idle(pid: i32) {
    let number = read_syscall_number();
    let idle = eventually(TIMEOUT, || {
        signalfd_of(pid).is_some_and(|fd| {
            let want = format!("{number} {fd:#x} ");
            std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .is_ok_and(|s| s.starts_with(&want))
        })
    });
    assert!(idle, "pidone never blocked in read on its signalfd");
}

impl Run {
    /// Waits for a stdout line containing `needle`; returns it.
    pub fn expect_line(&mut self, needle: &str) -> String {
        self.expect_line_within(needle, TIMEOUT)
    }

    /// Waits up to `timeout` for a stdout line containing `needle`.
    pub fn expect_line_within(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no line with {needle:?} within {timeout:?}; seen {:?}",
                    self.seen
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "stdout closed before a line with {needle:?}; seen {:?}; stderr {:?}",
                        self.seen,
                        self.stderr_lines()
                    )
                }
            }
        }
    }

    /// Waits for the next stdout line.
    pub fn next_line(&mut self) -> String {
        match self.stdout.recv_timeout(TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(e) => panic!("no next line ({e:?}); seen {:?}", self.seen),
        }
    }

    /// Sends `sig` to pidone (by its host pid).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill takes plain integers.
        let rc = unsafe { libc::kill(self.host_pid, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.host_pid);
    }

    /// Waits for the started process to exit; returns its exit code (128+N if killed by N).
    pub fn wait(&mut self) -> i32 {
        self.wait_within(TIMEOUT)
    }

    /// Waits up to `timeout` for the exit.
    pub fn wait_within(&mut self, timeout: Duration) -> i32 {
        if let Some(code) = self.exit {
            return code;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                let code = status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                self.exit = Some(code);
                return code;
            }
            if Instant::now() >= deadline {
                panic!(
                    "pidone did not exit within {timeout:?}; stdout {:?}; stderr so far {:?}",
                    self.seen,
                    self.stderr_now()
                );
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Returns true if the process has not exited.
    pub fn running(&mut self) -> bool {
        self.process.try_wait().unwrap().is_none()
    }

    /// All stderr lines (after exit: everything pidone wrote).
    pub fn stderr_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            out.push(line);
        }
        out
    }

    fn stderr_now(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// Reads stdout lines until the stream closes (after exit).
    pub fn rest_of_stdout(&mut self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        while let Ok(line) = self
            .stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Run {
    /// Ends everything the test started, pass or fail: the launcher, pidone and every process
    /// below them (as a subreaper pidone keeps orphans in its tree; a test that fails by timeout
    /// must not leave its workload running).
    fn drop(&mut self) {
        // Only while the launcher is unreaped: a reaped pid may belong to another test by now.
        if self.exit.is_none() {
            kill_tree(self.process.id() as i32);
            // SAFETY: kill takes plain integers; SIGKILL of PID 1 ends the whole namespace.
            unsafe { libc::kill(self.host_pid, libc::SIGKILL) };
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

/// SIGKILLs every descendant of `root` (not `root` itself): first SIGSTOPs them until a look at
/// /proc finds no new one (a stopped process cannot fork), so none escapes by forking late.
pub fn kill_tree(root: i32) {
    let mut stopped: Vec<i32> = Vec::new();
    for _ in 0..100 {
        let new: Vec<i32> = descendants(root)
            .into_iter()
            .map(|(pid, _)| pid)
            .filter(|pid| !stopped.contains(pid))
            .collect();
        if new.is_empty() {
            break;
        }
        for &pid in &new {
            send_signal(pid, libc::SIGSTOP);
        }
        stopped.extend(new);
    }
    for pid in stopped {
        send_signal(pid, libc::SIGKILL);
    }
}

/// Runs pidone to completion with `args` in `mode`; returns (exit code, stdout, stderr).
pub fn run_to_end(mode: Mode, args: &[&str]) -> (i32, Vec<String>, Vec<String>) {
    let mut run = start(mode, args);
    let code = run.wait();
    let stdout = run.rest_of_stdout();
    (code, stdout, run.stderr_lines())
}

/// `/proc/<pid>/status` as a map.
pub fn proc_status(pid: i32) -> HashMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// (pid, ppid, state) of every process on the host.
fn processes() -> Vec<(i32, i32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state));
    }
    out
}

/// Every descendant of `root` with its state.
pub fn descendants(root: i32) -> Vec<(i32, char)> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    all.iter()
        .filter(|p| found[1..].contains(&p.0))
        .map(|p| (p.0, p.2))
        .collect()
}

/// Zombies among `root`'s descendants.
pub fn zombies_under(root: i32) -> usize {
    descendants(root).iter().filter(|p| p.1 == 'Z').count()
}

/// Polls `condition` every few ms until true or `timeout`; returns whether it became true.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The first child pid of `pid` (e.g. pidone's main child), waiting for it.
pub fn first_child(pid: i32) -> i32 {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let mut found = -1;
    assert!(
        eventually(TIMEOUT, || {
            found = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(-1);
            found > 0
        }),
        "no child of {pid}"
    );
    found
}

/// Parses a `key=value` word from a line like `ready pid=5 pgid=5`.
pub fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")).map(str::to_string))
}

/// Wraps a process the test started itself (custom launcher) whose direct child is pidone.
pub fn adopt_process(mut process: Child, stdout: impl Read + Send + 'static) -> Run {
    let host_pid = find_child_of(&mut process);
    let (_tx, stderr) = channel();
    Run {
        process,
        host_pid,
        stdout: lines(stdout),
        stderr,
        seen: Vec::new(),
        exit: None,
        stdin: None,
    }
}

impl Run {
    /// The next stdout line if one arrives within `timeout` (None on timeout or closed stream).
    pub fn line_within(&mut self, timeout: Duration) -> Option<String> {
        let line = self.stdout.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Asserts that no stdout line arrives during `window` (a measured window, not a wait).
    pub fn quiet_for(&mut self, window: Duration) {
        if let Some(line) = self.line_within(window) {
            panic!("unexpected line within {window:?}: {line:?}");
        }
    }

    /// Waits up to `timeout` for `host_pid` to disappear (for a pidone that is not our child).
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        let pid = self.host_pid;
        eventually(timeout, || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            proc_state_of(&stat).is_none_or(|s| s == 'Z')
        })
    }
}

fn proc_state_of(stat: &str) -> Option<char> {
    let close = stat.rfind(')')?;
    stat[close + 1..].split_whitespace().next()?.chars().next()
}

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T`, `Z`...), None if gone.
pub fn state_of(pid: i32) -> Option<char> {
    proc_state_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Sends `sig` to `pid` (a host pid); returns whether kill succeeded.
pub fn send_signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Wraps a process the test started itself with piped stdout and stderr (and stdin, if piped):
/// `direct` when that process is (or execs) pidone, else pidone is its first child.
pub fn adopt_piped(mut process: Child, direct: bool) -> Run {
    let host_pid = if direct {
        process.id() as i32
    } else {
        find_child_of(&mut process)
    };
    let stdin = process.stdin.take();
    let stdout = lines(process.stdout.take().unwrap());
    let stderr = lines(process.stderr.take().unwrap());
    Run {
        process,
        host_pid,
        stdout,
        stderr,
        seen: Vec::new(),
        exit: None,
        stdin,
    }
}

impl Run {
    /// Waits up to `timeout` for a stderr line containing `needle`; returns it. Other stderr
    /// lines read on the way are returned too (all lines read, in order, the match last).
    pub fn expect_stderr_within(&mut self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut read = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    read.push(line);
                    if found {
                        return read;
                    }
                }
                Err(e) => panic!("no stderr line with {needle:?} ({e:?}); read {read:?}"),
            }
        }
    }
}

/// VmRSS of `pid` in kB (0 if unreadable).
pub fn vm_rss_kb(pid: i32) -> u64 {
    proc_status(pid)
        .get("VmRSS")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The open descriptors of `pid`, sorted.
pub fn open_fds(pid: i32) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort_unstable();
    fds
}

/// Runs `command` with piped output to completion within `timeout`; returns (code, stdout,
/// stderr). The process is killed if it overruns (and the test fails).
pub fn output_within(mut command: Command, timeout: Duration) -> (i32, Vec<String>, Vec<String>) {
    use std::os::unix::process::ExitStatusExt;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(2));
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let collect = |rx: Receiver<String>| {
        let mut out = Vec::new();
        while let Ok(line) = rx.recv_timeout(TIMEOUT) {
            out.push(line);
        }
        out
    };
    (code, collect(stdout), collect(stderr))
}
