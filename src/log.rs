//! Diagnostics on stderr, as text or one JSON object per line, that can never panic, kill or block
//! PID 1.
//!
//! Every line is built in memory and offered to stderr with one `write(2)`, only when a
//! zero-timeout `poll` says there is room ([`sys::write_stderr_if_room`]): diagnostics are best
//! effort, and a log collector that stalls must not stop pidone from forwarding and reaping.
//! Lines that find no room are dropped and counted; the count is reported in a line of its own
//! as soon as there is room again. Lines are at most `PIPE_BUF` bytes, so a pipe takes each one
//! whole and never interleaves it with the child's output. Write errors (a closed stderr, a pipe
//! whose reader is gone) are ignored; pidone blocks SIGPIPE like every other signal and drops the
//! SIGPIPE it raises for itself. The logger is configured once at start-up, then read-only.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::sys;

/// Severity, in tini's levels: 1 (warnings) is the default; `-v` raises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed; always printed.
    Error = 0,
    /// Something unusual; printed by default.
    Warn = 1,
    /// Start, exit, escalation details (`-v`).
    Info = 2,
    /// Every forwarded signal and reaped pid (`-vv`).
    Debug = 3,
    /// Every received signal (`-vvv`).
    Trace = 4,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }

    fn json(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Output format of the log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `[LEVEL name (pid)] message`, tini's shape.
    #[default]
    Text,
    /// One JSON object per line with `ts`, `level`, `event`, `msg` and event fields.
    Json,
}

/// A structured field attached to an event.
#[derive(Clone, Copy, Debug)]
pub enum Field<'a> {
    /// An integer field.
    Int(&'a str, i64),
    /// A string field.
    Str(&'a str, &'a str),
    /// A list of (possibly non-UTF-8) arguments, e.g. the child's argv.
    Args(&'a str, &'a [Vec<u8>]),
}

/// The longest line pidone writes: `PIPE_BUF`, what a pipe takes in one piece.
const MAX_LINE: usize = 4096;

/// The names pidone's lines carry, set once at start-up.
#[derive(Debug)]
struct Names {
    /// The program as it was invoked (`argv[0]`'s file name): the prefix of one-line errors.
    program: String,
    /// The name inside text log lines: `tini` for the tini persona (tini's own shape), else
    /// the program's.
    in_log_lines: String,
}

/// The configuration, set once at start-up (single-threaded) and read-only afterwards; atomics
/// only because statics must be `Sync`. Level 1 (Warn) and text until `init`.
static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static JSON: AtomicU8 = AtomicU8::new(0);
static NAMES: OnceLock<Names> = OnceLock::new();
/// Lines stderr had no room for since the last one it took.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Names pidone's lines: `program` (as invoked) prefixes errors, `in_log_lines` names it in
/// text log lines. Only the first call counts.
pub fn name(program: &str, in_log_lines: &str) {
    let _ = NAMES.set(Names {
        program: program.to_string(),
        in_log_lines: in_log_lines.to_string(),
    });
}

/// The program's name as invoked (`pidone` until [`name`] is called).
pub fn program() -> &'static str {
    NAMES.get().map_or("pidone", |n| n.program.as_str())
}

fn name_in_log_lines() -> &'static str {
    NAMES.get().map_or("pidone", |n| n.in_log_lines.as_str())
}

/// Configures the level and format.
pub fn init(level: Level, format: Format) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(u8::from(format == Format::Json), Ordering::Relaxed);
}

fn json() -> bool {
    JSON.load(Ordering::Relaxed) == 1
}

