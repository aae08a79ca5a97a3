//! The node listeners: opening and closing each service's port as its unit goes up and down, the
//! per-service routers, and the response helpers they share.

use super::*;
use crate::model::{NodeDef, Role, Security, SimDef};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// ZooKeeper's client port (four-letter words only), served while Exhibitor is up.
    Zk,
    Master,
    Marathon,
    Exhibitor,
    Diagnostics,
    Admin,
    Agent,
    AgentAdmin,
    /// The host-side SSH port of a node, proxied into its namespace (firewalled network).
    Ssh,
    /// A real ZooKeeper port (client, quorum, election) of a master, forwarded from another
    /// node's namespace into the master's (firewalled network, `--zookeeper real`).
    ZkForward,
}

pub(super) fn ports_for(
    def: &SimDef,
    role: Role,
    security: Security,
) -> Vec<(u16, &'static str, Kind)> {
    match role {
        Role::Master => {
            let mut v = vec![
                (5050, "dcos-mesos-master", Kind::Master),
                (8080, "dcos-marathon", Kind::Marathon),
                (8181, "dcos-exhibitor", Kind::Exhibitor),
                (2181, "dcos-exhibitor", Kind::Zk),
                (1050, "dcos-diagnostics", Kind::Diagnostics),
                (def.admin_port, "dcos-adminrouter", Kind::Admin),
            ];
            if security != Security::Disabled {
                v.push((def.admin_tls_port(), "dcos-adminrouter", Kind::Admin));
                v.push((MARATHON_TLS_PORT, "dcos-marathon", Kind::Marathon));
            }
            v
        }
        Role::Agent => vec![
            (5051, "dcos-mesos-slave", Kind::Agent),
            (61001, "dcos-adminrouter-agent", Kind::AgentAdmin),
        ],
        Role::PublicAgent => vec![
            (5051, "dcos-mesos-slave-public", Kind::Agent),
            (61001, "dcos-adminrouter-agent", Kind::AgentAdmin),
        ],
    }
}

/// Stops real ZooKeeper servers (blocking kills, off the async workers) and records it.
pub(super) async fn stop_zookeepers(shared: &Shared, nodes: Vec<NodeDef>) {
    for n in nodes {
        let def = shared.lock().unwrap().def.clone();
        let name = n.name.clone();
        let _ = tokio::task::spawn_blocking(move || crate::zk::stop(&def, &n)).await;
        shared
            .lock()
            .unwrap()
            .record("zookeeper", json!({"node": name, "stopped": true}));
    }
}

/// Per-listener handler context.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) shared: Shared,
    pub(super) node: usize,
    pub(super) unit: String,
    pub(super) kind: Kind,
    pub(super) port: u16,
}

pub(super) fn sync_listeners(shared: &Shared, c: &mut Cluster) {
    let desired = c.desired_listeners();
    let keys: BTreeSet<(usize, usize, u16)> =
        desired.iter().map(|w| (w.ns, w.node, w.port)).collect();
    let stale: Vec<(usize, usize, u16)> = c
        .listeners
        .keys()
        .filter(|k| k.1 != BOOTSTRAP && !keys.contains(k))
        .copied()
        .collect();
    for k in stale {
        if let Some(h) = c.listeners.remove(&k) {
            h.abort();
        }
    }
    for w in desired {
        let key = (w.ns, w.node, w.port);
        if c.listeners.contains_key(&key) {
            continue;
        }
        let addr = format!("{}:{}", c.address(w.node), w.port);
        let listener = match c.bind(w.ns, &addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "dcos-sim: cannot bind {addr} (namespace {}): {e} (will retry)",
                    w.ns
                );
                continue;
            }
        };
        let ctx = Ctx {
            shared: shared.clone(),
            node: w.node,
            unit: w.unit,
            kind: w.kind,
            port: w.port,
        };
        let h = match w.kind {
            Kind::Zk => serve_zk(listener, ctx),
            Kind::Ssh | Kind::ZkForward => match c.ns_thread(w.node) {
                // sshd may be starting: retry; a ZooKeeper peer retries by itself.
                Ok(ns) => {
                    let retry = if w.kind == Kind::Ssh { 5 } else { 0 };
                    serve_tcp_proxy(listener, ns, addr, Duration::from_secs(retry))
                }
                Err(_) => None,
            },
            kind => serve_router(
                listener,
                node_router(kind, ctx),
                wire_for(&c.def, c.nodes[w.node].security, kind, w.port),
                c.tls.clone(),
            ),
        };
        if let Some(h) = h {
            c.listeners.insert(key, h);
        }
    }
}

