//! Signal numbers, names and sets, in the kernel's numbering.
//!
//! pidone forwards signals **by number** (`c_int`), never through a typed enum, because the typed
//! enums of libc wrappers cannot express the real-time signals. Standard names come from
//! signal-hook (`signal_name`), except SIGSTKFLT and SIGPWR, which it does not list. Real-time
//! names follow the Linux ABI and the conventions of `kill -l`, glibc and Docker: SIGRTMIN is 34
//! and SIGRTMAX is 64 whatever libc pidone is built with (musl reserves 32..=34 and calls 35
//! SIGRTMIN; the kernel and every sender outside pidone do not), names run up from SIGRTMIN to
//! SIGRTMIN+15 (49) and down from SIGRTMAX-14 (50).

use std::borrow::Cow;

use signal_hook::consts::signal as sig;
use signal_hook::low_level::signal_name;

/// Highest signal number on Linux.
pub const SIGMAX: i32 = 64;
/// First real-time signal as the kernel ABI, glibc and Docker number it.
pub const SIGRTMIN: i32 = 34;
/// Last real-time signal.
pub const SIGRTMAX: i32 = 64;

/// Standard signals that signal-hook's `signal_name` does not know (Linux-specific).
const NAMES_SIGNAL_HOOK_LACKS: [(&str, i32); 2] =
    [("SIGSTKFLT", libc::SIGSTKFLT), ("SIGPWR", libc::SIGPWR)];

/// Alternative names accepted on input.
const ALIASES: [(&str, i32); 4] = [
    ("IOT", sig::SIGABRT),
    ("POLL", sig::SIGIO),
    ("CLD", sig::SIGCHLD),
    ("UNUSED", sig::SIGSYS),
];

/// The name of a standard signal 1..=31, `SIGTERM` style.
fn standard_name(number: i32) -> Option<&'static str> {
    signal_name(number).or_else(|| {
        NAMES_SIGNAL_HOOK_LACKS
            .iter()
            .find(|(_, n)| *n == number)
            .map(|(name, _)| *name)
    })
}

/// Signals the kernel raises synchronously when a process faults. pidone blocks them like every
/// other signal (the kernel still forces a real fault through a blocked mask, so a crash in pidone
/// stays visible) and forwards them only when another process sent them with `kill`/`sigqueue`.
pub const FAULT_SIGNALS: [i32; 7] = [
    sig::SIGSEGV,
    sig::SIGBUS,
    sig::SIGFPE,
    sig::SIGILL,
    sig::SIGABRT,
    sig::SIGTRAP,
    sig::SIGSYS,
];

/// The received signals that start `--grace-period` unless `--grace-signals` says otherwise:
/// the ones that ask an app to stop. SIGHUP (reload) and SIGQUIT (a JVM's thread dump) are not
/// among them, so a reload or a dump never ends in SIGKILL.
pub const DEFAULT_GRACE_SIGNALS: [i32; 2] = [sig::SIGTERM, sig::SIGINT];

/// Job-control stop signals that dumb-init rewrites to SIGSTOP in its default (setsid) mode.
pub const JOB_CONTROL_STOPS: [i32; 3] = [sig::SIGTSTP, sig::SIGTTIN, sig::SIGTTOU];

/// Returns true for a fault signal (see [`FAULT_SIGNALS`]).
pub fn is_fault(sig: i32) -> bool {
    FAULT_SIGNALS.contains(&sig)
}

/// Returns true when the siginfo code says a process sent the signal (`kill`, `tkill`,
/// `sigqueue`, ...): the kernel's own codes are positive, user codes are zero or negative.
pub fn sent_by_process(si_code: i32) -> bool {
    si_code <= 0
}

/// The canonical name of a signal: `SIGTERM`, `SIGRTMIN+15`, `SIGRTMAX-14`, `SIG32`.
pub fn name(number: i32) -> Cow<'static, str> {
    match number {
        1..=31 => match standard_name(number) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("SIG{number}")),
        },
        SIGRTMIN => Cow::Borrowed("SIGRTMIN"),
        SIGRTMAX => Cow::Borrowed("SIGRTMAX"),
        35..=49 => Cow::Owned(format!("SIGRTMIN+{}", number - SIGRTMIN)),
        50..=63 => Cow::Owned(format!("SIGRTMAX-{}", SIGRTMAX - number)),
        _ => Cow::Owned(format!("SIG{number}")),
    }
}

/// Parses a signal given as a number (`15`), a name with or without `SIG` in any case (`TERM`,
/// `SIGTERM`, `term`), or a real-time name (`RTMIN`, `RTMIN+3`, `SIGRTMAX-2`).
///
/// Accepts 1..=64. The error is a short reason; callers add which argument was bad.
pub fn parse(text: &str) -> Result<i32, String> {
    let invalid = || {
        format!("invalid signal '{text}' (a name such as TERM, SIGTERM or RTMIN+3, or a number)")
    };
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i32>() {
            Ok(n @ 1..=SIGMAX) => Ok(n),
            _ => Err(format!(
                "signal number '{text}' is out of range 1..={SIGMAX}"
            )),
        };
    }
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(found) =
        (1..=31).find(|&n| standard_name(n).and_then(|s| s.strip_prefix("SIG")) == Some(bare))
    {
        return Ok(found);
    }
    if bare != upper && !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        return parse(bare); // SIG32, SIG33: the unnamed signals below SIGRTMIN
    }
    if let Some((_, sig)) = ALIASES.iter().find(|(alias, _)| *alias == bare) {
        return Ok(*sig);
    }
    parse_realtime(bare).ok_or_else(invalid)
}

