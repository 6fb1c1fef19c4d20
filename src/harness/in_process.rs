//! In-process runs without libtest: the deviation and hostile-target tests and the
//! benchmark drive the same runner directly, many cases at once on the current runtime.

use super::plan::default_dir;
use crate::corpus::Corpus;
use crate::listener::{Listener, ListenerConfig};
use crate::protocol::EndReasons;
use crate::request::{HttpOptions, HttpTransport};
use crate::results::CaseResult;
use crate::runner::{RunConfig, Runner};
use std::sync::Arc;

/// What an in-process run needs besides the corpus: used by the deviation and hostile-target
/// tests and by the benchmark, which drive the same runner without libtest.
pub struct InProcess {
    pub config: RunConfig,
    pub listener: Option<ListenerConfig>,
    pub http: HttpOptions,
    /// How many cases run at once.
    pub parallel: usize,
}

/// The results of an in-process run, with what the listener saw.
pub struct InProcessRun {
    pub results: Vec<CaseResult>,
    pub listener: Option<crate::listener::ListenerSummary>,
}

/// Loads the committed corpus (for tests and benchmarks).
pub fn load_default_corpus() -> Result<(Arc<Corpus>, EndReasons), String> {
    let join = |errs: Vec<crate::diag::CaseError>| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let corpus = Corpus::load(&default_dir("cases")).map_err(join)?;
    let reasons = corpus.reasons.clone();
    Ok((Arc::new(corpus), reasons))
}

/// Runs every case of the corpus (or those `select` keeps) on the current runtime.
pub async fn run_in_process(
    corpus: Arc<Corpus>,
    reasons: EndReasons,
    opts: InProcess,
    select: impl Fn(&crate::case::Case) -> bool,
) -> Result<InProcessRun, String> {
    let mut config = opts.config;
    let listener = match opts.listener {
        Some(mut lc) => {
            lc.redact.extend(config.secrets.iter().cloned());
            let l = Listener::start(lc)
                .await
                .map_err(|e| format!("cannot start the webhook listener: {e}"))?;
            config.secrets.push(l.token().to_owned());
            Some(Arc::new(l))
        }
        None => None,
    };
    let transport = Arc::new(HttpTransport::new(opts.http)?);
    let runner = Arc::new(Runner {
        corpus: corpus.clone(),
        config,
        transport,
        listener: listener.clone(),
        reasons,
    });
    let picked: Vec<usize> = (0..corpus.cases.len())
        .filter(|&i| select(&corpus.cases[i]))
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.parallel.max(1)));
    let mut tasks = Vec::with_capacity(picked.len());
    for i in picked {
        let runner = runner.clone();
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            runner.run_case(&runner.corpus.cases[i]).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.map_err(|e| format!("a case task failed: {e}"))?);
    }
    Ok(InProcessRun {
        results,
        listener: listener.map(|l| l.summary()),
    })
}
