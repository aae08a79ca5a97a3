//! `resume --from-cluster` and `status --from-cluster`: a machine that never saw the run reads the
//! journal's copies from the masters (observe door, read-only), takes the longest chain a
//! majority of the inventory's masters agree on (a copy that does not verify is refused and
//! counts against every chain), rebuilds the local state from it, and continues as a local resume
//! would. The cluster lock of the run is taken over only once its heartbeat is stale.

use super::connect::connect;
use super::execute::Finished;
use super::{Io, OpsError, ResumeRequest};
use crate::cluster::Cluster;
use crate::events::{stamp, Event};
use crate::machine::mirror::{choose, decode, verify, Line};
use crate::machine::{Record, RunView};
use crate::playbook::{Inventory, Playbook};
use crate::shell::quote;
use crate::store::{RunRecord, Store};
use std::path::Path;

/// A run as the masters' copies of its journal have it.
#[derive(Debug, Clone)]
pub struct FromCluster {
    /// The run record (its inventory replaced by the one given here).
    pub record: RunRecord,
    /// The journal's records.
    pub journal: Vec<Record>,
    /// What was noticed on the way (copies ignored, masters behind).
    pub warnings: Vec<String>,
}

/// Run ids listed on each master (`ls` of the mirror directory).
async fn listed(cluster: &Cluster) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for m in &cluster.inventory.masters {
        let d = super::mirror::dir(cluster, m);
        let script = format!("ls -1 {} 2>/dev/null; true", quote(&d));
        let ids = match cluster.query(m, &script).await {
            Ok(o) => o
                .stdout
                .lines()
                .filter_map(|l| l.trim().strip_suffix(".jsonl"))
                .filter(|id| crate::store::valid_run_id(id))
                .map(String::from)
                .collect(),
            Err(_) => Vec::new(),
        };
        out.push(ids);
    }
    out
}

/// The newest run a majority of the masters have a copy of.
fn pick_run(masters: usize, listed: &[Vec<String>]) -> Option<String> {
    let mut all: Vec<&String> = listed.iter().flatten().collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .rev()
        .find(|id| listed.iter().filter(|l| l.contains(id)).count() > masters / 2)
        .cloned()
}

/// Reads and judges the masters' copies of the journal of `run` (default: the newest run a
/// majority has), with `inventory` (this machine's file) as the run's inventory. `playbook` is
/// the file the run was started with, if not the built-in one: its `paths.work_dir` is where
/// the copies are. The run goes on with the playbook saved in its own record either way.
pub async fn read(
    inventory: &Path,
    playbook: Option<&Path>,
    run: Option<&str>,
    trust_new_host_keys: bool,
) -> Result<FromCluster, OpsError> {
    let (inv, src) = Inventory::load_with_source(inventory).map_err(OpsError::bad_input)?;
    let (pb, pb_text) = match playbook {
        Some(p) => {
            let (pb, src) = Playbook::load_with_source(p).map_err(OpsError::bad_input)?;
            (pb, Some(src.text))
        }
        None => (Playbook::builtin(), None),
    };
    let (cluster, transport) = connect(inv, pb, trust_new_host_keys)?;
    let res = read_from(&cluster, run, playbook.is_some()).await;
    transport.close().await;
    let (mut record, journal, mut warnings) = res?;
    if record.playbook_text != pb_text {
        warnings.push(match &record.playbook_text {
            Some(_) => format!(
                "run {} was started with a playbook other than {}; it goes on with its own, as saved in its journal",
                record.id,
                playbook.map_or("the built-in one".to_string(), |p| p.display().to_string())
            ),
            None => format!(
                "run {} was started with the built-in playbook; it goes on with that one, not {}",
                record.id,
                playbook.map_or(String::new(), |p| p.display().to_string())
            ),
        });
    }
    if record.cluster != cluster.inventory.cluster_name {
        return Err(OpsError::BadInput(format!(
            "the masters' journal is of cluster {:?}, but {} names cluster {:?}",
            record.cluster,
            inventory.display(),
            cluster.inventory.cluster_name
        )));
    }
    record.inventory_path = inventory.to_path_buf();
    record.inventory_text = src.text;
    Ok(FromCluster {
        record,
        journal,
        warnings,
    })
}