/// Serves `router` on an already bound listener (of any namespace), speaking `wire`.
pub(super) fn serve_router(
    std_l: std::net::TcpListener,
    router: Router,
    wire: Wire,
    tls: Option<Arc<Tls>>,
) -> Option<JoinHandle<()>> {
    let l = NodeListener::new(std_l, wire, tls).ok()?;
    Some(tokio::spawn(async move {
        let _ = axum::serve(l, router.into_make_service_with_connect_info::<Conn>()).await;
    }))
}

pub(super) fn json_resp(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub(super) fn ok_json(v: Value) -> Response {
    json_resp(StatusCode::OK, &v)
}

pub(super) fn text(status: StatusCode, s: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        s.to_string(),
    )
        .into_response()
}

/// Mesos-style metrics: keys with `/` escaped as `\/`, values as doubles.
pub(super) fn metrics_body(m: &[(&str, f64)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let val = if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        };
        s.push_str(&format!("\"{}\":{val}", k.replace('/', "\\/")));
    }
    s.push('}');
    s
}

pub(super) async fn guard(
    State(ctx): State<Ctx>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    req: Request,
    next: Next,
) -> Response {
    let token = req.headers().contains_key(header::AUTHORIZATION);
    let (garbage, up, unauthorized, to_https) = {
        let mut c = ctx.shared.lock().unwrap();
        let path = req.uri().path().to_string();
        // Every request that could change something is recorded (`check` must send none).
        if !matches!(req.method().as_str(), "GET" | "HEAD") {
            let name = c.nodes[ctx.node].def.name.clone();
            c.record(
                "http_write",
                json!({"node": name, "method": req.method().as_str(), "path": path}),
            );
        }
        if token && !conn.tls {
            // A token over plain HTTP travelled in clear text.
            c.plaintext_token_requests += 1;
            let name = c.nodes[ctx.node].def.name.clone();
            c.record("plaintext_token", json!({"node": name, "path": path}));
        }
        // Strict mode: Admin Router's plain port only redirects to HTTPS.
        let security = c.nodes[ctx.node].security;
        let to_https =
            (security == Security::Strict && ctx.kind == Kind::Admin && !conn.tls).then(|| {
                let port = c.def.admin_tls_port();
                let host = &c.nodes[ctx.node].def.address;
                let pq = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                match port {
                    443 => format!("https://{host}{pq}"),
                    p => format!("https://{host}:{p}{pq}"),
                }
            });
        let valid = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("token="))
            .is_some_and(|t| c.iam.valid(t));
        let unauthorized =
            to_https.is_none() && !valid && needs_auth(security, ctx.kind, ctx.port, &path);
        if unauthorized {
            c.unauthorized_requests += 1;
        }
        let n = &c.nodes[ctx.node];
        (
            n.fault("http-garbage"),
            n.unit_up(&ctx.unit),
            unauthorized,
            to_https,
        )
    };
    if let Some(location) = to_https {
        if up {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
                "",
            )
                .into_response();
        }
    }
    if !up {
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "service stopped");
        r.headers_mut()
            .insert(header::CONNECTION, "close".parse().unwrap());
        return r;
    }
    if unauthorized {
        let mut r = text(StatusCode::UNAUTHORIZED, "401 Unauthorized");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, "acsjwt".parse().unwrap());
        return r;
    }
    if garbage {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html><body>502 Bad Gateway</body></html>\n\u{0}garbage{{{",
        )
            .into_response();
    }
    next.run(req).await
}

/// Whether a request needs `Authorization: token=...`: Admin Router enforces it in permissive and
/// strict mode, except on the paths it serves to anyone; in strict mode Mesos (masters and agents)
/// and Marathon (:8080 and :8443) want one on every request (facts §8.1; issue 10). The token must be one the testbed's IAM issued and not
/// expired (`Authorization: token=...`).
fn needs_auth(security: Security, kind: Kind, port: u16, path: &str) -> bool {
    // Strict: Mesos and Marathon authenticate every request too (facts §8.1).
    let _ = port;
    if security == Security::Strict && matches!(kind, Kind::Master | Kind::Agent | Kind::Marathon) {
        return true;
    }
    const PUBLIC: &[&str] = &[
        "/dcos-metadata/dcos-version.json",
        "/ca/dcos-ca.crt",
        "/acs/api/v1/auth/login",
    ];
    security != Security::Disabled
        && matches!(kind, Kind::Admin | Kind::AgentAdmin)
        && !PUBLIC.contains(&path)
}

pub(super) fn node_router(kind: Kind, ctx: Ctx) -> Router {
    let r: Router<Ctx> = match kind {
        Kind::Zk | Kind::Ssh | Kind::ZkForward => Router::new(),
        Kind::Master => Router::new()
            .route("/metrics/snapshot", get(master_metrics))
            .route("/master/redirect", get(master_redirect))
            .route("/redirect", get(master_redirect))
            .route("/state", get(master_state))
            .route("/master/state", get(master_state))
            .route("/state.json", get(master_state))
            .route("/master/state.json", get(master_state))
            .route("/slaves", get(master_slaves))
            .route("/master/slaves", get(master_slaves))
            .route("/version", get(mesos_version_h))
            .route("/flags", get(master_flags))
            .route("/master/flags", get(master_flags))
            .route(
                "/maintenance/schedule",
                get(maint_schedule).post(maint_schedule_post),
            )
            .route(
                "/master/maintenance/schedule",
                get(maint_schedule).post(maint_schedule_post),
            )
            .route("/maintenance/status", get(maint_status))
            .route("/master/maintenance/status", get(maint_status))
            .route("/master/teardown", post(teardown).get(method_not_allowed))
            .route("/teardown", post(teardown).get(method_not_allowed)),
        Kind::Marathon => Router::new()
            .route("/v2/info", get(marathon_info))
            .route("/v2/leader", get(marathon_leader))
            .route("/v2/apps", get(marathon_apps))
            .route("/v2/apps/{*id}", get(marathon_app).put(marathon_put))
            .route("/v2/deployments", get(marathon_deployments))
            .route("/ping", get(|| async { "pong" })),
        Kind::Exhibitor => {
            Router::new().route("/exhibitor/v1/cluster/status", get(exhibitor_status))
        }
        Kind::Diagnostics => Router::new()
            .route("/system/health/v1", get(diag_health))
            .route("/system/health/v1/nodes", get(diag_nodes)),
        Kind::Admin => proxied_routes(
            Router::new()
                .route("/dcos-metadata/dcos-version.json", get(dcos_version))
                .route("/system/health/v1", get(diag_health))
                .route("/system/health/v1/nodes", get(diag_nodes)),
        ),
        Kind::Agent => Router::new()
            .route("/metrics/snapshot", get(agent_metrics))
            .route("/state", get(agent_state))
            .route("/slave(1)/state", get(agent_state))
            .route("/state.json", get(agent_state))
            .route("/version", get(mesos_version_h)),
        Kind::AgentAdmin => Router::new()
            .route("/dcos-metadata/dcos-version.json", get(dcos_version))
            .route("/system/health/v1", get(diag_health)),
    };
    r.layer(axum::middleware::from_fn_with_state(ctx.clone(), guard))
        .with_state(ctx)
}

pub(super) async fn method_not_allowed() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "Expecting 'POST', received 'GET'",
    )
}
