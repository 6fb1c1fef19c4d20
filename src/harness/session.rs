//! Stage 1 of a run: start what the plan needs (the embedded reference target when no target
//! was named, the webhook listener when a family that notifies has cases and a target) and
//! build the [`Runner`] the trials share. The target and the listener each serve on a
//! runtime of their own, on a thread of its own: a notification is taken in (and its arrival
//! time recorded) when it arrives, however busy the threads running the cases are.

use super::plan::{Plan, Targets};
use crate::corpus::Corpus;
use crate::family::Family;
use crate::listener::Listener;
use crate::protocol::EndReasons;
use crate::reference;
use crate::request::{HttpOptions, HttpTransport, Target};
use crate::runner::{RunConfig, Runner};
use std::net::SocketAddr;
use std::sync::Arc;

/// A started run: dropping it stops the embedded target and the listener.
pub struct Session {
    pub runner: Arc<Runner>,
    pub listener: Option<Arc<Listener>>,
    /// The options each runtime of the schedule builds its own pooled client with.
    pub http: HttpOptions,
    _reference: Option<reference::Running>,
    /// Dropped last: the runtimes the target and the listener serve on.
    _services: Vec<Service>,
}

/// A runtime whose one worker thread serves in the background (the embedded target, the
/// webhook listener); dropping it stops whatever still runs there, without waiting.
pub struct Service(Option<tokio::runtime::Runtime>);

impl Service {
    pub fn start(name: &str) -> Result<Service, String> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .map(|rt| Service(Some(rt)))
            .map_err(|e| format!("cannot start the {name} runtime: {e}"))
    }

    /// Runs `f` to completion from this thread; what it spawns runs on the service's thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        self.0.as_ref().map(|rt| rt.block_on(f))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Targets, skipped families and secrets for the run; starts the embedded target, on a
/// service runtime of its own (kept in `services`), if asked.
fn targets(
    plan: &Plan,
    config: &mut RunConfig,
    services: &mut Vec<Service>,
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
            let service = Service::start("callconform-reference")?;
            let started = service.block_on(reference::start(
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
            ));
            services.push(service);
            let running = started
                .ok_or_else(|| "the reference runtime is gone".to_owned())?
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
pub fn start(
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
    let mut services = Vec::new();
    if !listing {
        reference = targets(plan, &mut config, &mut services)?;
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
            let service = Service::start("callconform-listener")?;
            let started = service.block_on(Listener::start(lc));
            services.push(service);
            let l = started
                .ok_or_else(|| "the listener runtime is gone".to_owned())?
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
        http: plan.http.clone(),
        _reference: reference,
        _services: services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::ListenerConfig;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    /// POSTs one notification naming call `c1` to `url` (on `addr`) from this thread;
    /// returns when it was sent and the status line answered.
    fn notify(addr: SocketAddr, url: &str) -> (Instant, String) {
        let path = url.split_once(&addr.to_string()).map_or("/", |(_, p)| p);
        let body = r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[{"@odata.type":"#microsoft.graph.commsNotification","changeType":"updated","resourceUrl":"/communications/calls/c1","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established"}}]}"##;
        let mut s = std::net::TcpStream::connect(addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let sent = Instant::now();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("sent");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        (sent, answer.lines().next().unwrap_or_default().to_owned())
    }

    /// The cases' runtime is busy (a long comparison, a burst of finished cases) while a
    /// notification arrives: on a service runtime of its own the listener takes it in, and
    /// stamps it, at once; on the cases' runtime it would wait for that runtime.
    #[test]
    fn a_notification_is_stamped_when_it_arrives_however_busy_the_cases_are() {
        let busy = Duration::from_millis(400);
        let cases = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let service = Service::start("callconform-test-listener").expect("service");
        let own = service
            .block_on(Listener::start(ListenerConfig::default()))
            .expect("service runs")
            .expect("listener");
        let shared = cases
            .block_on(Listener::start(ListenerConfig::default()))
            .expect("listener");
        let targets = [
            (own.addr, own.callback_url_for("busy")),
            (shared.addr, shared.callback_url_for("busy")),
        ];
        let poster = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            targets.map(|(addr, url)| notify(addr, &url))
        });
        // The cases' runtime runs a task that holds its thread, as a long check would.
        cases.block_on(async { std::thread::sleep(busy) });
        // Let the shared listener take its POST in, now that its runtime is free.
        let [(own_sent, own_status), (shared_sent, _)] = std::thread::scope(|s| {
            let h = s.spawn(|| poster.join().expect("poster"));
            cases.block_on(async {
                while !h.is_finished() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            h.join().expect("joined")
        });
        assert!(own_status.contains("202"), "{own_status}");
        let own_at = own.received("c1")[0].at;
        assert!(
            own_at.duration_since(own_sent) < Duration::from_millis(150),
            "stamped {:?} after it was sent",
            own_at.duration_since(own_sent)
        );
        let shared_at = shared.received("c1")[0].at;
        assert!(
            shared_at.duration_since(shared_sent) >= Duration::from_millis(250),
            "on the busy runtime it waited: {:?}",
            shared_at.duration_since(shared_sent)
        );
    }
}