/// Returns true if messages at `level` are printed.
pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Logs an event at `level`: `event` is its JSON name, `message` the human text.
pub fn event(level: Level, event: &str, message: &str, fields: &[Field<'_>]) {
    if !enabled(level) {
        return;
    }
    let pid = sys::own_pid();
    let line = if json() {
        bounded_json_line(level, event, message, fields, pid)
    } else {
        text_line(level, name_in_log_lines(), pid, message)
    };
    write_stderr(&line);
}

/// `[LEVEL name (pid)] message` as one line.
fn text_line(level: Level, name: &str, pid: i32, message: &str) -> String {
    finish_line(format!(
        "[{} {name} ({pid})] {}",
        level.tag(),
        one_line(message)
    ))
}

/// Ends `text` with a newline, first cutting it (to end in `...`) so the whole line is at most
/// [`MAX_LINE`] bytes.
fn finish_line(mut text: String) -> String {
    if text.len() >= MAX_LINE {
        let mut end = MAX_LINE - 4;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text.push('\n');
    text
}

/// Offers one whole line to stderr without ever blocking (see the module docs). A line that
/// finds no room is counted; the count goes out, in a line of its own, before the next line
/// that finds room.
fn write_stderr(line: &str) {
    let dropped = DROPPED.load(Ordering::Relaxed);
    if dropped > 0 {
        let message = format!("{dropped} log lines dropped: stderr had no room for them");
        let notice = if json() {
            json_line(
                Level::Warn,
                "log_dropped",
                &message,
                &[Field::Int(
                    "dropped",
                    i64::try_from(dropped).unwrap_or(i64::MAX),
                )],
                sys::own_pid(),
            )
        } else {
            text_line(Level::Warn, name_in_log_lines(), sys::own_pid(), &message)
        };
        match sys::write_stderr_if_room(notice.as_bytes()) {
            sys::StderrWrite::Written => DROPPED.store(0, Ordering::Relaxed),
            sys::StderrWrite::Full => {
                DROPPED.store(dropped.saturating_add(1), Ordering::Relaxed);
                return;
            }
            sys::StderrWrite::Unusable => return,
        }
    }
    if sys::write_stderr_if_room(line.as_bytes()) == sys::StderrWrite::Full {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Convenience for a warning without fields.
pub fn warn(event_name: &str, message: &str) {
    event(Level::Warn, event_name, message, &[]);
}

/// Prints a failure to start as one line, `PROGRAM: <what>: <why>` (PROGRAM as invoked), or,
/// once `--log-format json` is in force, one JSON object (event `fatal`, the message without
/// the prefix). Usage errors found before the format is known are always plain text.
pub fn fatal(message: &str) {
    let line = if json() {
        bounded_json_line(Level::Error, "fatal", message, &[], sys::own_pid())
    } else {
        finish_line(format!("{}: {}", program(), one_line(message)))
    };
    write_stderr(&line);
}

/// [`json_line`], or, when that is longer than [`MAX_LINE`] (a huge argv), the event with its
/// message shortened, without its fields, and marked `"truncated":1`: still valid JSON.
fn bounded_json_line(
    level: Level,
    event: &str,
    message: &str,
    fields: &[Field<'_>],
    pid: i32,
) -> String {
    let line = json_line(level, event, message, fields, pid);
    if line.len() <= MAX_LINE {
        return line;
    }
    let short: String = message.chars().take(512).collect();
    json_line(level, event, &short, &[Field::Int("truncated", 1)], pid)
}

fn json_line(level: Level, event: &str, message: &str, fields: &[Field<'_>], pid: i32) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("{\"ts\":\"");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    push_timestamp(&mut out, now);
    out.push_str("\",\"level\":\"");
    out.push_str(level.json());
    out.push_str("\",\"event\":");
    push_json_str(&mut out, event);
    let _ = write!(out, ",\"pidone_pid\":{pid},\"msg\":");
    push_json_str(&mut out, message);
    for field in fields {
        out.push(',');
        match *field {
            Field::Int(key, value) => {
                push_json_str(&mut out, key);
                let _ = write!(out, ":{value}");
            }
            Field::Str(key, value) => {
                push_json_str(&mut out, key);
                out.push(':');
                push_json_str(&mut out, value);
            }
            Field::Args(key, args) => {
                push_json_str(&mut out, key);
                out.push_str(":[");
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_str(&mut out, &String::from_utf8_lossy(arg));
                }
                out.push(']');
            }
        }
    }
    out.push_str("}\n");
    out
}

/// `text` with control characters escaped (`\n`, `\x01`), so a message quoting user input (an
/// argument with a newline in it) stays one line.
fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Appends `text` as a JSON string literal.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends an RFC 3339 UTC timestamp with milliseconds.
fn push_timestamp(out: &mut String, since_epoch: Duration) {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    );
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut out = String::new();
        push_timestamp(&mut out, Duration::from_millis(1_796_041_445_123));
        assert_eq!(out, "2026-11-30T12:24:05.123Z");
        out.clear();
        push_timestamp(&mut out, Duration::from_secs(951_782_400));
        assert_eq!(out, "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn text_lines_stay_one_line() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line("a\nb\tc\u{1}"), "a\\nb\\tc\\x01");
    }

    #[test]
    fn json_escapes_control_characters_and_quotes() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn long_text_lines_are_cut_to_one_pipe_write() {
        // Multi-byte text is cut on a character boundary, at most one character short.
        let message = "é".repeat(5000);
        let line = text_line(Level::Info, "pidone", 1, &message);
        assert!(line.len() <= MAX_LINE, "{}", line.len());
        assert!(line.len() > MAX_LINE - "é".len(), "{}", line.len());
        assert!(line.ends_with("é...\n"), "{line}");
        // The longest line that fits is kept whole; one byte more is cut to exactly MAX_LINE.
        let prefix = text_line(Level::Info, "pidone", 1, "").len() - 1;
        let fits = "a".repeat(MAX_LINE - 1 - prefix);
        let kept = text_line(Level::Info, "pidone", 1, &fits);
        assert_eq!(kept.len(), MAX_LINE);
        assert!(kept.ends_with("aa\n"), "{kept}");
        let cut = text_line(Level::Info, "pidone", 1, &format!("{fits}a"));
        assert_eq!(cut.len(), MAX_LINE);
        assert!(cut.ends_with("a...\n"), "{cut}");
        let short = text_line(Level::Warn, "tini", 7, "hello");
        assert_eq!(short, "[WARN  tini (7)] hello\n");
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters_only() {
        let mut escaped = String::new();
        push_json_str(&mut escaped, "a b\u{1f}\"\\\u{7f}");
        assert_eq!(escaped, "\"a b\\u001f\\\"\\\\\u{7f}\"");
    }

    #[test]
    fn json_line_carries_fields() {
        let args = [b"sleep".to_vec(), b"1".to_vec()];
        let line = json_line(
            Level::Info,
            "child_started",
            "started",
            &[
                Field::Int("pid", 7),
                Field::Args("argv", &args),
                Field::Str("k", "v"),
            ],
            1,
        );
        assert!(line.starts_with("{\"ts\":\""), "{line}");
        assert!(line.ends_with(
            "\"level\":\"info\",\"event\":\"child_started\",\"pidone_pid\":1,\"msg\":\"started\",\
             \"pid\":7,\"argv\":[\"sleep\",\"1\"],\"k\":\"v\"}\n"
        ), "{line}");
    }
}
