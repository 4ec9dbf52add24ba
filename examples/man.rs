//! Prints the man page `pidone.1` (roff) on stdout, generated from the same clap `Command` that
//! parses pidone's arguments, plus sections on personas, environment, signals and exit codes.
//!
//! `scripts/release` runs it (`cargo run --example man > pidone.1`); it is not part of the
//! pidone binary (`clap_mangen` is a dev-dependency). The page is dated `SOURCE_DATE_EPOCH`'s day
//! (UTC), which scripts/release sets to the commit's time, so the output is reproducible; without
//! it, today.
use std::io::Write;

use pidone::cli::{Persona, command};

/// Escapes text for roff: backslashes, hyphens (so options copy and paste as ASCII minus signs),
/// and a leading `.` or `'` that would make the line a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// A section: `.SH TITLE` and paragraphs. An entry `(tag, text)` with a tag is a tagged
/// paragraph (`.TP`, tag in bold); with an empty tag it is a plain paragraph (`.PP`).
fn section(out: &mut String, title: &str, entries: &[(&str, &str)]) {
    out.push_str(&format!(".SH {title}\n"));
    for (tag, text) in entries {
        if tag.is_empty() {
            out.push_str(&format!(".PP\n{}\n", roff(text)));
        } else {
            out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(tag), roff(text)));
        }
    }
}

const PERSONAS: &[(&str, &str)] = &[
    (
        "",
        "pidone picks its defaults by the name it is invoked as (like busybox); it accepts the \
         union of the options of tini, dumb-init and catatonit under every name.",
    ),
    (
        "pidone, tini, tini-static, docker-init",
        "The tini persona: signals go to the child only; the child gets its own process group, \
         made the terminal's foreground group when stdin is a terminal. Docker's --init mounts \
         its init as /sbin/docker-init, which selects this persona.",
    ),
    (
        "dumb-init",
        "The dumb-init persona: the child starts a new session (and takes the controlling \
         terminal); signals go to its whole process group; SIGTSTP, SIGTTIN and SIGTTOU are \
         forwarded as SIGSTOP (unless rewritten) and pidone suspends itself; the group gets \
         SIGTERM when the child exits. -c or DUMB_INIT_SETSID=0 selects single-child mode.",
    ),
    (
        "catatonit, podman-init",
        "The catatonit persona: as tini, but SIGTSTP is forwarded. Podman's --init mounts its \
         init as /run/podman-init, which selects this persona; -P runs nothing and only reaps \
         (the pause mode of Podman's pod pause image).",
    ),
];

const VALUES: &[(&str, &str)] = &[
    (
        "",
        "An option that has an environment variable names it above. A flag on the command line \
         wins over the environment, and an invalid PIDONE_* value is a usage error that names \
         the variable. These variables have no option of the same name:",
    ),
    (
        "PIDONE_VERBOSITY",
        "Verbosity 0 to 4 (default 1): 1 warnings, 2 start and exit, 3 every forwarded signal \
         and reaped pid, 4 every received signal. -v counts up from 1.",
    ),
    (
        "PIDONE_EXPECT_EXIT",
        "Exit codes for -e, comma-separated, e.g. 0,143.",
    ),
    (
        "PIDONE_REWRITE",
        "Rewrites for -r, comma-separated, e.g. TERM:QUIT,USR1:0.",
    ),
    ("PIDONE_FORWARD_TO=group", "The same as -g."),
    (
        "",
        "Boolean variables take 1, true, yes, on or 0, false, no, off. Signals are given as \
         TERM, SIGTERM, term, numbers, or RTMIN+3 and SIGRTMAX-2. Durations as 10s, 500ms, 1m, \
         1h, 1.5s or a bare number of seconds. Long options may be abbreviated to a unique \
         prefix.",
    ),
    (
        "",
        "The variables of tini, dumb-init and catatonit keep their semantics and rank below \
         the flags and the PIDONE_* variables:",
    ),
    (
        "TINI_SUBREAPER",
        "Accepted as tini's -s; on when set at all, even to 0.",
    ),
    (
        "TINI_KILL_PROCESS_GROUP",
        "Forward signals to the child's process group (as -g); on when set at all, even to 0.",
    ),
    (
        "TINI_VERBOSITY",
        "Verbosity level, a number (as PIDONE_VERBOSITY).",
    ),
    ("DUMB_INIT_SETSID", "0 selects single-child mode (as -c)."),
    ("DUMB_INIT_DEBUG", "1 makes pidone verbose."),
    ("CATATONIT_DEBUG", "Set at all: pidone is verbose."),
    (
        "LISTEN_PID",
        "When it names pidone's pid (systemd socket activation), the child gets it rewritten \
         to its own pid.",
    ),
];

