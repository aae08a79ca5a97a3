//! The one place secrets are kept out of what the tool prints and records, and cluster-supplied
//! text is made safe for a terminal.
//!
//! Every secret the process learns (the ACS token from the environment, a token from a login, a
//! password) is [`register`]ed; [`redact`] replaces each by `<redacted>`. The CLI passes every
//! line it prints (human, JSON, errors) through [`redact`], the change door every audit entry,
//! the engine every journaled error. [`for_terminal`] escapes control characters in text the
//! cluster supplied (app ids, versions, error bodies) before it reaches a terminal.

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a secret so that it is redacted from everything printed or recorded from now on.
/// Strings shorter than 4 characters are not secrets worth hiding (they would mangle output).
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    if let Ok(mut s) = SECRETS.write() {
        if !s.iter().any(|x| x == secret) {
            s.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }
}

/// Replaces every registered secret in `text` by `<redacted>`.
pub fn redact(text: &str) -> String {
    let Ok(s) = SECRETS.read() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "<redacted>");
        }
    }
    out
}

/// Escapes control characters (ESC, BEL, CR, backspace, C1 controls...) as `\u{..}`, keeping
/// newlines and tabs, so text from the cluster cannot clear the screen or set the window title.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// What the CLI prints on a terminal or a pipe for people: redacted, then escaped.
pub fn for_people(text: &str) -> String {
    for_terminal(&redact(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_redacted_wherever_they_appear() {
        register("tok-en-4242-secret");
        register("ab");
        assert_eq!(
            redact("Authorization: token=tok-en-4242-secret (ab)"),
            "Authorization: token=<redacted> (ab)"
        );
    }

    #[test]
    fn escape_sequences_from_the_cluster_are_shown_not_obeyed() {
        let hostile = "app\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n\tok";
        let shown = for_terminal(hostile);
        assert!(!shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'));
        assert!(shown.contains("\\u{1b}]0;pwned\\u{7}"));
        assert!(shown.ends_with("\n\tok"));
    }
}
