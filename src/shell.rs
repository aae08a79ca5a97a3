//! Shell quoting and command templates: every value put into a remote command goes through here.

/// Quotes a value for a POSIX shell so that it is always one literal word.
///
/// `a;reboot` and `$(touch /tmp/pwned)` come out inert: single quotes disable every expansion,
/// and an embedded single quote is closed, escaped and reopened.
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%_+=:,./-".contains(&b))
    {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// An error in a command template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{name}` that the caller does not provide.
    #[error("unknown placeholder {{{0}}} (known: {1})")]
    Unknown(String, String),
    /// A `{` without its `}`.
    #[error("unclosed `{{` at byte {0}")]
    Unclosed(usize),
}

/// Expands `{name}` placeholders, quoting every value; `{{` and `}}` are literal braces.
///
/// The special value of `root` may be empty (production root `/`), in which case it expands to
/// nothing so that `{root}/opt/mesosphere` becomes exactly `/opt/mesosphere`.
pub fn render(template: &str, vars: &[(&str, &str)]) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                out.push('{');
                i += 2;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                out.push('}');
                i += 2;
            }
            b'{' => {
                let end = template[i..].find('}').ok_or(TemplateError::Unclosed(i))?;
                let name = &template[i + 1..i + end];
                let value = vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
                match value {
                    Some("") => {}
                    Some(v) => out.push_str(&quote(v)),
                    None => {
                        let known: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
                        return Err(TemplateError::Unknown(name.to_string(), known.join(", ")));
                    }
                }
                i += end + 1;
            }
            _ => {
                let ch = template[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Ok(out)
}

/// Checks a template against the placeholders its use site provides.
pub fn check(template: &str, known: &[&str]) -> Result<(), TemplateError> {
    let vars: Vec<(&str, &str)> = known.iter().map(|k| (*k, "x")).collect();
    render(template, &vars).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(
            quote("/opt/mesosphere/bin/dcos-shell"),
            "/opt/mesosphere/bin/dcos-shell"
        );
        assert_eq!(quote("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn hostile_values_are_inert_in_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        for hostile in [
            format!("$(touch {})", marker.display()),
            format!("a;touch {}", marker.display()),
            format!("`touch {}`", marker.display()),
            format!("x' ; touch {} ; '", marker.display()),
            "\n".to_string(),
            String::new(),
        ] {
            let cmd = format!("printf %s {}", quote(&hostile));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), hostile, "{cmd}");
        }
        assert!(!marker.exists());
    }

    #[test]
    fn templates_quote_values_and_drop_an_empty_root() {
        let r = render(
            "{root}/opt/x {archive}",
            &[("root", ""), ("archive", "a b")],
        )
        .unwrap();
        assert_eq!(r, "/opt/x 'a b'");
        let r = render("{root}/opt/x", &[("root", "/tmp/n 1/root")]).unwrap();
        assert_eq!(r, "'/tmp/n 1/root'/opt/x");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        assert!(matches!(
            check("echo {nope}", &["root"]),
            Err(TemplateError::Unknown(..))
        ));
        assert!(matches!(
            check("echo {root", &["root"]),
            Err(TemplateError::Unclosed(5))
        ));
    }
}