/// Parses `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (without `SIG`, upper case).
fn parse_realtime(bare: &str) -> Option<i32> {
    let (base, rest, sign) = if let Some(rest) = bare.strip_prefix("RTMIN") {
        (SIGRTMIN, rest, 1)
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        (SIGRTMAX, rest, -1)
    } else {
        return None;
    };
    let offset = if rest.is_empty() {
        0
    } else {
        let digits = match sign {
            1 => rest.strip_prefix('+')?,
            _ => rest.strip_prefix('-')?,
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 2 {
            return None;
        }
        digits.parse::<i32>().ok()?
    };
    let sig = base + sign * offset;
    (SIGRTMIN..=SIGRTMAX).contains(&sig).then_some(sig)
}

/// A set of signals 1..=64 as the kernel's 64-bit mask (bit `n - 1` for signal `n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalSet(pub u64);

impl SignalSet {
    /// The empty set.
    pub const EMPTY: SignalSet = SignalSet(0);

    /// The set of `signals` (out-of-range numbers are ignored).
    pub fn of(signals: &[i32]) -> SignalSet {
        let mut set = SignalSet::EMPTY;
        for &sig in signals {
            set.insert(sig);
        }
        set
    }

    /// Every signal that can be blocked: 1..=64 except SIGKILL and SIGSTOP.
    pub fn blockable() -> SignalSet {
        let mut set = SignalSet(u64::MAX);
        set.remove(sig::SIGKILL);
        set.remove(sig::SIGSTOP);
        set
    }

    fn bit(sig: i32) -> u64 {
        match sig {
            1..=SIGMAX => 1u64 << (sig - 1),
            _ => 0,
        }
    }

    /// Adds `sig` (out-of-range numbers are ignored).
    pub fn insert(&mut self, sig: i32) {
        self.0 |= Self::bit(sig);
    }

    /// Removes `sig`.
    pub fn remove(&mut self, sig: i32) {
        self.0 &= !Self::bit(sig);
    }

    /// Returns true if `sig` is in the set.
    pub fn contains(self, sig: i32) -> bool {
        self.0 & Self::bit(sig) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_for_every_signal() {
        for sig in 1..=SIGMAX {
            let name = name(sig);
            assert_eq!(parse(&name), Ok(sig), "{name}");
            assert_eq!(parse(&sig.to_string()), Ok(sig));
        }
    }

    /// `kill -l`, glibc and Docker: up from SIGRTMIN to +15, down from SIGRTMAX from 50.
    #[test]
    fn real_time_names_split_where_kill_l_splits_them() {
        assert_eq!(name(48), "SIGRTMIN+14");
        assert_eq!(name(49), "SIGRTMIN+15");
        assert_eq!(name(50), "SIGRTMAX-14");
        assert_eq!(name(63), "SIGRTMAX-1");
        assert_eq!(name(16), "SIGSTKFLT");
        assert_eq!(name(30), "SIGPWR");
        assert_eq!(name(15), "SIGTERM");
    }

    #[test]
    fn accepts_the_usual_spellings() {
        assert_eq!(parse("TERM"), Ok(15));
        assert_eq!(parse("SIGTERM"), Ok(15));
        assert_eq!(parse("term"), Ok(15));
        assert_eq!(parse("sigkill"), Ok(9));
        assert_eq!(parse("RTMIN"), Ok(34));
        assert_eq!(parse("RTMIN+3"), Ok(37));
        assert_eq!(parse("SIGRTMAX-2"), Ok(62));
        assert_eq!(parse("rtmax"), Ok(64));
        assert_eq!(parse("IOT"), Ok(6));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "0",
            "65",
            "-1",
            "TERMX",
            "SIG",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+31",
            "RTMIN+",
            "+15",
            "1.5",
            "99999999999999999999",
            "SIGRTMIN+001",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn blockable_set_excludes_kill_and_stop_only() {
        let set = SignalSet::blockable();
        assert!(!set.contains(libc::SIGKILL) && !set.contains(libc::SIGSTOP));
        assert_eq!(set.0.count_ones(), 62);
        assert!(set.contains(64) && set.contains(1) && !set.contains(0) && !set.contains(65));
    }

    #[test]
    fn fault_signals_only_forwarded_when_sent_by_a_process() {
        assert!(sent_by_process(0)); // SI_USER
        assert!(sent_by_process(-6)); // SI_TKILL
        assert!(sent_by_process(-1)); // SI_QUEUE
        assert!(!sent_by_process(1)); // SEGV_MAPERR
        assert!(!sent_by_process(0x80)); // SI_KERNEL
    }
}
