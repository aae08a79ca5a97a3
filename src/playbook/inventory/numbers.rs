//! The inventory's numbers checked against their documented ranges ([`crate::playbook::bounds`]).

use super::raw::{RawLock, RawTimeouts};
use super::{LockSettings, TimeoutOverrides};
use crate::playbook::bounds::{Bound, POLL_MS, PORT, STALE_SECS, TIMEOUT_SECS};
use crate::playbook::source::{ConfigError, SourceFile};
use toml::Spanned;

/// A number as written, checked against `bound`; the error points at the value.
pub(super) fn checked(
    src: &SourceFile,
    key: &str,
    value: Option<&Spanned<u64>>,
    bound: Bound,
) -> Result<Option<u64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => {
            bound.check(src, key, *v.get_ref(), Some(v.span().start))?;
            Ok(Some(*v.get_ref()))
        }
    }
}

/// A port as written (1 to 65535).
pub(super) fn port(
    src: &SourceFile,
    key: &str,
    value: Option<&Spanned<u16>>,
) -> Result<Option<u16>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => {
            PORT.check(src, key, u64::from(*v.get_ref()), Some(v.span().start))?;
            Ok(Some(*v.get_ref()))
        }
    }
}

/// `[timeouts]`: every `*_secs` 1 to 604800, `poll_ms` 50 to 60000.
pub(super) fn timeouts(src: &SourceFile, t: &RawTimeouts) -> Result<TimeoutOverrides, ConfigError> {
    let secs = |key: &str, v: &Option<Spanned<u64>>| checked(src, key, v.as_ref(), TIMEOUT_SECS);
    Ok(TimeoutOverrides {
        node_script_secs: secs("timeouts.node_script_secs", &t.node_script_secs)?,
        master_gate_secs: secs("timeouts.master_gate_secs", &t.master_gate_secs)?,
        agent_gate_secs: secs("timeouts.agent_gate_secs", &t.agent_gate_secs)?,
        backup_secs: secs("timeouts.backup_secs", &t.backup_secs)?,
        deployment_secs: secs("timeouts.deployment_secs", &t.deployment_secs)?,
        poll_ms: checked(src, "timeouts.poll_ms", t.poll_ms.as_ref(), POLL_MS)?,
    })
}

/// `[lock]`: `stale_secs` 30 to 604800.
pub(super) fn lock(src: &SourceFile, l: &RawLock) -> Result<LockSettings, ConfigError> {
    Ok(LockSettings {
        stale_secs: checked(src, "lock.stale_secs", l.stale_secs.as_ref(), STALE_SECS)?,
    })
}
