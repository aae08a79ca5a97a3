//! Writing the journal's copy on every master: `<root><work_dir>/journal/<run>.jsonl` (default
//! `/var/lib/dcos-upgrade/journal/`), mode 0600, through the change door (audited). The first
//! write of an execution puts the whole chain in place (a fresh file, renamed over the old one,
//! which also repairs a master that missed writes or was tampered with); later writes append only
//! the new lines, one small write per master per flush. A master that cannot be written is a
//! warning; it gets the whole chain again at the next flush.

use crate::cluster::Cluster;
use crate::door::{Change, ScriptChange};
use crate::engine::JournalMirror;
use crate::events::{stamp, Event, EventSink};
use crate::machine::mirror::{to_text, Chain};
use crate::playbook::NodeSpec;
use crate::shell::quote;
use crate::store::{RunRecord, Store};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The step name under which mirror writes are audited.
pub const STEP: &str = "journal-mirror";

/// The mirror directory on a node (unquoted).
pub fn dir(cluster: &Cluster, node: &NodeSpec) -> String {
    format!("{}{}/journal", node.root, cluster.playbook.paths.work_dir)
}

/// The journal's copy on the masters of one execution.
pub struct Mirror<'a> {
    store: &'a Store,
    record: &'a RunRecord,
    cluster: &'a Cluster,
    change: &'a dyn Change,
    events: &'a dyn EventSink,
    /// Lines each master holds from this execution's writes (absent: rewrite it whole).
    written: Mutex<HashMap<String, usize>>,
    /// The chain so far (built at the first flush, then extended by each flush with the records
    /// appended since), held by one flush at a time (the steps of a batch finish together): no
    /// line is sent twice.
    chain: tokio::sync::Mutex<Option<Chain>>,
}

impl<'a> Mirror<'a> {
    /// The mirror of `record`'s run.
    pub fn new(
        store: &'a Store,
        record: &'a RunRecord,
        cluster: &'a Cluster,
        change: &'a dyn Change,
        events: &'a dyn EventSink,
    ) -> Mirror<'a> {
        Mirror {
            store,
            record,
            cluster,
            change,
            events,
            written: Mutex::new(HashMap::new()),
            chain: tokio::sync::Mutex::new(None),
        }
    }

    async fn write(&self, m: &NodeSpec, text: &str, from: Option<usize>) -> Result<(), String> {
        let d = dir(self.cluster, m);
        let f = format!("{d}/{}.jsonl", self.record.id);
        let script = match from {
            None => format!(
                "umask 077; d={d}; f={f}; mkdir -p \"$d\" && chmod 700 \"$d\" && cat > \"$f.tmp\" && chmod 600 \"$f.tmp\" && mv \"$f.tmp\" \"$f\"",
                d = quote(&d),
                f = quote(&f)
            ),
            Some(_) => format!(
                "umask 077; f={f}; [ -f \"$f\" ] || {{ echo 'the mirror file is gone'; exit 7; }}; cat >> \"$f\"",
                f = quote(&f)
            ),
        };
        let what = match from {
            None => "write the journal's copy",
            Some(_) => "append to the journal's copy",
        };
        let out = self
            .change
            .script(ScriptChange {
                step: STEP,
                node: &Cluster::target(m),
                description: what,
                script: &script,
                input: Some(text.as_bytes()),
                timeout: Duration::from_secs(30),
            })
            .await
            .map_err(|e| e.to_string())?;
        if out.ok() {
            Ok(())
        } else {
            Err(format!("exit {:?}: {}", out.status, out.tail(300)))
        }
    }
}

#[async_trait::async_trait]
impl JournalMirror for Mirror<'_> {
    async fn flush(&self) {
        let mut held = self.chain.lock().await;
        let chain = held.get_or_insert_with(|| {
            let header = serde_json::to_value(self.record).unwrap_or_default();
            Chain::new(&self.record.id, &header)
        });
        // Only the records appended since the last flush are read and hashed.
        match self.store.journal_from(&self.record.id, chain.records()) {
            Ok(new) => chain.extend(&new),
            Err(e) => {
                return self.warn(format!(
                    "the journal could not be read for its copy on the masters: {e}"
                ));
            }
        }
        let lines = chain.lines();
        let masters = &self.cluster.inventory.masters;
        let plan: Vec<(&NodeSpec, Option<usize>)> = {
            let w = self.written.lock().expect("mirror");
            masters
                .iter()
                .map(|m| (m, w.get(&m.address).copied()))
                .filter(|(_, n)| n.is_none_or(|n| n < lines.len()))
                .collect()
        };
        // Each text once, however many masters it goes to (a whole chain at 10,000 agents is
        // tens of megabytes).
        let mut texts: HashMap<usize, String> = HashMap::new();
        for (_, from) in &plan {
            let start = from.unwrap_or(0);
            texts
                .entry(start)
                .or_insert_with(|| to_text(&lines[start..]));
        }
        let texts = &texts;
        let writes = plan.iter().map(|(m, from)| async move {
            let text = &texts[&from.unwrap_or(0)];
            (m, self.write(m, text, *from).await)
        });
        for (m, res) in futures::future::join_all(writes).await {
            let mut w = self.written.lock().expect("mirror");
            match res {
                Ok(()) => {
                    w.insert(m.address.clone(), lines.len());
                }
                Err(e) => {
                    w.remove(&m.address);
                    drop(w);
                    self.warn(format!(
                        "the journal's copy on master {} could not be written ({e}); the run goes on, and the copy is written whole at the next step",
                        m.address
                    ));
                }
            }
        }
    }
}

impl Mirror<'_> {
    fn warn(&self, message: String) {
        self.events.emit(&stamp(Event::Warning { message }));
    }
}
