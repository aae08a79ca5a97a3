//! Admin Router on the masters: what it proxies (the leading Mesos master, the Marathon leader,
//! the local Exhibitor, an agent's :5051), as real HTTP from the master's own network.
//!
//! Paths from dcos/dcos `packages/adminrouter/extra/src/includes/server/{common,master}.conf` @2.2
//! (facts §8.1); `/service/marathon/` from facts §5.

use super::*;
use crate::http;
use crate::model::Security;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use std::net::{SocketAddr, TcpStream};

/// Adds the proxied paths to a master's Admin Router.
pub(super) fn proxied_routes(r: Router<Ctx>) -> Router<Ctx> {
    r.route("/mesos/{*rest}", any(to_mesos_leader))
        .route("/marathon/{*rest}", any(to_marathon_leader))
        .route("/service/marathon/{*rest}", any(to_marathon_leader))
        .route("/exhibitor/{*rest}", any(to_local_exhibitor))
        .route("/agent/{id}/{*rest}", any(to_agent))
        .route("/system/v1/agent/{id}/{*rest}", get(to_agent_admin))
        .route("/acs/api/v1/auth/login", post(login))
        .route("/ca/dcos-ca.crt", get(ca_cert))
}

/// `POST /acs/api/v1/auth/login`: `{"uid", "password"}` or `{"uid", "token"}` (a service account's
/// RS256 login JWT) → `{"token"}`, or 401 `ERR_INVALID_CREDENTIALS`.
async fn login(State(ctx): State<Ctx>, body: String) -> Response {
    let mut c = ctx.shared.lock().unwrap();
    if c.nodes[ctx.node].security == Security::Disabled {
        return text(StatusCode::NOT_FOUND, "404 Not Found");
    }
    match c.iam.login(&body) {
        Ok(token) => {
            let uid = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["uid"].as_str().map(str::to_string));
            c.record("login", serde_json::json!({"uid": uid}));
            ok_json(serde_json::json!({"token": token}))
        }
        Err(why) => {
            c.unauthorized_requests += 1;
            json_resp(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"title": "Unauthorized", "description": why,
                                    "code": "ERR_INVALID_CREDENTIALS"}),
            )
        }
    }
}

