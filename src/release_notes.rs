//! The release-notes gate: the notes for the target version (shipped under
//! `playbooks/release-notes/`, or the inventory's `[release_notes] file`), with the items that
//! matter for an upgrade first, and the operator's acknowledgement of exactly that version.

use crate::playbook::Inventory;

/// Release notes shipped with the tool: (file stem, text). A stem `X.Y.x` covers every patch of
/// that minor.
const SHIPPED: &[(&str, &str)] = &[
    ("2.2.1", include_str!("../playbooks/release-notes/2.2.1.md")),
    ("2.2.0", include_str!("../playbooks/release-notes/2.2.0.md")),
    ("2.1.x", include_str!("../playbooks/release-notes/2.1.x.md")),
];

/// Release notes for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseNotes {
    /// The target version they are for.
    pub version: String,
    /// Where they came from (shipped file or the inventory's file).
    pub source: String,
    /// The whole text (Markdown).
    pub text: String,
}

/// The gate's name for a version (recorded as an approved gate in the journal).
pub fn gate_name(version: &str) -> String {
    format!("release-notes:{version}")
}

/// The shipped notes for `version`: the exact file, else the `X.Y.x` file of its minor.
pub fn shipped(version: &str) -> Option<ReleaseNotes> {
    let v = version.trim();
    let minor_stem = v.split('.').take(2).collect::<Vec<_>>().join(".") + ".x";
    SHIPPED
        .iter()
        .find(|(stem, _)| *stem == v)
        .or_else(|| SHIPPED.iter().find(|(stem, _)| *stem == minor_stem))
        .map(|(stem, text)| ReleaseNotes {
            version: v.to_string(),
            source: format!("playbooks/release-notes/{stem}.md"),
            text: (*text).to_string(),
        })
}

/// The notes to show for `version`: the inventory's file when it names one, else the shipped
/// notes; `Ok(None)` when neither exists.
///
/// # Errors
/// The inventory names a file that cannot be read.
pub fn load(inventory: &Inventory, version: &str) -> Result<Option<ReleaseNotes>, String> {
    if let Some(p) = &inventory.release_notes_file {
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("[release_notes] file {}: {e}", p.display()))?;
        return Ok(Some(ReleaseNotes {
            version: version.to_string(),
            source: p.display().to_string(),
            text,
        }));
    }
    Ok(shipped(version))
}

fn is_important_heading(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    [
        "breaking",
        "required",
        "upgrade",
        "before you",
        "known issue",
        "deprecat",
        "removed",
    ]
    .iter()
    .any(|k| h.contains(k))
}

impl ReleaseNotes {
    /// The bullet items under headings about breaking changes, required steps, upgrades,
    /// removals and known issues, in order.
    pub fn important(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut on = false;
        for line in self.text.lines() {
            let t = line.trim();
            if let Some(h) = t.strip_prefix('#') {
                on = is_important_heading(h.trim_start_matches('#'));
                continue;
            }
            if on {
                if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
                    out.push(item.to_string());
                }
            }
        }
        out
    }

    /// The notes for the terminal: the upgrade-relevant items first, then the whole text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "Release notes for DC/OS {} ({})\n",
            self.version, self.source
        );
        let imp = self.important();
        if !imp.is_empty() {
            s.push_str("\nWhat matters for this upgrade:\n");
            for i in &imp {
                s.push_str(&format!("  ! {i}\n"));
            }
        }
        s.push('\n');
        s.push_str(&self.text);
        if !self.text.ends_with('\n') {
            s.push('\n');
        }
        s
    }
}

/// How `--ack-release-notes` relates to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// The notes of the target were acknowledged.
    Accepted,
    /// Another version's notes were acknowledged: refused.
    Mismatch {
        /// What was given.
        given: String,
    },
    /// Nothing given.
    Missing,
}

/// Compares the acknowledged version with the target (DC/OS version equality, so `2.2.0`
/// and ` 2.2.0` agree).
pub fn check_ack(ack: Option<&str>, to: &str) -> Ack {
    match ack {
        None => Ack::Missing,
        Some(a) if crate::phases::gates::same_version(a, to) => Ack::Accepted,
        Some(a) => Ack::Mismatch {
            given: a.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_notes_cover_2_2_1_2_2_0_and_every_2_1_patch() {
        assert_eq!(
            shipped("2.2.1").unwrap().source,
            "playbooks/release-notes/2.2.1.md"
        );
        assert_eq!(
            shipped("2.2.0").unwrap().source,
            "playbooks/release-notes/2.2.0.md"
        );
        assert_eq!(
            shipped("2.1.3").unwrap().source,
            "playbooks/release-notes/2.1.x.md"
        );
        assert!(shipped("1.10.0").is_none());
        assert!(shipped("garbage").is_none());
    }

    #[test]
    fn important_items_come_first() {
        let n = shipped("2.2.1").unwrap();
        let imp = n.important();
        assert!(imp.iter().any(|i| i.contains("ZooKeeper backup")));
        assert!(
            !imp.iter().any(|i| i.contains("Calico")),
            "fixed issues are not upgrade items"
        );
        let r = n.render();
        assert!(r.find("What matters").unwrap() < r.find("## Fixed issues").unwrap());
    }

    #[test]
    fn the_ack_must_name_the_target() {
        assert_eq!(check_ack(Some("2.2.1"), "2.2.1"), Ack::Accepted);
        assert_eq!(check_ack(None, "2.2.1"), Ack::Missing);
        assert_eq!(
            check_ack(Some("2.2.0"), "2.2.1"),
            Ack::Mismatch {
                given: "2.2.0".into()
            }
        );
    }
}
