//! The documented range of every number in the inventory and the playbook, checked at load so
//! that no later arithmetic on a duration can overflow, hang or spin.
//!
//! | Key | Range | Unit |
//! |---|---|---|
//! | `timeouts.node_script_secs`, `master_gate_secs`, `agent_gate_secs`, `backup_secs`, `deployment_secs` | 1 to 604800 | seconds (one week) |
//! | `timeouts.poll_ms` | 50 to 60000 | milliseconds |
//! | `timeouts.http_secs` (playbook) | 1 to 3600 | seconds |
//! | `ssh.port`, `[[masters]]`/`[[agents]]` `ssh_port`, `ports.*` (playbook) | 1 to 65535 | TCP port |
//! | `ssh.connect_timeout_secs` | 1 to 3600 | seconds |
//! | `lock.stale_secs` | 30 to 604800 | seconds (the heartbeat runs every quarter of it, at least every 5 s) |
//! | `guards.task_rate_above_baseline_per_min` | 0 to 1000000, finite | tasks per minute |
//! | `guards.min_new_tasks` | 0 to 1000000 | tasks |
//! | `guards.master_restart_slack_secs` | 0 to 3600, finite | seconds |

use super::source::{ConfigError, SourceFile};

/// An inclusive range of an integer setting and its unit, as documented above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// What the number counts (shown in errors).
    pub unit: &'static str,
}

/// Every `*_secs` timeout of a wait (`[timeouts]`): one second to one week.
pub const TIMEOUT_SECS: Bound = Bound {
    min: 1,
    max: 604_800,
    unit: "seconds",
};
/// `timeouts.poll_ms`: the interval between two polls of a wait.
pub const POLL_MS: Bound = Bound {
    min: 50,
    max: 60_000,
    unit: "milliseconds",
};
/// `timeouts.http_secs` and `ssh.connect_timeout_secs`: one request or one connection.
pub const REQUEST_SECS: Bound = Bound {
    min: 1,
    max: 3_600,
    unit: "seconds",
};
/// Every TCP port.
pub const PORT: Bound = Bound {
    min: 1,
    max: 65_535,
    unit: "TCP port",
};
/// `lock.stale_secs`: how old a cluster lock's heartbeat may get before the lock is stale.
pub const STALE_SECS: Bound = Bound {
    min: 30,
    max: 604_800,
    unit: "seconds",
};
/// `guards.min_new_tasks` and the integer part of `guards.task_rate_above_baseline_per_min`.
pub const TASK_COUNT: Bound = Bound {
    min: 0,
    max: 1_000_000,
    unit: "tasks",
};
/// `guards.master_restart_slack_secs`.
pub const SLACK_SECS: Bound = Bound {
    min: 0,
    max: 3_600,
    unit: "seconds",
};

impl Bound {
    /// Checks an integer; the error names `key`, the value, the range and the unit.
    pub fn check(
        &self,
        src: &SourceFile,
        key: &str,
        value: u64,
        offset: Option<usize>,
    ) -> Result<(), ConfigError> {
        if (self.min..=self.max).contains(&value) {
            return Ok(());
        }
        Err(src.error_at(
            offset.or_else(|| key_offset_in(&src.text, key)),
            format!(
                "{key} = {value} is out of range; expected {} to {} ({})",
                self.min, self.max, self.unit
            ),
        ))
    }

    /// Checks a float: finite and within the range.
    pub fn check_f64(&self, src: &SourceFile, key: &str, value: f64) -> Result<(), ConfigError> {
        if value.is_finite() && value >= self.min as f64 && value <= self.max as f64 {
            return Ok(());
        }
        Err(src.error_at(
            key_offset_in(&src.text, key),
            format!(
                "{key} = {value} is out of range; expected a number from {} to {} ({})",
                self.min, self.max, self.unit
            ),
        ))
    }
}

/// The offset of the line that sets `section.key` (`timeouts.poll_ms` -> the `poll_ms = ...`
/// line after `[timeouts]`), or of the first line setting `key` when the section is not found.
pub fn key_offset_in(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = match dotted.rsplit_once('.') {
        Some((s, k)) => (Some(s), k),
        None => (None, dotted),
    };
    let mut offset = 0;
    let mut in_section = section.is_none();
    let mut first = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            let name = t.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace());
            in_section = section.is_some_and(|s| s == name);
        } else if let Some(rest) = t.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                let at = offset + (line.len() - t.len());
                if in_section {
                    return Some(at);
                }
                first.get_or_insert(at);
            }
        }
        offset += line.len();
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_of_a_key_is_found_in_its_own_section() {
        let text = "[backup]\nbackup = \"x\"\n[timeouts]\nbackup_secs = 1\npoll_ms = 2\n";
        let src = SourceFile::from_text("p.toml", text);
        let at = key_offset_in(text, "timeouts.poll_ms").unwrap();
        assert_eq!(src.line_col(at).0, 5);
        let e = POLL_MS
            .check(&src, "timeouts.poll_ms", 0, None)
            .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("expected 50 to 60000"), "{e}");
    }

    #[test]
    fn edges_of_a_range_are_accepted_and_outside_refused() {
        let src = SourceFile::from_text("p.toml", "");
        assert!(TIMEOUT_SECS.check(&src, "k", 1, None).is_ok());
        assert!(TIMEOUT_SECS.check(&src, "k", 604_800, None).is_ok());
        assert!(TIMEOUT_SECS.check(&src, "k", 0, None).is_err());
        assert!(TIMEOUT_SECS.check(&src, "k", u64::MAX, None).is_err());
        assert!(SLACK_SECS.check_f64(&src, "k", f64::NAN).is_err());
        assert!(SLACK_SECS.check_f64(&src, "k", f64::INFINITY).is_err());
        assert!(SLACK_SECS.check_f64(&src, "k", -0.5).is_err());
        assert!(SLACK_SECS.check_f64(&src, "k", 1.0).is_ok());
    }
}
