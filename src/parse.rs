//! Parsers for every value a user can give on the command line or in the environment.
//!
//! Each returns a short reason on error; the caller names the flag or variable. They are pure and
//! total (no panics on any input), which the fuzz and property tests check.

use std::time::Duration;

use crate::signals;

/// Longest accepted duration: 30 days. Longer values are surely typos and would overflow timers.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Parses `10s`, `500ms`, `1m`, `1h`, `1.5s` or a bare number of seconds (`8`, `0.25`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid duration '{text}' (use e.g. 10s, 500ms, 1m or a number of seconds)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let millis_per_unit: u64 = match unit {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 10
        || fraction.len() > 9
    {
        return Err(invalid());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    // Fraction in nanoseconds of a unit, scaled exactly with integer arithmetic.
    let fraction_nanos: u64 = if fraction.is_empty() {
        0
    } else {
        let digits: u64 = fraction.parse().map_err(|_| invalid())?;
        digits * 10u64.pow(9 - fraction.len() as u32)
    };
    let nanos = u128::from(whole) * u128::from(millis_per_unit) * 1_000_000
        + u128::from(fraction_nanos) * u128::from(millis_per_unit) / 1000;
    let limit = MAX_DURATION.as_nanos();
    if nanos > limit {
        return Err(format!("duration '{text}' is longer than 30 days"));
    }
    let secs = (nanos / 1_000_000_000) as u64;
    let subsec = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
}

/// Formats a duration exactly, the way it is accepted: `500ms`, `0.5ms`, `2s`, `1.0005s`.
pub fn format_duration(value: Duration) -> String {
    let (secs, nanos) = (value.as_secs(), value.subsec_nanos());
    if nanos == 0 {
        format!("{secs}s")
    } else if secs == 0 {
        with_fraction(u64::from(nanos / 1_000_000), nanos % 1_000_000, 6, "ms")
    } else {
        with_fraction(secs, nanos, 9, "s")
    }
}

/// `whole.fraction` + `unit`, the fraction written with `digits` digits, trailing zeros cut.
fn with_fraction(whole: u64, fraction: u32, digits: usize, unit: &str) -> String {
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}{unit}", fraction.trim_end_matches('0'))
}

/// Parses an exit code 0..=255 (decimal, as tini's strict `strtol`).
pub fn exit_code(text: &str) -> Result<u8, String> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid exit code '{text}' (0..=255)"));
    }
    text.parse::<u8>()
        .map_err(|_| format!("invalid exit code '{text}' (0..=255)"))
}

/// Parses a comma-separated list of exit codes (`PIDONE_EXPECT_EXIT=0,143`).
pub fn exit_code_list(text: &str) -> Result<Vec<u8>, String> {
    text.split(',').map(|item| exit_code(item.trim())).collect()
}

/// Parses a rewrite `FROM:TO`: signals as numbers or names; `TO` may be 0 (drop the signal).
pub fn rewrite(text: &str) -> Result<(i32, i32), String> {
    let Some((from, to)) = text.split_once(':') else {
        return Err(format!(
            "invalid rewrite '{text}' (expected FROM:TO, e.g. 15:3 or TERM:QUIT)"
        ));
    };
    let from = signals::parse(from.trim()).map_err(|why| format!("rewrite '{text}': {why}"))?;
    let to = match to.trim() {
        "0" => 0,
        other => signals::parse(other).map_err(|why| format!("rewrite '{text}': {why}"))?,
    };
    Ok((from, to))
}

/// Parses a comma-separated list of rewrites (`PIDONE_REWRITE=TERM:QUIT,USR1:0`).
pub fn rewrite_list(text: &str) -> Result<Vec<(i32, i32)>, String> {
    text.split(',').map(|item| rewrite(item.trim())).collect()
}

/// Parses a comma-separated list of signals (`TERM,INT`, `QUIT`, `15,RTMIN+1`), not empty.
pub fn signal_list(text: &str) -> Result<signals::SignalSet, String> {
    let mut set = signals::SignalSet::EMPTY;
    for item in text.split(',') {
        set.insert(signals::parse(item.trim())?);
    }
    Ok(set)
}

/// Parses a boolean environment value: 1/true/yes/on or 0/false/no/off (any case).
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "invalid boolean '{text}' (use 1/0, true/false, yes/no, on/off)"
        )),
    }
}

/// Parses a verbosity level 0..=4 (tini's `TINI_VERBOSITY` scale).
pub fn verbosity(text: &str) -> Result<u8, String> {
    match text.trim().parse::<u8>() {
        Ok(level) => Ok(level.min(4)),
        Err(_) => Err(format!("invalid verbosity '{text}' (a number, 0..=4)")),
    }
}

/// Where forwarded signals go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ForwardTarget {
    /// The main child only (tini's default).
    #[default]
    Child,
    /// The main child's process group (`-g`, dumb-init's default).
    Group,
    /// Every process pidone can reach in its tree.
    All,
}

