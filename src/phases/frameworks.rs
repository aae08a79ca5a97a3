//! Framework upgrades through Marathon that keep the app: read the full definition, journal it
//! (write-ahead undo), change only the image, send the whole definition back, and wait for the
//! deployment Marathon named. Undo puts exactly the saved definition back.
//!
//! Facts §8.5: a partial `PUT /v2/apps/<id>` merges top-level fields only, so sending a bare
//! `container` drops volumes, port mappings and docker parameters and changes the type; and
//! `tasksHealthy` never counts tasks of an app without health checks.

use super::outputs::{self, AppOutput};
use super::StepCtx;
use crate::action::StepError;
use crate::probe::marathon::{self as m, AppState};
use crate::probe::wait::{self, Poll};
use serde_json::Value;
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

/// Applies the app change and waits for its deployment. The previous definition is journaled
/// before anything is sent; a note of an earlier attempt (a crash or a failure after it) is kept,
/// so the new definition is never recorded as "previous".
pub async fn upgrade(ctx: &StepCtx<'_>) -> Result<Value, StepError> {
    let c = ctx.cluster;
    let (app, base, url) = app_url(ctx).await?;
    let image = ctx
        .step
        .to
        .clone()
        .ok_or("framework step without a target image")?;
    let current = m::app(c.observe.as_ref(), &url).await?;
    let mut out = match outputs::read::<AppOutput>(ctx.noted()) {
        Some(noted) => noted,
        None => {
            let out = AppOutput {
                app: app.clone(),
                previous: current.clone(),
                image: image.clone(),
                deployment: None,
            };
            ctx.note(outputs::write(&out))?;
            out
        }
    };
    if m::image(&current) != Some(image.as_str()) {
        let body = m::with_image(&current, &image).map_err(|e| format!("{app}: {e}"))?;
        let answer = put(ctx, &url, &body, false).await?;
        out.deployment = Some(answer);
    }
    wait_deployed(ctx, &base, &app, out.deployment.as_deref()).await?;
    Ok(outputs::write(&out))
}

/// Puts a saved app definition back (forcing past a deployment still in progress, e.g. a hung
/// one) and waits for it; then checks the app really is at the saved image. Nothing is sent
/// when the app is already exactly at the saved definition (a crash before the change).
pub async fn restore(ctx: &StepCtx<'_>, saved: &Value) -> Result<(), StepError> {
    let c = ctx.cluster;
    let (app, base, url) = app_url(ctx).await?;
    let current = m::app(c.observe.as_ref(), &url).await?;
    if m::definition(&current) != m::definition(saved) {
        let id = put(ctx, &url, &m::definition(saved), true).await?;
        wait_deployed(ctx, &base, &app, Some(&id)).await?;
    } else {
        // Already put back (a crash after the PUT): its deployment may still be running.
        wait_deployed(ctx, &base, &app, None).await?;
    }
    let now = m::app(c.observe.as_ref(), &url).await?;
    if m::image(&now) != m::image(saved) {
        return Err(StepError::Failed(format!(
            "{app} still runs {} after its saved definition ({}) was put back",
            m::image(&now).unwrap_or("no image"),
            m::image(saved).unwrap_or("no image")
        )));
    }
    Ok(())
}

/// Sends the whole definition (`?partialUpdate=false`: a full replace; older Marathons ignore the
/// parameter, and a complete definition leaves nothing for their top-level merge to keep) through
/// the change door. Returns the deployment id of the answer.
async fn put(ctx: &StepCtx<'_>, url: &str, body: &Value, force: bool) -> Result<String, String> {
    let url = format!(
        "{url}?partialUpdate=false{}",
        if force { "&force=true" } else { "" }
    );
    // Through the change door: audited before and after, with crash checkpoints on both sides.
    let a = ctx
        .change
        .http(crate::door::HttpChange {
            step: &ctx.step.id,
            description: "PUT the Marathon app definition",
            method: crate::door::WriteMethod::Put,
            url: &url,
            body: Some(body),
        })
        .await
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&a.status) {
        return Err(format!(
            "PUT {url}: HTTP {}: {}",
            a.status,
            a.body.chars().take(300).collect::<String>()
        ));
    }
    let answer: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    let id = answer
        .get("deploymentId")
        .and_then(|d| d.as_str())
        .ok_or_else(|| {
            format!(
                "PUT {url}: the answer names no deploymentId: {}",
                a.body.chars().take(200).collect::<String>()
            )
        })?;
    ctx.progress(format!(
        "Marathon accepted the change of {url}: deployment {id}"
    ));
    Ok(id.to_string())
}

/// Waits until the deployment (or, without its id, every deployment of the app) has left
/// `/v2/deployments`, then until every instance runs, and is healthy where the app has health
/// checks.
async fn wait_deployed(
    ctx: &StepCtx<'_>,
    base: &str,
    app: &str,
    deployment: Option<&str>,
) -> Result<(), StepError> {
    let c = ctx.cluster;
    let what = match deployment {
        Some(d) => format!("Marathon deployment {d} of {app} finished with every instance up"),
        None => format!("Marathon deployments of {app} finished with every instance up"),
    };
    let url = format!("{base}/v2/apps{app}");
    wait::until(
        &what,
        Duration::from_secs(c.timeouts.deployment_secs),
        c.poll(),
        || async {
            let deps = match m::deployments_at(c.observe.as_ref(), base).await {
                Ok(d) => d,
                Err(e) => return Poll::NotYet(e.to_string()),
            };
            if let Some(d) = deps.iter().find(|d| match deployment {
                Some(id) => d.id == id,
                None => d.affected_apps.iter().any(|a| a == app),
            }) {
                return Poll::NotYet(format!(
                    "deployment {} of {app} still in /v2/deployments",
                    d.id
                ));
            }
            match m::app(c.observe.as_ref(), &url).await {
                Ok(v) => match AppState::of(&v).settled() {
                    Ok(()) => Poll::Ready(()),
                    Err(why) => Poll::NotYet(format!("{app}: {why}")),
                },
                Err(e) => Poll::NotYet(e.to_string()),
            }
        },
    )
    .await
    .map_err(StepError::from)
}
