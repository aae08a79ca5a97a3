//! Framework upgrades through Marathon: save the app definition, PUT the change, wait for the
//! deployment to finish and every instance to be healthy. Undo puts the saved definition back.

use super::StepCtx;
use crate::probe::wait::{self, Poll};
use std::time::Duration;

/// Marathon as Admin Router serves it (`/marathon/` reaches the Marathon leader, facts §8.1).
async fn marathon_base(ctx: &StepCtx<'_>) -> Result<String, String> {
    crate::probe::admin::url(ctx.cluster, "/marathon").ok_or_else(|| "no master".into())
}

/// The step's app id, the Marathon base URL and the app's URL.
async fn app_url(ctx: &StepCtx<'_>) -> Result<(String, String, String), String> {
    let app = ctx
        .step
        .app
        .clone()
        .ok_or("framework step without an app")?;
    let base = marathon_base(ctx).await?;
    let url = format!("{base}/v2/apps{app}");
    Ok((app, base, url))
}

/// Applies the app change and waits for its deployment.
pub async fn upgrade(
    ctx: &StepCtx<'_>,
    previous: Option<serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let (app, base, url) = app_url(ctx).await?;
    let current: serde_json::Value = crate::door::get_json(c.observe.as_ref(), &url)
        .await
        .map_err(|e| e.to_string())?;
    let current = current.get("app").cloned().unwrap_or(current);
    let saved = previous.unwrap_or_else(|| current.clone());
    let image = ctx
        .step
        .to
        .clone()
        .ok_or("framework step without a target image")?;
    let have = current
        .pointer("/container/docker/image")
        .and_then(|v| v.as_str());
    if have != Some(image.as_str()) {
        let body = serde_json::json!({"container": {"type": "DOCKER", "docker": {"image": image}}});
        put(ctx, &url, &body).await?;
    }
    wait_deployed(ctx, &base, &app).await?;
    Ok(super::outputs::write(&super::outputs::AppOutput {
        app,
        previous: saved,
        image,
    }))
}

/// Puts a saved app definition back.
pub async fn restore(ctx: &StepCtx<'_>, saved: &serde_json::Value) -> Result<(), String> {
    let (app, base, url) = app_url(ctx).await?;
    let mut body = saved.clone();
    if let Some(o) = body.as_object_mut() {
        for k in [
            "version",
            "versionInfo",
            "tasksStaged",
            "tasksRunning",
            "tasksHealthy",
            "tasksUnhealthy",
            "deployments",
            "tasks",
            "lastTaskFailure",
        ] {
            o.remove(k);
        }
    }
    put(ctx, &url, &body).await?;
    wait_deployed(ctx, &base, &app).await
}

async fn put(ctx: &StepCtx<'_>, url: &str, body: &serde_json::Value) -> Result<(), String> {
    // Through the change door: audited before and after, with crash checkpoints on both sides.
    let a = ctx
        .change
        .http(crate::door::HttpChange {
            step: &ctx.step.id,
            description: "PUT the Marathon app definition",
            method: crate::door::WriteMethod::Put,
            url,
            body: Some(body),
        })
        .await
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&a.status) {
        return Err(format!(
            "PUT {url}: HTTP {}: {}",
            a.status,
            a.body.chars().take(200).collect::<String>()
        ));
    }
    ctx.progress(format!("Marathon accepted the change of {url}"));
    Ok(())
}

async fn wait_deployed(ctx: &StepCtx<'_>, base: &str, app: &str) -> Result<(), String> {
    let c = ctx.cluster;
    wait::until(
        &format!("Marathon deployment of {app} finished with every instance healthy"),
        Duration::from_secs(c.timeouts.deployment_secs),
        c.poll(),
        || async {
            let deps: Vec<serde_json::Value> =
                match crate::door::get_json(c.observe.as_ref(), &format!("{base}/v2/deployments"))
                    .await
                {
                    Ok(d) => d,
                    Err(e) => return Poll::NotYet(e.to_string()),
                };
            let busy = deps.iter().any(|d| {
                d.get("affectedApps")
                    .and_then(|a| a.as_array())
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(app)))
            });
            if busy {
                return Poll::NotYet(format!("deployment of {app} in progress"));
            }
            let v: serde_json::Value =
                match crate::door::get_json(c.observe.as_ref(), &format!("{base}/v2/apps{app}"))
                    .await
                {
                    Ok(v) => v,
                    Err(e) => return Poll::NotYet(e.to_string()),
                };
            let a = v.get("app").unwrap_or(&v);
            let instances = a.get("instances").and_then(|x| x.as_u64()).unwrap_or(0);
            let healthy = a.get("tasksHealthy").and_then(|x| x.as_u64()).unwrap_or(0);
            if healthy >= instances {
                Poll::Ready(())
            } else {
                Poll::NotYet(format!("{app}: {healthy} of {instances} tasks healthy"))
            }
        },
    )
    .await
    .map_err(|e| e.to_string())
}