/// Parses `child`, `group` or `all`.
pub fn forward_target(text: &str) -> Result<ForwardTarget, String> {
    match text {
        "child" => Ok(ForwardTarget::Child),
        "group" => Ok(ForwardTarget::Group),
        "all" => Ok(ForwardTarget::All),
        _ => Err(format!("invalid target '{text}' (child, group or all)")),
    }
}

/// Parses `text` or `json`.
pub fn log_format(text: &str) -> Result<crate::log::Format, String> {
    match text {
        "text" => Ok(crate::log::Format::Text),
        "json" => Ok(crate::log::Format::Json),
        _ => Err(format!("invalid log format '{text}' (text or json)")),
    }
}

/// A `USER[:GROUP]` specification, not yet resolved against /etc/passwd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    /// User name or numeric uid.
    pub user: String,
    /// Group name or numeric gid, if given.
    pub group: Option<String>,
}

/// Parses `USER[:GROUP]`; neither part may be empty or contain NUL, newline or another colon.
pub fn user_spec(text: &str) -> Result<UserSpec, String> {
    let bad = |part: &str| part.is_empty() || part.contains(['\0', '\n', ':']);
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    if bad(user) || group.is_some_and(bad) {
        return Err(format!(
            "invalid user '{text}' (expected USER or USER:GROUP)"
        ));
    }
    Ok(UserSpec {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(duration("8"), Ok(Duration::from_secs(8)));
        assert_eq!(duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("720h"), Ok(Duration::from_secs(30 * 24 * 3600)));
        for bad in [
            "",
            "s",
            "ms",
            "-1s",
            "1x",
            "1.2.3s",
            "1 s",
            "10S",
            "721h",
            "99999999999s",
            ".",
        ] {
            assert!(duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations_format_back() {
        for text in [
            "500ms",
            "2s",
            "1.5s",
            "0s",
            "1.25s",
            "0.5ms",
            "1.0005s",
            "0.000001ms",
            "1.000000001s",
            "720h",
        ] {
            let parsed = duration(text);
            let formatted = parsed.clone().map(format_duration);
            assert_eq!(
                formatted.as_deref().map(duration),
                Ok(parsed.clone()),
                "{text}"
            );
        }
        let exact = format_duration;
        assert_eq!(exact(Duration::from_micros(500)), "0.5ms");
        assert_eq!(exact(Duration::from_micros(1_000_500)), "1.0005s");
        assert_eq!(exact(Duration::from_millis(1500)), "1.5s");
        assert_eq!(exact(Duration::from_millis(250)), "250ms");
        assert_eq!(exact(Duration::from_nanos(1)), "0.000001ms");
        assert_eq!(exact(Duration::from_secs(7200)), "7200s");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code("0"), Ok(0));
        assert_eq!(exit_code("255"), Ok(255));
        assert_eq!(exit_code_list("0,143, 2"), Ok(vec![0, 143, 2]));
        for bad in ["", "256", "-1", "+1", "1x", "0x1", "1000"] {
            assert!(exit_code(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rewrites() {
        assert_eq!(rewrite("15:3"), Ok((15, 3)));
        assert_eq!(rewrite("TERM:QUIT"), Ok((15, 3)));
        assert_eq!(rewrite("SIGTERM:SIGQUIT"), Ok((15, 3)));
        assert_eq!(rewrite("USR1:0"), Ok((10, 0)));
        assert_eq!(rewrite("RTMIN+1:RTMAX"), Ok((35, 64)));
        assert_eq!(rewrite_list("TERM:QUIT,2:0"), Ok(vec![(15, 3), (2, 0)]));
        for bad in ["", "15", "15:", ":3", "0:3", "15:65", "TERM:FOO", "a:b:c"] {
            assert!(rewrite(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn signal_lists() {
        let set = signal_list("TERM, int,QUIT");
        assert_eq!(set, Ok(signals::SignalSet::of(&[15, 2, 3])));
        assert_eq!(signal_list("RTMIN+1"), Ok(signals::SignalSet::of(&[35])));
        for bad in ["", ",", "TERM,", "TERM,,INT", "NOPE", "0"] {
            assert!(signal_list(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn users() {
        assert_eq!(
            user_spec("app"),
            Ok(UserSpec {
                user: "app".into(),
                group: None
            })
        );
        assert_eq!(
            user_spec("1000:50"),
            Ok(UserSpec {
                user: "1000".into(),
                group: Some("50".into())
            })
        );
        for bad in ["", ":", "app:", ":grp", "a:b:c", "a\nb"] {
            assert!(user_spec(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn booleans_targets_formats() {
        assert_eq!(boolean("YES"), Ok(true));
        assert_eq!(boolean("off"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert!(boolean("").is_err());
        assert_eq!(forward_target("all"), Ok(ForwardTarget::All));
        assert!(forward_target("ALL").is_err());
        assert_eq!(log_format("json"), Ok(crate::log::Format::Json));
        assert!(log_format("xml").is_err());
        assert_eq!(verbosity("9"), Ok(4));
        assert!(verbosity("x").is_err());
    }
}
