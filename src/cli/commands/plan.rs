//! `plan`: observe the cluster, build the plan and print it (as a table or as JSON).

use super::CliResult;
use crate::cli::args::PlanArgs;
use crate::cli::exit;
use crate::cli::CliError;
use crate::ops;
use crate::plan::Plan;

/// Runs `plan`.
pub(super) async fn exec(a: PlanArgs, json: bool) -> CliResult<i32> {
    let planned = ops::plan(&super::run::plan_request(&a))
        .await
        .map_err(CliError::from)?;
    planned.transport.close().await;
    let plan = planned.plan;
    if json {
        super::print_versioned(&plan);
    } else {
        print!("{}", crate::secrets::for_people(&render_plan(&plan)));
    }
    Ok(exit::OK)
}

/// The plan as a table for people.
pub fn render_plan(plan: &Plan) -> String {
    let per_zone = plan
        .max_unavailable_per_zone
        .map(|z| format!(", at most {z} per zone"))
        .unwrap_or_default();
    let mut s = format!(
        "Plan for cluster {}: {} -> {} (agents: canary, then batches of {}{per_zone})\n",
        plan.cluster,
        plan.from.as_ref().map_or("?", |f| f.as_str()),
        plan.to,
        plan.max_unavailable
    );
    if let Some(modes) = crate::model::security_summary(&plan.security) {
        s.push_str(&format!("security: {modes}\n"));
    }
    for e in &plan.excluded {
        s.push_str(&format!("{}\n", e.warning()));
    }
    if plan.changes_nothing() {
        s.push_str(&format!(
            "nothing to upgrade: every node is already at {} and no app changes\n",
            plan.to
        ));
    }
    for ph in &plan.phases {
        s.push_str(&format!("\n{}\n", ph.id));
        if ph.steps.is_empty() {
            s.push_str("  (nothing to do)\n");
        }
        for st in &ph.steps {
            let mut extra = Vec::new();
            if let Some(r) = st.role {
                extra.push(r.to_string());
            }
            match (&st.name, &st.node) {
                (Some(n), Some(a)) if n != a => extra.push(format!("{n} ({a})")),
                (_, Some(a)) if !st.id.contains(a.as_str()) => extra.push(a.clone()),
                _ => {}
            }
            if st.leader == Some(true) {
                extra.push("leader".into());
            }
            if let Some(b) = st.batch {
                extra.push(if b == 0 {
                    "canary".into()
                } else {
                    format!("batch {b}")
                });
            }
            if let Some(z) = &st.zone {
                extra.push(format!("zone {z}"));
            } else if plan.max_unavailable_per_zone.is_some() && st.batch.is_some() {
                extra.push("no zone".into());
            }
            if let (Some(f), Some(t)) = (&st.from, &st.to) {
                extra.push(format!("{f} -> {t}"));
            }
            if let Some(r) = &st.reason {
                extra.push(r.clone());
            }
            s.push_str(&format!(
                "  {:<8} {:<40} {}\n",
                format!("{:?}", st.action).to_lowercase(),
                st.id,
                extra.join(", ")
            ));
            for g in &st.gates {
                s.push_str(&format!(
                    "  {:<8} {:<40} on {}, every {} s for up to {} s: {}\n",
                    "gate",
                    g.id(st),
                    g.run_on,
                    g.interval_secs,
                    g.timeout_secs,
                    g.command.replace('\n', "\\n")
                ));
            }
            if st.pause_after {
                s.push_str(&format!(
                    "  {:<8} {:<40} wait for an approval (a prompt, or resume --yes)\n",
                    "pause",
                    format!("pause-after:{}", st.node.as_deref().unwrap_or("-"))
                ));
            }
        }
    }
    // Points of no return (issue 12): past one, rollback does not downgrade the masters.
    if !plan.doors.is_empty() {
        s.push_str("\npoints of no return\n");
        for d in &plan.doors {
            s.push_str(&format!(
                "  {:<20} {} -> {}: {}\n",
                d.id, d.from, d.to, d.reason
            ));
        }
    }
    if !plan.changes_nothing() {
        s.push_str("\ngates (the run stops at each until approved)\n");
        for (id, what) in plan.gates() {
            s.push_str(&format!("  {id:<24} {what}\n"));
        }
    }
    s
}
