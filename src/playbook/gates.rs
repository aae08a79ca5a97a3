//! The operator's own gates between nodes (`[[gates]]`) and the approvals after named nodes
//! (`pause_after`): parsed and checked against the inventory's nodes, with the file and line of
//! anything that does not fit.
//!
//! A gate's command runs through the observe door: it must only read (e.g. `nodetool status`,
//! `ceph health`); the tool never audits it as a change and runs it again and again until it
//! exits 0.

use super::inventory::NodeSpec;
use super::source::{ConfigError, SourceFile};
use crate::model::Role;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The placeholders a gate's command may use; each value is shell-quoted when substituted.
pub const PLACEHOLDERS: [&str; 4] = ["node", "name", "role", "to"];

/// Default `timeout_secs` of a gate.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Default `interval_secs` of a gate.
pub const DEFAULT_INTERVAL_SECS: u64 = 5;

/// After which node steps a gate runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAfter {
    /// After each master.
    Masters,
    /// After each agent, private or public.
    Agents,
    /// After each node of one role (`private_agents`, `public_agents`).
    Role(Role),
    /// After one node (its address).
    Node(String),
}

impl GateAfter {
    /// Whether the gate follows the step of `node` (address) of `role`.
    pub fn matches(&self, node: &str, role: Role) -> bool {
        match self {
            GateAfter::Masters => role == Role::Master,
            GateAfter::Agents => role != Role::Master,
            GateAfter::Role(r) => *r == role,
            GateAfter::Node(a) => a == node,
        }
    }
}

/// Where a gate's command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOn {
    /// On the node just upgraded, over its SSH connection.
    Node,
    /// On the operator's machine (`sh -c`).
    Local,
    /// On one named node (its address), over its SSH connection.
    At(String),
}

/// One `[[gates]]` entry, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorGate {
    /// Its name (letters, digits, `.`, `_`, `-`), unique in the inventory.
    pub name: String,
    /// After which node steps it runs.
    pub after: GateAfter,
    /// Where its command runs.
    pub run_on: RunOn,
    /// The read-only command; `{node}`, `{name}`, `{role}`, `{to}` are substituted quoted.
    pub command: String,
    /// How long it may take to pass (1 to 604800 seconds).
    pub timeout_secs: u64,
    /// Seconds between two tries (at least 1, at most `timeout_secs`).
    pub interval_secs: u64,
}

/// `[[gates]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    name: Spanned<String>,
    after: Spanned<String>,
    run_on: Option<Spanned<String>>,
    command: Spanned<String>,
    timeout_secs: Option<Spanned<i64>>,
    interval_secs: Option<Spanned<i64>>,
}

const AFTER_EXPECTED: &str = "expected masters, agents, private_agents, public_agents, or the name or address of a node listed under [[masters]] or [[agents]] (or, when the inventory lists no [[agents]], an agent's address or hostname)";
const RUN_ON_EXPECTED: &str = "expected \"node\" (the node just upgraded), \"local\" (this machine), or the name or address of a node listed under [[masters]] or [[agents]]";

/// A node named in `[[gates]]` or `pause_after` that the inventory does not list, kept until the
/// agents are discovered from the leading master (an inventory without `[[agents]]`). Where it
/// was written, for the error if no discovered agent has that address or hostname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitsDiscovery {
    /// The name or address as written.
    pub written: String,
    /// The key it was written under (`pause_after`, `gates.after`, `gates.run_on`).
    pub key: String,
    /// `FILE:LINE:COLUMN` of the value.
    pub at: String,
}

/// The nodes a reference may name: those the inventory lists, and whether agents are
/// discovered (then a host address or name that is no listed node waits for discovery).
pub(super) struct Known<'a> {
    /// The listed masters and agents.
    pub nodes: Vec<&'a NodeSpec>,
    /// The inventory lists no agents: they come from the leading master.
    pub discovering: bool,
}

/// Finds `n` (a name or an address) among the listed nodes; when agents are discovered, a host
/// address or name listed nowhere is kept as written and noted in `later`.
fn find(
    src: &SourceFile,
    known: &Known,
    spanned: &Spanned<String>,
    key: &str,
    later: &mut Vec<AwaitsDiscovery>,
) -> Option<String> {
    let n = spanned.get_ref().trim();
    if let Some(s) = known
        .nodes
        .iter()
        .find(|s| s.name == n || s.address.eq_ignore_ascii_case(n))
    {
        return Some(s.address.clone());
    }
    if !(known.discovering && super::is_host_address(n)) {
        return None;
    }
    let (line, column) = src.line_col(spanned.span().start);
    if !later.iter().any(|l| l.written == n) {
        later.push(AwaitsDiscovery {
            written: n.to_string(),
            key: key.to_string(),
            at: format!("{}:{line}:{column}", src.path.display()),
        });
    }
    Some(n.to_string())
}

