//! Stage 1 of a run: start what the plan needs (the embedded reference target when no target
//! was named, the webhook listener when a family that notifies has cases and a target) and
//! build the one [`Runner`] every trial shares.

use super::plan::{Plan, Targets};
use crate::corpus::Corpus;
use crate::family::Family;
use crate::listener::Listener;
use crate::protocol::EndReasons;
use crate::reference;
use crate::request::{HttpTransport, Target};
use crate::runner::{RunConfig, Runner};
use std::net::SocketAddr;
use std::sync::Arc;

/// A started run: dropping it stops the embedded target and the listener.
pub struct Session {
    pub runner: Arc<Runner>,
    pub listener: Option<Arc<Listener>>,
    _reference: Option<reference::Running>,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Targets, skipped families and secrets for the run; starts the embedded target if asked.
async fn targets(
    plan: &Plan,
    config: &mut RunConfig,
) -> Result<Option<reference::Running>, String> {
    match &plan.targets {
        Targets::Given { targets, skipped } => {
            config.targets = targets.clone();
            config.skipped = skipped.clone();
            for t in targets.values() {
                config
                    .secrets
                    .extend(t.headers.iter().map(|(_, v)| v.clone()));
            }
            Ok(None)
        }
        Targets::Embedded => {
            let notify_token = random_hex(16);
            let accept_token = random_hex(16);
            let running = reference::start(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                reference::Config {
                    notify_token: notify_token.clone(),
                    accept_token: Some(accept_token.clone()),
                    // An https listener's certificate is trusted, as a bot's would be.
                    callback_roots: plan
                        .listener
                        .tls
                        .iter()
                        .map(|t| t.cert_pem().to_vec())
                        .collect(),
                    ..reference::Config::default()
                },
            )
            .await
            .map_err(|e| format!("cannot start the embedded reference target: {e}"))?;
            for f in Family::all() {
                config.targets.insert(
                    f,
                    Target {
                        base_url: running.base_url(),
                        headers: f.protocol().embedded_headers(&accept_token),
                        triggers: f.protocol().embedded_triggers(&running.base_url()),
                        options: Default::default(),
                    },
                );
            }
            config.expected_notify_token = Some(notify_token.clone());
            config.secrets.extend([notify_token, accept_token]);
            Ok(Some(running))
        }
    }
}

/// Starts the session. `listing` (`--list`) needs no target, listener or runtime work.
pub async fn start(
    plan: &Plan,
    corpus: Arc<Corpus>,
    reasons: EndReasons,
    listing: bool,
) -> Result<Session, String> {
    let mut config = RunConfig {
        vars: plan.vars.clone(),
        snapshots: plan.snapshots_dir.clone(),
        update: plan.update,
        as_printed: plan.as_printed,
        strict: plan.strict,
        exact_values: plan.exact_values,
        notification_timeout: plan.notification_timeout,
        settle: plan.quiet_period,
        progress_interval: plan.progress_interval,
        progress_deadline: plan.progress_deadline,
        expected_notify_token: plan.expected_notify_token.clone(),
        secrets: plan.secrets.clone(),
        ..RunConfig::default()
    };
    let mut reference = None;
    let mut listener = None;
    if !listing {
        reference = targets(plan, &mut config).await?;
        let notifying = corpus.index.iter().any(|c| {
            c.family.protocol().notifications().is_some() && config.targets.contains_key(&c.family)
        });
        if notifying {
            if !plan.listener.bind.ip().is_loopback() {
                eprintln!(
                    "note: the webhook listener binds {} (not loopback), as asked",
                    plan.listener.bind
                );
            }
            let mut lc = plan.listener.clone();
            lc.redact.extend(config.secrets.iter().cloned());
            let l = Listener::start(lc)
                .await
                .map_err(|e| format!("cannot start the webhook listener: {e}"))?;
            config.secrets.push(l.token().to_owned());
            listener = Some(Arc::new(l));
        }
        for (f, t) in &config.targets {
            let needs_auth = f.protocol().token_env().is_some();
            let has_auth = t
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
            if needs_auth && !has_auth {
                eprintln!(
                    "warning: {f} requests carry no Authorization header (set {} or a profile's auth)",
                    f.protocol().token_env().unwrap_or("a token")
                );
            }
        }
    }
    let transport = Arc::new(HttpTransport::new(plan.http.clone())?);
    let runner = Arc::new(Runner {
        corpus,
        config,
        transport,
        listener: listener.clone(),
        reasons,
    });
    Ok(Session {
        runner,
        listener,
        _reference: reference,
    })
}
