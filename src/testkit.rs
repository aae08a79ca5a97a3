//! Support for the hermetic unit tests of the engine and the operations layer: a small cluster
//! behind the in-process doors, a hand-made plan, fake actions that record what ran, and a
//! prompter with scripted answers. Compiled for tests only.

use crate::cluster::Cluster;
use crate::door::fake::{answer, ok, FakeCluster};
use crate::door::Output;
use crate::model::Role;
use crate::options::RunOptions;
use crate::plan::{Action as PlanAction, Phase, PhaseId, Plan, Step, StepKind};
use crate::playbook::{Inventory, Playbook, SourceFile};
use crate::store::{RunRecord, Store};
use std::sync::{Arc, Mutex};

mod fakes;

pub use fakes::{Events, FakeActions, Scripted, Trace};

/// The masters' addresses of the test cluster.
pub const MASTERS: [&str; 3] = ["10.9.0.11", "10.9.0.12", "10.9.0.13"];

/// Who leads, shared between the test and the fake cluster's `/master/redirect`.
pub type Leader = Arc<Mutex<String>>;

/// An inventory of the three masters and `agents` private agents (10.9.1.x).
pub fn inventory(agents: usize) -> Inventory {
    let mut t = String::from(
        "[cluster]\nname = \"unit\"\n[ssh]\nuser = \"root\"\nbecome = \"none\"\n[bootstrap]\nupgrade_script_url = \"http://10.9.0.2:8080/upgrade/0123456789abcdef0123456789abcdef/dcos_node_upgrade.sh\"\n",
    );
    for m in MASTERS {
        t.push_str(&format!("[[masters]]\naddress = \"{m}\"\n"));
    }
    for i in 0..agents {
        t.push_str(&format!("[[agents]]\naddress = \"10.9.1.{}\"\n", 21 + i));
    }
    Inventory::parse(&SourceFile::from_text("unit.toml", &t)).expect("test inventory")
}

/// The output of a node-local read round (`probe::node`) on `node`, each read answered by
/// `reply(read key)` as (status, location, body); None leaves a read unanswered (status 0).
pub fn node_round(
    script: &str,
    node: &str,
    reply: impl Fn(&str) -> Option<(u16, Option<String>, String)>,
) -> Option<Output> {
    if !script.contains("@@dcu-node") {
        return None;
    }
    let mut out = format!("@@dcu-node {node} disabled\n");
    for key in [
        "master-metrics",
        "agent-metrics",
        "redirect",
        "flags",
        "exhibitor",
        "zk-ruok",
        "zk-srvr",
        "zk-mntr",
        "zk-root",
        "marathon-info",
    ] {
        if !script.contains(&format!(" {key} ")) {
            continue;
        }
        let (status, loc, body) = reply(key).unwrap_or((0, None, "refused".into()));
        out.push_str(&format!(
            "@@dcu-reply {key} {status} {} {}\n{body}\n",
            body.len(),
            loc.unwrap_or_else(|| "-".into())
        ));
    }
    Some(ok(out))
}

/// The fake cluster: every master's `/master/redirect` names `leader` (whose own
/// `master/elected` is 1), and the cluster-lock scripts succeed.
pub fn fake_cluster(leader: Leader) -> FakeCluster {
    FakeCluster::new()
        .on_script(move |node, script| {
            node_round(script, &node.address, |key| {
                let l = leader.lock().expect("leader").clone();
                match key {
                    "redirect" => Some((307, Some(format!("//{l}:5050")), String::new())),
                    "master-metrics" => Some((
                        200,
                        None,
                        format!(
                            r#"{{"master/elected": {}}}"#,
                            if node.address == l { 1.0 } else { 0.0 }
                        ),
                    )),
                    _ => None,
                }
            })
        })
        .on_get(|_| Some(answer(404, "")))
        .on_script(|_, script| {
            script.contains("cluster.lock").then(|| {
                if script.contains("put TAKEN") {
                    ok("TAKEN\n")
                } else {
                    ok("")
                }
            })
        })
}