async fn read_from(
    cluster: &Cluster,
    run: Option<&str>,
    own_playbook: bool,
) -> Result<(RunRecord, Vec<Record>, Vec<String>), OpsError> {
    let masters = &cluster.inventory.masters;
    let id = match run {
        Some(r) => r.to_string(),
        None => pick_run(masters.len(), &listed(cluster).await).ok_or_else(|| {
            let hint = if own_playbook {
                ""
            } else {
                "\nhelp: a run started with `--playbook FILE` keeps its copies under that playbook's `paths.work_dir`: pass the same `--playbook FILE`"
            };
            OpsError::Failed(format!(
                "no run's journal is on a majority of the {} masters (under {}/journal/); nothing to resume from the cluster{hint}",
                masters.len(),
                cluster.playbook.paths.work_dir
            ))
        })?,
    };
    if !crate::store::valid_run_id(&id) {
        return Err(OpsError::BadInput(format!("--run {id:?} is not a run id")));
    }
    let mut chains: Vec<(String, Result<Vec<Line>, String>)> = Vec::new();
    for m in masters {
        let f = format!("{}/{id}.jsonl", super::mirror::dir(cluster, m));
        let c = match cluster.query(m, &format!("cat {}", quote(&f))).await {
            Ok(o) if o.ok() => verify(&id, &o.stdout).map_err(|e| e.to_string()),
            Ok(o) => Err(format!("no copy ({})", o.tail(200))),
            Err(e) => Err(format!("unreachable ({e})")),
        };
        chains.push((m.address.clone(), c));
    }
    let chosen = choose(masters.len(), &chains).map_err(|e| OpsError::Failed(e.to_string()))?;
    let mut warnings = Vec::new();
    for (node, c) in &chains {
        match c {
            Err(e) => warnings.push(format!(
                "the journal's copy on master {node} is ignored: {e}"
            )),
            Ok(c) if c.len() < chosen.len() || c[..chosen.len()] != chosen[..] => warnings.push(
                format!("the journal's copy on master {node} differs from the majority's ({} line(s)); it is rewritten", c.len()),
            ),
            Ok(_) => {}
        }
    }
    let (header, journal) = decode(&chosen).map_err(|e| OpsError::Failed(e.to_string()))?;
    let record: RunRecord = serde_json::from_value(header)
        .map_err(|e| OpsError::Failed(format!("the masters' run record cannot be read: {e}")))?;
    if record.id != id {
        return Err(OpsError::Failed(format!(
            "the masters' journal of run {id} holds the record of run {}",
            record.id
        )));
    }
    Ok((record, journal, warnings))
}

/// Writes a run read from the cluster into the state directory `dir` (which must not have it).
pub fn rebuild(dir: &Path, run: &FromCluster) -> Result<(), OpsError> {
    let store = Store::open(dir)?;
    let id = &run.record.id;
    if store.run(id).is_ok() {
        return Err(OpsError::BadInput(format!(
            "run {id} is in the state directory {} already: its local journal is the truth; continue it with `dcos-upgrade resume --run {id}`",
            dir.display()
        )));
    }
    let view = RunView::replay(&run.record.plan, &run.journal)
        .map_err(|e| OpsError::Failed(format!("the masters' journal of run {id}: {e}")))?;
    store.create_run(&run.record)?;
    for r in &run.journal {
        store.append(id, r)?;
    }
    store.write_snapshot(id, &view)?;
    Ok(())
}

/// `resume --from-cluster --inventory FILE [--playbook FILE]`: reads the masters' copies, rebuilds the local
/// state, then resumes (a stale cluster lock of the run is taken over; a fresh one is refused).
pub async fn resume(
    r: &ResumeRequest,
    inventory: &Path,
    playbook: Option<&Path>,
    dir: &Path,
    io: &Io,
) -> Result<Finished, OpsError> {
    let run = read(inventory, playbook, r.run.as_deref(), r.trust_new_host_keys).await?;
    for w in &run.warnings {
        io.events
            .emit(&stamp(Event::Warning { message: w.clone() }));
    }
    rebuild(dir, &run)?;
    io.events.emit(&stamp(Event::Warning {
        message: format!(
            "run {} rebuilt from the masters' journal ({} record(s)); resuming it",
            run.record.id,
            run.journal.len()
        ),
    }));
    let request = ResumeRequest {
        run: Some(run.record.id.clone()),
        take_over_lock: true,
        ..r.clone()
    };
    super::resume(&request, dir, io, false).await
}

#[cfg(test)]
mod tests {
    use super::pick_run;

    #[test]
    fn the_newest_run_a_majority_has_is_picked() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let listed = vec![l(&["r1", "r3"]), l(&["r1", "r2"]), l(&["r1", "r2"])];
        assert_eq!(pick_run(3, &listed).as_deref(), Some("r2"));
        assert_eq!(pick_run(3, &[l(&["r9"]), l(&[]), l(&[])]), None);
    }
}
