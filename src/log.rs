//! Diagnostics on stderr, as text or one JSON object per line, that can never panic or kill PID 1.
//!
//! Every line is built in memory and handed to `write(2)` directly; write errors (a closed stderr,
//! a pipe whose reader is gone) are ignored. pidone blocks SIGPIPE like every other signal and
//! drops the SIGPIPE it raises for itself, so a broken stderr costs nothing but the message.
//! The logger is configured once at start-up and read-only afterwards.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
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

/// The program name in text lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// `pidone`.
    Pidone,
    /// `tini` (tini persona: users grep for tini's lines).
    Tini,
}

/// The configuration, set once at start-up (single-threaded) and read-only afterwards; atomics
/// only because statics must be `Sync`. Level 1 (Warn) and text until `init`.
static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static JSON: AtomicU8 = AtomicU8::new(0);
static TINI_NAME: AtomicU8 = AtomicU8::new(0);

/// Configures the logger.
pub fn init(level: Level, format: Format, name: Name) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(u8::from(format == Format::Json), Ordering::Relaxed);
    TINI_NAME.store(u8::from(name == Name::Tini), Ordering::Relaxed);
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
        json_line(level, event, message, fields, pid)
    } else {
        let name = if TINI_NAME.load(Ordering::Relaxed) == 1 {
            "tini"
        } else {
            "pidone"
        };
        format!("[{} {name} ({pid})] {}\n", level.tag(), one_line(message))
    };
    write_stderr(&line);
}

/// Writes one whole line to stderr, ignoring every error: std's stderr is unbuffered, retries
/// EINTR and treats a closed stderr as success; a broken pipe only returns an error, because
/// pidone blocks SIGPIPE and drops the SIGPIPE it raises for itself.
fn write_stderr(line: &str) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Convenience for a warning without fields.
pub fn warn(event_name: &str, message: &str) {
    event(Level::Warn, event_name, message, &[]);
}

/// Prints a start-up failure as one line: `pidone: <what>: <why>`, or, once `--log-format json`
/// is in force, one JSON object (event `fatal`). Usage errors found before the format is known
/// are always plain text.
pub fn fatal(message: &str) {
    let line = if json() {
        json_line(
            Level::Error,
            "fatal",
            &format!("pidone: {message}"),
            &[],
            sys::own_pid(),
        )
    } else {
        format!("pidone: {}\n", one_line(message))
    };
    write_stderr(&line);
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
