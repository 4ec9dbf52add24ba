//! What pidone exits with: the mapping from the main child's wait status to an exit code.

/// How the main child ended, from its raw `waitpid` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ChildExit {
    /// Decodes a raw wait status. Stopped/continued statuses are not terminations: `None`.
    pub fn from_raw(status: i32) -> Option<ChildExit> {
        if libc::WIFEXITED(status) {
            Some(ChildExit::Code(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ChildExit::Signal(libc::WTERMSIG(status)))
        } else {
            None
        }
    }

    /// The signal that killed the process, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ChildExit::Code(_) => None,
            ChildExit::Signal(sig) => Some(sig),
        }
    }

    /// The exit code a shell would report: the code itself, or 128+N for signal N, modulo 256.
    /// A PID 1 cannot re-raise the child's signal (the kernel drops it), so 128+N is the only
    /// faithful way to pass a death by signal on.
    pub fn shell_code(self) -> u8 {
        let raw = match self {
            ChildExit::Code(code) => code,
            ChildExit::Signal(sig) => 128 + sig,
        };
        (raw & 0xff) as u8
    }
}

/// Exit codes tini's `-e CODE` maps to 0, as a 256-bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectedCodes([u64; 4]);

impl ExpectedCodes {
    /// Marks `code` as expected (mapped to 0).
    pub fn insert(&mut self, code: u8) {
        if let Some(word) = self.0.get_mut(usize::from(code / 64)) {
            *word |= 1u64 << (code % 64);
        }
    }

    /// Returns true if `code` is expected.
    pub fn contains(&self, code: u8) -> bool {
        self.0
            .get(usize::from(code / 64))
            .is_some_and(|word| word & (1u64 << (code % 64)) != 0)
    }

    /// Applies the remap: expected codes become 0, others pass through.
    pub fn remap(&self, code: u8) -> u8 {
        if self.contains(code) { 0 } else { code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> i32 {
        (code & 0xff) << 8
    }

    #[test]
    fn every_exit_code_passes_through() {
        for code in 0..=255 {
            let exit = ChildExit::from_raw(exited(code));
            assert_eq!(exit, Some(ChildExit::Code(code)));
            assert_eq!(exit.map(ChildExit::shell_code), Some(code as u8));
        }
    }

    #[test]
    fn signals_map_to_128_plus_n() {
        for sig in 1..=64 {
            let exit = ChildExit::from_raw(sig);
            assert_eq!(exit, Some(ChildExit::Signal(sig)));
            assert_eq!(
                exit.map(ChildExit::shell_code),
                Some(((128 + sig) % 256) as u8)
            );
        }
        // Core dumps do not change the code.
        assert_eq!(
            ChildExit::from_raw(11 | 0x80).map(ChildExit::shell_code),
            Some(139)
        );
    }

    #[test]
    fn stopped_is_not_an_exit() {
        assert_eq!(ChildExit::from_raw(0x137f), None); // stopped by SIGSTOP
        assert_eq!(ChildExit::from_raw(0xffff), None); // continued
    }

    #[test]
    fn expected_codes_remap_exactly_those() {
        for expected in 0..=255u8 {
            let mut set = ExpectedCodes::default();
            set.insert(expected);
            for code in 0..=255u8 {
                let want = if code == expected { 0 } else { code };
                assert_eq!(set.remap(code), want);
            }
        }
    }
}
