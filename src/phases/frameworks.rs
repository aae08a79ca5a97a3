//! Framework upgrades through Marathon that keep the app: read the full definition, journal it
//! (write-ahead undo), change only the image, send the whole definition back, and wait for the
//! deployment Marathon named. Undo puts exactly the saved definition back.
//!
//! Facts §8.5: a partial `PUT /v2/apps/<id>` merges top-level fields only, so sending a bare
//! `container` drops volumes, port mappings and docker parameters and changes the type; and
//! `tasksHealthy` never counts tasks of an app without health checks.

use super::outputs::{self, AppOutput};
use super::StepCtx;
use crate::door::{ChangeError, ProbeError};
use crate::plan::StepVersion;
use crate::probe::marathon::{self as m, AppState};
use crate::probe::wait::{self, Poll, WaitError};
use serde_json::Value;
use std::time::Duration;

/// Why a framework step (or its undo) failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameworkError {
    /// The inventory names no master to reach Marathon through.
    #[error("no master")]
    NoMaster,
    /// The plan's step names no app (a hand-edited plan).
    #[error("framework step without an app")]
    NoApp,
    /// The plan's step names no target image (a hand-edited plan).
    #[error("framework step without a target image")]
    NoImage,
    /// The app's definition cannot take a new docker image.
    #[error("{app}: {reason}")]
    NoDockerImage {
        /// The app id.
        app: String,
        /// Why (e.g. the app has no docker container).
        reason: String,
    },
    /// The previous definition could not be journaled before the change.
    #[error(transparent)]
    Note(#[from] crate::action::NoteError),
    /// Marathon could not be read.
    #[error(transparent)]
    Read(#[from] ProbeError),
    /// The PUT could not be sent or audited.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// Marathon refused the PUT.
    #[error("PUT {url}: HTTP {status}: {body}")]
    Refused {
        /// The URL sent to.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// Marathon accepted the PUT but named no deployment.
    #[error("PUT {url}: the answer names no deploymentId: {body}")]
    NoDeploymentId {
        /// The URL sent to.
        url: String,
        /// The start of the answer.
        body: String,
    },
    /// The deployment did not finish, with every instance up, in time.
    #[error("{}: not met within {secs} s (last seen: {last})", awaited(app, deployment.as_deref()))]
    DeploymentTimedOut {
        /// The app id.
        app: String,
        /// The deployment awaited (None: every deployment of the app).
        deployment: Option<String>,
        /// The limit (the playbook's `deployment_secs`).
        secs: u64,
        /// The last thing seen not yet done.
        last: String,
    },
    /// The saved definition was put back but the app runs another image.
    #[error("{app} still runs {now} after its saved definition ({saved}) was put back")]
    NotRestored {
        /// The app id.
        app: String,
        /// The image it runs.
        now: String,
        /// The image of the saved definition.
        saved: String,
    },
}

/// What [`wait_deployed`] waits for, in words.
fn awaited(app: &str, deployment: Option<&str>) -> String {
    match deployment {
        Some(d) => format!("Marathon deployment {d} of {app} finished with every instance up"),
        None => format!("Marathon deployments of {app} finished with every instance up"),
    }
}

/// Marathon as Admin Router serves it (`/marathon/` reaches the Marathon leader, facts §8.1).
async fn marathon_base(ctx: &StepCtx<'_>) -> Result<String, FrameworkError> {
    crate::probe::admin::url(ctx.cluster, "/marathon").ok_or(FrameworkError::NoMaster)
}

/// The step's app id, the Marathon base URL and the app's URL.
async fn app_url(ctx: &StepCtx<'_>) -> Result<(String, String, String), FrameworkError> {
    let app = ctx.step.app.clone().ok_or(FrameworkError::NoApp)?;
    let base = marathon_base(ctx).await?;
    let url = format!("{base}/v2/apps{app}");
    Ok((app, base, url))
}

/// Applies the app change and waits for its deployment. The previous definition is journaled
/// before anything is sent; a note of an earlier attempt (a crash or a failure after it) is kept,
/// so the new definition is never recorded as "previous".
pub async fn upgrade(ctx: &StepCtx<'_>) -> Result<Value, FrameworkError> {
    let c = ctx.cluster;
    let (app, base, url) = app_url(ctx).await?;
    let image = (ctx.step.to.as_ref())
        .and_then(StepVersion::image)
        .map(String::from)
        .ok_or(FrameworkError::NoImage)?;
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
        let body =
            m::with_image(&current, &image).map_err(|reason| FrameworkError::NoDockerImage {
                app: app.clone(),
                reason,
            })?;
        let answer = put(ctx, &url, &body, false).await?;
        out.deployment = Some(answer);
    }
    wait_deployed(ctx, &base, &app, out.deployment.as_deref()).await?;
    Ok(outputs::write(&out))
}

/// Puts a saved app definition back (forcing past a deployment still in progress, e.g. a hung
/// one) and waits for it; then checks the app really is at the saved image. Nothing is sent
/// when the app is already exactly at the saved definition (a crash before the change).
pub async fn restore(ctx: &StepCtx<'_>, saved: &Value) -> Result<(), FrameworkError> {
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
        return Err(FrameworkError::NotRestored {
            app,
            now: m::image(&now).unwrap_or("no image").into(),
            saved: m::image(saved).unwrap_or("no image").into(),
        });
    }
    Ok(())
}

/// Sends the whole definition (`?partialUpdate=false`: a full replace; older Marathons ignore the
/// parameter, and a complete definition leaves nothing for their top-level merge to keep) through
/// the change door. Returns the deployment id of the answer.
async fn put(
    ctx: &StepCtx<'_>,
    url: &str,
    body: &Value,
    force: bool,
) -> Result<String, FrameworkError> {
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
        .await?;
    if !(200..300).contains(&a.status) {
        return Err(FrameworkError::Refused {
            url,
            status: a.status,
            body: a.body.chars().take(300).collect(),
        });
    }
    let answer: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    let id = answer
        .get("deploymentId")
        .and_then(|d| d.as_str())
        .ok_or_else(|| FrameworkError::NoDeploymentId {
            url: url.clone(),
            body: a.body.chars().take(200).collect(),
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
) -> Result<(), FrameworkError> {
    let c = ctx.cluster;
    let what = awaited(app, deployment);
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
    // The check above never aborts: either way the deployment did not finish in time.
    .map_err(|e| match e {
        WaitError::TimedOut { secs, last, .. } => FrameworkError::DeploymentTimedOut {
            app: app.to_string(),
            deployment: deployment.map(String::from),
            secs,
            last,
        },
        WaitError::Aborted { reason, .. } => FrameworkError::DeploymentTimedOut {
            app: app.to_string(),
            deployment: deployment.map(String::from),
            secs: c.timeouts.deployment_secs,
            last: reason,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_timeout_reads_as_the_wait_that_timed_out_said_it() {
        for deployment in [Some("5ed4c0c5"), None] {
            let typed = FrameworkError::DeploymentTimedOut {
                app: "/web".into(),
                deployment: deployment.map(String::from),
                secs: 600,
                last: "/web: 1 of 2 instances running".into(),
            };
            let waited = WaitError::TimedOut {
                what: awaited("/web", deployment),
                secs: 600,
                last: "/web: 1 of 2 instances running".into(),
            };
            assert_eq!(typed.to_string(), waited.to_string());
        }
    }
}
