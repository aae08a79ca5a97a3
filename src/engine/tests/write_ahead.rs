//! Engine tests of the journal's write-ahead copy on the cluster: it is made beside a changing
//! step's first reads, and the step's first change waits for it.

use super::*;
use crate::action::{Action, Registry, StepCtx, StepError};
use crate::testkit::Trace;

/// A copy that takes a while, and says when it begins and ends.
struct SlowCopy(Arc<Trace>);

#[async_trait::async_trait]
impl JournalMirror for SlowCopy {
    async fn flush(&self) {
        self.0.push("copy begins");
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        self.0.push("copy done");
    }
}

/// Every step reads, then changes a node through its change door.
struct ReadThenChange(Arc<Trace>);

impl Registry for ReadThenChange {
    fn action(&self, _kind: crate::plan::StepKind) -> &dyn Action {
        self
    }

    fn last_resort(&self) -> &dyn Action {
        self
    }
}

#[async_trait::async_trait]
impl Action for ReadThenChange {
    fn changes_cluster(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<serde_json::Value, StepError> {
        self.0.push(format!("read {}", ctx.step.id));
        let node = ctx.cluster.inventory.masters[0].clone();
        ctx.change(
            &node,
            "a change",
            "true",
            None,
            std::time::Duration::from_secs(5),
        )
        .await?;
        self.0.push(format!("changed {}", ctx.step.id));
        Ok(serde_json::json!({}))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_s_start_is_copied_to_the_cluster_beside_its_reads_and_before_its_change() {
    let l = leader(MASTERS[0]);
    let w = world(testkit::plan(1, 0), &l, &acked());
    let trace = Arc::new(Trace::default());
    let copy = SlowCopy(trace.clone());
    let actions = ReadThenChange(trace.clone());
    let change = change_door(&w);
    let engine = Engine::new(parts(&w, &change, &actions, acked(), None))
        .expect("engine")
        .with_mirror(&copy);
    assert_eq!(engine.execute(false).await.expect("journal"), Outcome::Done);
    let t = trace.all();
    // The node and framework steps change the cluster (the checks only read).
    let steps: Vec<String> = t
        .iter()
        .filter_map(|e| e.strip_prefix("changed ").map(String::from))
        .filter(|s| !s.starts_with("precheck/") && !s.starts_with("postcheck/"))
        .collect();
    assert!(steps.len() >= 5, "{t:?}");
    for s in &steps {
        let at = |e: &str| t.iter().position(|x| x == e).unwrap();
        let read = at(&format!("read {s}"));
        let changed = at(&format!("changed {s}"));
        // The copy of this step's start: the last one to begin before its change.
        let begins = t[..changed].iter().rposition(|x| x == "copy begins");
        let begins = begins.unwrap_or_else(|| panic!("no copy before {s}: {t:?}"));
        let done = begins + t[begins..].iter().position(|x| x == "copy done").unwrap();
        assert!(read < done, "the step's reads waited for the copy: {t:?}");
        assert!(
            done < changed,
            "the step changed the cluster before its copy: {t:?}"
        );
    }
}
