//! Checks and defaults of single inventory fields: URLs, addresses, node roots, paths, the user.

use crate::playbook::source::{ConfigError, SourceFile};
use std::path::{Path, PathBuf};
use toml::Spanned;

pub(super) fn check_url(src: &SourceFile, url: &Spanned<String>) -> Result<(), ConfigError> {
    let u = url.get_ref();
    let ok = (u.starts_with("http://") || u.starts_with("https://"))
        && u.len() > "https://x".len()
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(src.error_at(
            Some(url.span().start),
            format!("{u:?} is not an http(s) URL; expected e.g. http://10.0.0.5:8080/upgrade/<id>/dcos_node_upgrade.sh"),
        ))
    }
}

/// Whether `a` is an IP address or a DNS name (and nothing a shell or ssh could take for
/// an option or a user): the one rule for inventory and discovered nodes alike.
pub fn is_host_address(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 253
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
        && !a.starts_with('-')
}

pub(super) fn check_address(src: &SourceFile, addr: &Spanned<String>) -> Result<(), ConfigError> {
    let a = addr.get_ref().trim();
    if is_host_address(a) {
        Ok(())
    } else {
        Err(src.error_at(
            Some(addr.span().start),
            format!("{a:?} is not a host address; expected an IP address or a DNS name"),
        ))
    }
}

/// `/` (or nothing) becomes "", anything else loses its trailing slash.
pub(super) fn normalize_root(root: Option<&str>) -> String {
    match root.map(|r| r.trim_end_matches('/')) {
        None | Some("") => String::new(),
        Some(r) => r.to_string(),
    }
}

pub(super) fn expand_path(p: &str, base: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let pb = PathBuf::from(p);
    if pb.is_absolute() {
        pb
    } else {
        base.join(pb)
    }
}
