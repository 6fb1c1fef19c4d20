//! The embedded reference target (STUB: being written; API is fixed).
//! One hyper server answers both families: UM SOAP on both endpoint paths and
//! Graph calls on `/communications/calls` and the legacy `/app/calls`.

pub mod deviation;

pub use deviation::Deviation;

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Behaviours to break on purpose (see `callconform serve --list-deviations`).
    pub deviations: Vec<Deviation>,
    /// Sent as `Authorization: Bearer <token>` on every notification POST.
    pub notify_token: String,
    /// When set, Graph requests must carry exactly this bearer token; otherwise any bearer token.
    pub accept_token: Option<String>,
    /// Delay used by the `late-notifications` deviation.
    pub late_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            deviations: Vec::new(),
            notify_token: "reference-notification-token".into(),
            accept_token: None,
            late_delay: Duration::from_secs(3),
        }
    }
}

/// A started target; dropping it (or `shutdown`) stops the server.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Binds `addr` (port 0 for an ephemeral port) and serves on the current tokio runtime.
pub async fn start(addr: SocketAddr, _config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, _rx) = tokio::sync::oneshot::channel();
    Ok(Running {
        addr,
        stop: Some(tx),
    })
}