const SIGNALS: &[(&str, &str)] = &[
    (
        "SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGCONT, SIGTSTP, \
         SIGWINCH, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, 32, \
         33, SIGRTMIN (34) to SIGRTMAX (64)",
        "Forwarded by number (after --rewrite) to the child, its process group, or pidone's \
         whole tree (--forward-to all: its descendants and the orphans it adopted, never a \
         process such as docker exec starts in the container from outside). The received \
         signal, before any rewrite, decides whether --grace-period starts: SIGTERM and SIGINT \
         unless --grace-signals names others.",
    ),
    (
        "SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS",
        "Forwarded only when another process sent them (kill, docker kill -s SEGV). A real \
         fault in pidone still kills it.",
    ),
    (
        "SIGCHLD",
        "Not forwarded: pidone reaps every exited process with waitpid until none is left.",
    ),
    (
        "SIGTTIN, SIGTTOU",
        "Not forwarded (as tini); the dumb-init persona forwards them as SIGSTOP.",
    ),
    ("SIGKILL, SIGSTOP", "Cannot be caught."),
    (
        "",
        "Real-time signals are numbered as the kernel, glibc, kill -l and Docker number them \
         (SIGRTMIN = 34). pidone's own SIGPIPE (a broken stderr) is dropped.",
    ),
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("N", "The child exited with N (0 if N was given to -e)."),
    (
        "128 + N",
        "The child was killed by signal N (a PID 1 cannot re-raise it: the kernel drops it).",
    ),
    ("127", "The command was not found."),
    (
        "126",
        "The command was found but is not executable, is a directory, or permission was denied.",
    ),
    (
        "1",
        "Usage error (no command, unknown option, bad value) or another failure to start.",
    ),
    (
        "0",
        "-h, --version, -l or -L; pause mode (-P) ended by SIGTERM or SIGINT.",
    ),
    (
        "",
        "Each failure prints one line on stderr, <program>: <what>: <why>, with the name \
         pidone was invoked as; usage errors end with a hint to try --help.",
    ),
];

/// `YYYY-MM-DD` (UTC) of a Unix time (Howard Hinnant's days-to-civil algorithm).
fn civil_date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn main() -> std::io::Result<()> {
    // Everything the page says about the command line (NAME, DESCRIPTION, SYNOPSIS, OPTIONS with
    // their variables, VERSION) is the parser's own Command, version from Cargo.toml included.
    let cmd = command(Persona::Pidone);
    // A date is always given: clap_mangen writes an empty date as nothing, which shifts the
    // title line's fields.
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    let man = clap_mangen::Man::new(cmd)
        .manual("pidone manual")
        .date(civil_date(secs));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    // No hyphenation: option and signal names stay whole (SIGPROF, --forward-to).
    page.extend_from_slice(b".nh\n");
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;

    let mut extra = String::new();
    section(&mut extra, "PERSONAS", PERSONAS);
    section(&mut extra, "ENVIRONMENT", VALUES);
    section(&mut extra, "SIGNALS", SIGNALS);
    section(&mut extra, "EXIT STATUS", EXIT_STATUS);
    section(
        &mut extra,
        "SEE ALSO",
        &[(
            "",
            "tini(1), dumb-init(1), catatonit(1), docker-run(1), podman-run(1); the README \
             in /usr/share/doc/pidone.",
        )],
    );
    page.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut page)?;
    std::io::stdout().lock().write_all(&page)
}
