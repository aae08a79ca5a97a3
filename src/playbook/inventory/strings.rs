//! Checks of the inventory's strings that reach ssh, the terminal, the cluster lock or Marathon:
//! the SSH user and jump host, names, node roots, app ids and images.

use crate::playbook::source::{ConfigError, SourceFile};
use toml::Spanned;

/// A user name for `ssh -l`/`user@`: letters, digits, `.`, `_`, `-`, not starting with `-`
/// (an option to ssh), at most 32 characters (the Linux login-name limit).
pub(super) fn check_user(
    src: &SourceFile,
    key: &str,
    user: &Spanned<String>,
) -> Result<(), ConfigError> {
    let u = user.get_ref();
    let ok = !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        return Ok(());
    }
    Err(src.error_at(
        Some(user.span().start),
        format!("{key} = {u:?} is not a user name; expected letters, digits, '.', '_' or '-' (not starting with '-'), e.g. \"centos\""),
    ))
}

/// A host name or address: what `check_address` accepts for nodes.
fn host_ok(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// `ssh.jump_host`: `[user@]host[:port]`, each part checked like the nodes' (no options to
/// ssh, no spaces, no second hop hidden in it).
pub(super) fn check_jump_host(src: &SourceFile, jump: &Spanned<String>) -> Result<(), ConfigError> {
    let j = jump.get_ref();
    let (user, rest) = match j.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, j.as_str()),
    };
    let user_ok = user.is_none_or(|u| {
        !u.is_empty()
            && !u.starts_with('-')
            && u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    // `host:port` with a numeric port in range, or a bare host (IPv6 in brackets not needed
    // for a bastion: DC/OS clusters are addressed by IPv4 or DNS names).
    let host_port_ok = match rest.rsplit_once(':') {
        Some((h, p)) => host_ok(h) && !h.contains(':') && p.parse::<u16>().is_ok_and(|p| p > 0),
        None => host_ok(rest),
    };
    if user_ok && host_port_ok {
        return Ok(());
    }
    Err(src.error_at(
        Some(jump.span().start),
        format!("ssh.jump_host = {j:?} is not a bastion; expected [user@]host[:port], e.g. \"centos@10.0.0.2:22\""),
    ))
}

/// A name shown on the terminal and written into the cluster lock: no control characters
/// (newlines, escape sequences), at most 253 characters.
pub(super) fn check_name(
    src: &SourceFile,
    key: &str,
    name: &Spanned<String>,
) -> Result<(), ConfigError> {
    let n = name.get_ref();
    if n.len() > 253 {
        return Err(src.error_at(
            Some(name.span().start),
            format!("{key} is {} characters long; expected at most 253", n.len()),
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(src.error_at(
            Some(name.span().start),
            format!("{key} = {n:?} contains control characters (newlines, escape sequences); expected plain text"),
        ));
    }
    Ok(())
}

/// A node root: empty or `/` (production) or an absolute path without control characters.
pub(super) fn check_root(src: &SourceFile, root: &Spanned<String>) -> Result<(), ConfigError> {
    let r = root.get_ref();
    if r.is_empty()
        || (r.starts_with('/')
            && !r.chars().any(char::is_control)
            && !r.split('/').any(|s| s == ".."))
    {
        return Ok(());
    }
    Err(src.error_at(
        Some(root.span().start),
        format!("root = {r:?}: expected an absolute path such as \"/\" (production) or \"/srv/node1\", without \"..\""),
    ))
}

/// `[[frameworks]]`: a Marathon app id (`/group/app`: lower-case letters, digits, `-` and `.`
/// per segment, Marathon's PathId rule) and a docker image without spaces or control
/// characters. The error points at the value's first occurrence in the file.
pub(super) fn check_framework(
    src: &SourceFile,
    app: &str,
    image: Option<&str>,
) -> Result<(), ConfigError> {
    let at = |v: &str| {
        src.text
            .find(&format!("\"{v}\""))
            .or_else(|| src.text.find(v))
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
    };
    let app_ok = app.len() <= 255 && app.starts_with('/') && app[1..].split('/').all(segment_ok);
    if !app_ok {
        return Err(src.error_at(
            at(app),
            format!("frameworks.app = {app:?} is not a Marathon app id; expected e.g. \"/web\" or \"/group/web\" (lower-case letters, digits, '-' and '.')"),
        ));
    }
    if let Some(img) = image {
        let ok = !img.is_empty()
            && img.len() <= 1024
            && !img.starts_with('-')
            && !img.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(src.error_at(
                at(img),
                format!("frameworks.image = {img:?} is not a docker image; expected e.g. \"nginx:1.25\" (no spaces)"),
            ));
        }
    }
    Ok(())
}