/// A cluster seen through `fake`.
pub fn cluster(agents: usize, fake: Arc<FakeCluster>) -> Cluster {
    let inventory = inventory(agents);
    let playbook = Playbook::builtin();
    Cluster {
        timeouts: playbook.timeouts.with_overrides(&inventory.timeouts),
        agents: inventory.agents.clone().unwrap_or_default(),
        inventory,
        playbook,
        observe: fake,
        security: Default::default(),
        detected_ips: Default::default(),
        seen_leader: Default::default(),
        credentials: None,
    }
}

pub fn step(id: &str, kind: StepKind, node: Option<&str>, role: Option<Role>) -> Step {
    Step {
        id: id.to_string(),
        action: match kind {
            StepKind::Precheck | StepKind::Postcheck => PlanAction::Check,
            StepKind::ZkBackup => PlanAction::Backup,
            StepKind::ValidateVersions | StepKind::ValidateScript => PlanAction::Validate,
            StepKind::NodeSkip => PlanAction::Skip,
            _ => PlanAction::Upgrade,
        },
        kind,
        description: format!("test step {id}"),
        node: node.map(String::from),
        name: node.map(String::from),
        role,
        leader: None,
        batch: None,
        zone: None,
        app: None,
        from: Some(crate::plan::StepVersion::Dcos("2.1.3".into())),
        to: None,
        reason: None,
        gates: Vec::new(),
        pause_after: false,
    }
}

/// A plan: precheck, the three masters, agents (the first a canary, then batches of
/// `batch_size`), one app, postcheck.
pub fn plan(agents: usize, batch_size: usize) -> Plan {
    let masters = MASTERS
        .iter()
        .map(|m| {
            step(
                &format!("masters/{m}/upgrade"),
                StepKind::NodeUpgrade,
                Some(m),
                Some(Role::Master),
            )
        })
        .collect();
    let agent_steps = (0..agents)
        .map(|i| {
            let a = format!("10.9.1.{}", 21 + i);
            let mut s = step(
                &format!("agents/{a}/upgrade"),
                StepKind::NodeUpgrade,
                Some(&a),
                Some(Role::Agent),
            );
            s.batch = Some(if i == 0 {
                0
            } else {
                1 + ((i - 1) / batch_size) as u32
            });
            s
        })
        .collect();
    let mut app = step("frameworks/web", StepKind::AppUpgrade, None, None);
    app.app = Some("/web".into());
    app.from = Some(crate::plan::StepVersion::Image("nginx:1".into()));
    app.to = Some(crate::plan::StepVersion::Image("nginx:2".into()));
    Plan {
        cluster: "unit".into(),
        to: "2.2.1".into(),
        from: Some("2.1.3".into()),
        max_unavailable: batch_size as u32,
        max_unavailable_per_zone: None,
        doors: Vec::new(),
        security: Default::default(),
        excluded: Vec::new(),
        phases: vec![
            Phase {
                id: PhaseId::Precheck,
                steps: vec![step("precheck/cluster", StepKind::Precheck, None, None)],
            },
            Phase {
                id: PhaseId::Masters,
                steps: masters,
            },
            Phase {
                id: PhaseId::Agents,
                steps: agent_steps,
            },
            Phase {
                id: PhaseId::Frameworks,
                steps: vec![app],
            },
            Phase {
                id: PhaseId::Postcheck,
                steps: vec![step("postcheck/cluster", StepKind::Postcheck, None, None)],
            },
        ],
    }
}

/// A state directory with `plan` recorded as run `run-1`.
pub fn store_with(plan: Plan, options: &RunOptions) -> (tempfile::TempDir, Store, RunRecord) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let record = RunRecord {
        id: "run-1".into(),
        created_at: "2026-12-01T00:00:00Z".into(),
        cluster: plan.cluster.clone(),
        plan,
        inventory_path: "unit.toml".into(),
        inventory_text: String::new(),
        playbook_text: None,
        options: serde_json::to_value(options).expect("options"),
    };
    store.create_run(&record).expect("create run");
    (dir, store, record)
}