/// Once the agents are discovered, each reference that waited for them becomes the agent's
/// address (matched by address or hostname), in the gates and pauses alike.
///
/// # Errors
/// A reference no discovered agent answers to, with where it was written and what is expected.
pub fn resolve_discovered(
    later: &[AwaitsDiscovery],
    agents: &[NodeSpec],
    gates: &mut [OperatorGate],
    pause_after: &mut Vec<String>,
) -> Result<(), String> {
    for r in later {
        let Some(a) = agents
            .iter()
            .find(|a| a.address.eq_ignore_ascii_case(&r.written) || a.name == r.written)
        else {
            return Err(format!(
                "{}: {} = {:?} is no node of this inventory and no agent the leading master reports ({} agent(s) discovered); expected the name or address of a node listed under [[masters]], or the address or hostname of an agent in the leader's /slaves",
                r.at,
                r.key,
                r.written,
                agents.len()
            ));
        };
        let addr = a.address.clone();
        for g in gates.iter_mut() {
            if let GateAfter::Node(n) = &mut g.after {
                if *n == r.written {
                    *n = addr.clone();
                }
            }
            if let RunOn::At(n) = &mut g.run_on {
                if *n == r.written {
                    *n = addr.clone();
                }
            }
        }
        for p in pause_after.iter_mut().filter(|p| **p == r.written) {
            *p = addr.clone();
        }
        pause_after.dedup();
    }
    Ok(())
}

fn seconds(
    src: &SourceFile,
    key: &str,
    v: Option<&Spanned<i64>>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    let n = *v.get_ref();
    let max = crate::playbook::bounds::TIMEOUT_SECS.max;
    if n < 1 || n as u64 > max {
        return Err(src.error_at(
            Some(v.span().start),
            format!("{key} = {n}: expected a whole number of seconds from 1 to {max}"),
        ));
    }
    Ok(n as u64)
}

/// Checks `[[gates]]` against the listed nodes (and notes in `later` those left to discovery).
pub(super) fn gates(
    src: &SourceFile,
    raw: &[RawGate],
    known: &Known,
    later: &mut Vec<AwaitsDiscovery>,
) -> Result<Vec<OperatorGate>, ConfigError> {
    let mut out: Vec<OperatorGate> = Vec::new();
    for g in raw {
        let at = |s: &Spanned<String>| Some(s.span().start);
        let name = g.name.get_ref().trim().to_string();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(src.error_at(
                at(&g.name),
                format!("gates.name = {name:?}: expected a name of letters, digits, '.', '_' or '-' (at most 64), e.g. \"cassandra-healthy\""),
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(src.error_at(
                at(&g.name),
                format!("gate {name:?} is defined twice; expected every [[gates]] name once"),
            ));
        }
        let a = g.after.get_ref().trim();
        let after = match a {
            "masters" => GateAfter::Masters,
            "agents" => GateAfter::Agents,
            "private_agents" => GateAfter::Role(Role::Agent),
            "public_agents" => GateAfter::Role(Role::PublicAgent),
            other => match find(src, known, &g.after, "gates.after", later) {
                Some(addr) => GateAfter::Node(addr),
                None => {
                    return Err(src.error_at(
                        at(&g.after),
                        format!("gate {name}: after = {other:?} is no role and no node of this inventory; {AFTER_EXPECTED}"),
                    ))
                }
            },
        };
        let run_on = match g.run_on.as_ref().map(|r| (r, r.get_ref().trim())) {
            None | Some((_, "node")) => RunOn::Node,
            Some((_, "local")) => RunOn::Local,
            Some((r, other)) => match find(src, known, r, "gates.run_on", later) {
                Some(addr) => RunOn::At(addr),
                None => {
                    return Err(src.error_at(
                        at(r),
                        format!("gate {name}: run_on = {other:?} is no node of this inventory; {RUN_ON_EXPECTED}"),
                    ))
                }
            },
        };
        let command = g.command.get_ref().clone();
        if command.trim().is_empty() {
            return Err(src.error_at(
                at(&g.command),
                format!("gate {name}: command is empty; expected a read-only shell command that exits 0 when the gate passes, e.g. \"nodetool status | grep -c '^UN' | grep -qx 3\""),
            ));
        }
        if command
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(src.error_at(
                at(&g.command),
                format!(
                    "gate {name}: command contains control characters; expected plain shell text"
                ),
            ));
        }
        let dummy: Vec<(&str, &str)> = PLACEHOLDERS.iter().map(|p| (*p, "x")).collect();
        if let Err(e) = crate::shell::render(&command, &dummy) {
            return Err(src.error_at(
                at(&g.command),
                format!("gate {name}: command: {e}; write a literal brace as {{{{ or }}}}"),
            ));
        }
        let timeout_secs = seconds(
            src,
            "gates.timeout_secs",
            g.timeout_secs.as_ref(),
            DEFAULT_TIMEOUT_SECS,
        )?;
        let interval_secs = seconds(
            src,
            "gates.interval_secs",
            g.interval_secs.as_ref(),
            DEFAULT_INTERVAL_SECS.min(timeout_secs),
        )?;
        if interval_secs > timeout_secs {
            return Err(src.error_at(
                g.interval_secs.as_ref().map(|v| v.span().start),
                format!("gate {name}: interval_secs = {interval_secs} is longer than timeout_secs = {timeout_secs}; expected an interval at most the timeout"),
            ));
        }
        out.push(OperatorGate {
            name,
            after,
            run_on,
            command,
            timeout_secs,
            interval_secs,
        });
    }
    Ok(out)
}

/// Checks `pause_after` against the listed nodes: the addresses, in the order written (and
/// notes in `later` those left to discovery).
pub(super) fn pause_after(
    src: &SourceFile,
    raw: Option<&Vec<Spanned<String>>>,
    known: &Known,
    later: &mut Vec<AwaitsDiscovery>,
) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for n in raw.into_iter().flatten() {
        match find(src, known, n, "pause_after", later) {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None => {
                return Err(src.error_at(
                    Some(n.span().start),
                    format!("pause_after: {:?} is no node of this inventory; expected the name or address of a node listed under [[masters]] or [[agents]]", n.get_ref()),
                ))
            }
        }
    }
    Ok(out)
}
