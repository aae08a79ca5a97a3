//! `dcos-sim serve`: the daemon that simulates every node's HTTP services, the bootstrap file
//! server and the control API. The model is one `Mutex<Cluster>` (see `state`) plus a ticker
//! task; one submodule per service.

mod admin_router;
mod agent_ids;
mod cockroach;
mod control;
mod exhibitor_zk;
mod listeners;
mod marathon;
mod marathon_model;
mod mesos_master;
mod network;
mod node_http;
mod records;
mod state;
mod tick;
mod tls;

use crate::model::SimDef;
use admin_router::*;
use agent_ids::*;
use axum::routing::{get, post};
use axum::Router;
use cockroach::*;
use control::*;
use exhibitor_zk::*;
use listeners::*;
use marathon::*;
use marathon_model::*;
use mesos_master::*;
use network::*;
use node_http::*;
use records::*;
use serde_json::json;
use state::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tls::*;

const REGISTER_DELAY: Duration = Duration::from_millis(300);
/// The node index of the bootstrap node's listeners.
const BOOTSTRAP: usize = usize::MAX;
/// The namespace index of the host (the operator's machine).
const HOST: usize = usize::MAX;

/// Formats a `SystemTime` as ISO-8601 with milliseconds (`2020-10-01T12:00:00.000Z`).
pub fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let ms = d.subsec_millis();
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let mm = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mm <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{mm:02}-{dd:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Runs the daemon for the testbed in `dir` until killed.
pub fn serve(dir: &Path) -> anyhow::Result<()> {
    let def = SimDef::load(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let boot = def.bootstrap_address.clone();
        let serve_dir = def.dir.join("bootstrap/serve");
        let ns = ns_threads(&def)?;
        let tls = Tls::load(&def)?;
        let iam = crate::iam::Iam::load(&def.dir, Duration::from_secs(def.token_ttl_secs))?;
        let shared: Shared = Arc::new(Mutex::new(Cluster::new(def)));
        shared.lock().unwrap().ns = ns;
        shared.lock().unwrap().tls = tls;
        shared.lock().unwrap().iam = iam;
        let ctl = Router::new()
            .route("/health", get(ctl_health))
            .route("/report", get(ctl_report))
            .route("/node/{node}/units", get(ctl_units))
            .route("/node/{node}/unit/{unit}", get(ctl_unit_status))
            .route("/node/{node}/unit/{unit}/{action}", post(ctl_unit_action))
            .route("/node/{node}/record/{event}", post(ctl_record))
            .route(
                "/node/{node}/fault/{kind}",
                get(ctl_fault_get).post(ctl_fault_set),
            )
            .route("/node/{node}/fault/{kind}/clear", post(ctl_fault_clear))
            .route("/iam/token", post(ctl_token))
            .route("/iam/revoke", post(ctl_revoke))
            .route("/node/{node}/attempt", post(ctl_attempt))
            .route("/node/{node}/attempt/{idx}/done", post(ctl_attempt_done))
            .route("/node/{node}/cockroach/status", get(ctl_cockroach_status))
            .with_state(shared.clone());
        let files = Router::new()
            .route("/{*path}", get(static_file))
            .with_state(serve_dir)
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                bootstrap_guard,
            ));
        {
            let mut c = shared.lock().unwrap();
            // The bootstrap node's file server and the control API: on the host, and (firewalled)
            // inside every node's namespace, where the node script and the shims reach them.
            let spaces: Vec<usize> = std::iter::once(HOST)
                .chain((0..c.ns.len()).filter(|i| c.ns[*i].is_some()))
                .collect();
            for ns in spaces {
                for (port, router) in [(9999, &ctl), (8080, &files)] {
                    let addr = format!("{boot}:{port}");
                    let l = c
                        .bind(ns, &addr)
                        .map_err(|e| anyhow::anyhow!("cannot bind {addr} (namespace {ns}): {e}"))?;
                    let h = serve_router(l, router.clone(), Wire::Plain, None)
                        .ok_or_else(|| anyhow::anyhow!("cannot serve {addr}"))?;
                    c.listeners.insert((ns, BOOTSTRAP, port), h);
                }
            }
            c.tick();
            sync_listeners(&shared, &mut c);
            c.record("started", json!({}));
        }
        let mut iv = tokio::time::interval(Duration::from_millis(100));
        loop {
            iv.tick().await;
            let stop = {
                let mut c = shared.lock().unwrap();
                c.tick();
                sync_listeners(&shared, &mut c);
                c.zk_reconcile()
            };
            stop_zookeepers(&shared, stop).await;
        }
    })
}
