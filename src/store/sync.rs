//! Bringing the read-only view (`runs/<id>/run.json`, `journal.jsonl`, `audit.jsonl`) up to
//! date with the database when the store opens: after a kill between a commit and its view
//! line, or for runs written before the view existed. Nothing is written when they agree.

use super::mirror::{
    rewrite_lines, view_bytes, write_run_file, AUDIT_FILE, JOURNAL_FILE, RUN_FILE,
};
use super::sled_store::{db_err, prefix, Store};
use super::{RunRecord, StoreError, StoreResult};

impl Store {
    /// Rewrites every view file that differs from the database (atomically, file by file).
    pub(super) fn sync_view(&self) -> StoreResult<()> {
        for item in self.runs.iter() {
            let (k, v) = item.map_err(db_err)?;
            let id = String::from_utf8_lossy(&k).into_owned();
            if !super::files::valid_run_id(&id) {
                continue;
            }
            let dir_err = |source| StoreError::Dir {
                path: self.dir.join("runs").join(&id),
                source,
            };
            if !self.dir.join("runs").join(&id).join(RUN_FILE).exists() {
                let record: RunRecord =
                    serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                        key: format!("runs/{id}"),
                        reason: e.to_string(),
                    })?;
                write_run_file(&self.dir, &record).map_err(dir_err)?;
            }
            for (tree, file) in [(&self.journal, JOURNAL_FILE), (&self.audit, AUDIT_FILE)] {
                if self.view_agrees(tree, &id, file)? {
                    continue;
                }
                let mut bodies = Vec::new();
                for item in tree.scan_prefix(prefix(&id)) {
                    bodies.push(item.map_err(db_err)?.1.to_vec());
                }
                rewrite_lines(&self.dir, &id, file, &bodies).map_err(dir_err)?;
            }
        }
        Ok(())
    }

    /// Whether a run's view file holds exactly the tree's records, one per line, in order:
    /// every record compared in place with the file (no copy of either; at 10,000 agents the
    /// journal and the audit log are 40,000 records, read at every open).
    fn view_agrees(&self, tree: &sled::Tree, run: &str, file: &str) -> StoreResult<bool> {
        let Some(text) = view_bytes(&self.dir, run, file) else {
            return Ok(false);
        };
        let mut pos = 0;
        for item in tree.scan_prefix(prefix(run)) {
            let body = item.map_err(db_err)?.1;
            let end = pos + body.len();
            if text.get(pos..end) != Some(&body[..]) || text.get(end) != Some(&b'\n') {
                return Ok(false);
            }
            pos = end + 1;
        }
        Ok(pos == text.len())
    }
}