/// `GET /ca/dcos-ca.crt`: the cluster CA (404 without TLS).
async fn ca_cert(State(ctx): State<Ctx>) -> Response {
    let ca = ctx.shared.lock().unwrap().def.ca_file();
    match ca.and_then(|p| std::fs::read_to_string(p).ok()) {
        Some(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response(),
        None => text(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

async fn to_mesos_leader(State(ctx): State<Ctx>, req: Request) -> Response {
    let target = {
        let c = ctx.shared.lock().unwrap();
        c.leader.map(|l| (l, 5050))
    };
    proxy(ctx, target, "/mesos", req).await
}

async fn to_marathon_leader(State(ctx): State<Ctx>, req: Request) -> Response {
    let target = {
        let c = ctx.shared.lock().unwrap();
        // With TLS on, Admin Router talks to Marathon's HTTPS port.
        marathon_leader_idx(&c).map(|l| match c.nodes[l].security {
            Security::Disabled => (l, 8080),
            _ => (l, MARATHON_TLS_PORT),
        })
    };
    let prefix = if req.uri().path().starts_with("/service/") {
        "/service/marathon"
    } else {
        "/marathon"
    };
    proxy(ctx, target, prefix, req).await
}

async fn to_local_exhibitor(State(ctx): State<Ctx>, req: Request) -> Response {
    let target = Some((ctx.node, 8181));
    proxy(ctx, target, "/exhibitor", req).await
}

async fn to_agent(
    State(ctx): State<Ctx>,
    UrlPath((id, _rest)): UrlPath<(String, String)>,
    req: Request,
) -> Response {
    let target = {
        let c = ctx.shared.lock().unwrap();
        let found = c.agents().find(|i| c.nodes[*i].id == id);
        found.map(|i| (i, 5051))
    };
    if target.is_none() {
        return text(
            StatusCode::NOT_FOUND,
            "404 Not Found: no agent with this id",
        );
    }
    proxy(ctx, target, &format!("/agent/{id}"), req).await
}

/// `/system/v1/agent/<agent-id>/…` to that agent's Admin Router `:61001` (dcos/dcos
/// `nginx.master.yaml`, facts §2: e.g. `/system/v1/agent/<id>/dcos-metadata/dcos-version.json`).
/// The agent is found among those the leader lists, as Admin Router finds it in the leader's state.
async fn to_agent_admin(
    State(ctx): State<Ctx>,
    UrlPath((id, _rest)): UrlPath<(String, String)>,
    req: Request,
) -> Response {
    let target = {
        let c = ctx.shared.lock().unwrap();
        let found = super::mesos_master::listed(&c).find(|i| c.nodes[*i].id == id);
        found.map(|i| (i, 61001))
    };
    if target.is_none() {
        return text(
            StatusCode::NOT_FOUND,
            "404 Not Found: no agent with this id",
        );
    }
    proxy(ctx, target, &format!("/system/v1/agent/{id}"), req).await
}

/// Forwards `req` (without `prefix`; its `Authorization` header only over TLS, never in clear
/// text) to `target` from the master's own network; 502 when the upstream does not answer,
/// 503 when there is none (no leader). To a node with security on, upstream connections are TLS,
/// verified against the cluster CA, presenting the node certificate (Exhibitor wants one in strict
/// mode). `target`: the upstream node and port.
async fn proxy(ctx: Ctx, target: Option<(usize, u16)>, prefix: &str, req: Request) -> Response {
    let Some((node, port)) = target else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable");
    };
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let rest = pq.strip_prefix(prefix).unwrap_or(&pq).to_string();
    let method = req.method().to_string();
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), 4 << 20).await {
        Ok(b) => String::from_utf8_lossy(&b).to_string(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "413 Request Entity Too Large",
            )
        }
    };
    let (ns, tls, target) = {
        let c = ctx.shared.lock().unwrap();
        let up = &c.nodes[node];
        // The agents' Admin Router :61001 is plain HTTP in every mode (its TLS port, 61002, is
        // not simulated), so that hop carries no token and a secured agent answers 401.
        let tls = c
            .tls
            .clone()
            .filter(|_| up.security != Security::Disabled && port != 61001);
        let target = format!("{}:{port}", up.def.address);
        (c.ns.get(ctx.node).cloned().flatten(), tls, target)
    };
    let timeout = Duration::from_secs(10);
    let answer = tokio::task::spawn_blocking(move || {
        let stream = match ns {
            Some(ns) => ns.connect(&target, Duration::from_secs(2))?,
            None => {
                let sa: SocketAddr = target
                    .parse()
                    .map_err(|e| std::io::Error::other(format!("{target}: {e}")))?;
                TcpStream::connect_timeout(&sa, Duration::from_secs(2))?
            }
        };
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let Some(tls) = tls else {
            return http::exchange(stream, &method, &target, &rest, &[], &body);
        };
        let ip: std::net::IpAddr = target
            .rsplit_once(':')
            .and_then(|(h, _)| h.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("{target}: not an IP address")))?;
        let name = rustls::pki_types::ServerName::IpAddress(ip.into());
        let conn = rustls::ClientConnection::new(tls.client.clone(), name)
            .map_err(std::io::Error::other)?;
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        http::exchange(
            rustls::StreamOwned::new(conn, stream),
            &method,
            &target,
            &rest,
            &headers,
            &body,
        )
    })
    .await;
    let Ok(Ok(a)) = answer else {
        return text(StatusCode::BAD_GATEWAY, "502 Bad Gateway");
    };
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut r = (status, a.body.clone()).into_response();
    for name in [header::CONTENT_TYPE, header::LOCATION] {
        if let Some(v) = a.header(name.as_str()).and_then(|v| v.parse().ok()) {
            r.headers_mut().insert(name, v);
        }
    }
    r
}
