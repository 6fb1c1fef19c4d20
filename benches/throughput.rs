//! Harness throughput against a raw keep-alive HTTP replay of exactly the same requests.
//!
//! Generates N synthetic cases in callconform's own case format (50% GetCallInfo, 25%
//! Disconnect, 25% Graph DELETE, each with its expected snapshot), runs them with the real
//! runner (canonical forms, snapshot comparison, checks), and in the same process replays
//! the same requests with a plain reqwest loop that checks nothing. Runs alternate; the
//! report gives cases/s, the ratio per pair (median, min, max) and peak RSS.
//!
//! `cargo bench --bench throughput [-- --n 1000,10000 --runs 5 --url http://host:port]`

use callconform::corpus::Corpus;
use callconform::family::Family;
use callconform::harness::{self, InProcess};
use callconform::listener::{Listener, ListenerConfig};
use callconform::protocol::EndReasons;
use callconform::reference;
use callconform::request::HttpOptions;
use callconform::request::Target;
use callconform::runner::RunConfig;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UM_PATH: &str = "/EWS/UM2007Legacy.asmx";
const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

struct Args {
    /// `minimal`: a canned loopback server, so the harness's own cost shows;
    /// `reference`: the embedded reference target.
    servers: Vec<String>,
    sizes: Vec<usize>,
    runs: usize,
    url: Option<String>,
    parallel: usize,
}

fn args() -> Args {
    let mut a = Args {
        servers: vec!["minimal".into(), "reference".into()],
        sizes: vec![1000, 10_000],
        runs: 5,
        url: None,
        parallel: 8,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let next = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--n" => {
                a.sizes = next
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect();
                i += 1;
            }
            "--server" => {
                a.servers = next.split(',').map(str::to_owned).collect();
                i += 1;
            }
            "--runs" => {
                a.runs = next.parse().unwrap_or(5);
                i += 1;
            }
            "--url" => {
                a.url = Some(next);
                i += 1;
            }
            "--parallel" => {
                a.parallel = next.parse().unwrap_or(8);
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    a
}

fn envelope(op: &str, call_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap:Body>\n    <{op} xmlns=\"{MESSAGES}\">\n      <CallId>{call_id}</CallId>\n    </{op}>\n  </soap:Body>\n</soap:Envelope>"
    )
}

const GETCALLINFO_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <GetCallInfoResponse>
        <CallState>Connected</CallState>
        <EventCause>None</EventCause>
      </GetCallInfoResponse>
    </GetCallInfoResponse>
  </soap:Body>
</soap:Envelope>"#;

const DISCONNECT_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <DisconnectResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" />
  </soap:Body>
</soap:Envelope>"#;

#[derive(Clone, Copy)]
enum Kind {
    GetCallInfo,
    Disconnect,
    Delete,
}

fn kind_of(i: usize) -> Kind {
    match i % 4 {
        0 | 1 => Kind::GetCallInfo,
        2 => Kind::Disconnect,
        _ => Kind::Delete,
    }
}

fn toml_literal(s: &str) -> String {
    format!("'''\n{s}\n'''")
}

/// Writes N cases and their snapshots; each case's `call_id` default is set per run.
fn write_corpus(dir: &Path, n: usize) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("cases/um"))?;
    std::fs::create_dir_all(dir.join("cases/graph"))?;
    std::fs::create_dir_all(dir.join("snapshots"))?;
    let errata = callconform::errata::Errata::default();
    for i in 0..n {
        let name = format!("bench-{i:05}");
        let (family, text) = match kind_of(i) {
            k @ (Kind::GetCallInfo | Kind::Disconnect) => {
                let (op, doc) = match k {
                    Kind::GetCallInfo => ("GetCallInfo", GETCALLINFO_DOC),
                    _ => ("Disconnect", DISCONNECT_DOC),
                };
                let mut t = String::new();
                let _ = writeln!(
                    t,
                    "placeholders = [\"call_id\"]\n\n[provenance]\nexample = \"{op}\"\napi_name = \"{op}\"\n"
                );
                let _ = writeln!(t, "[vars]\ncall_id = \"CALL-{i}\"\n");
                let _ = writeln!(
                    t,
                    "[[step]]\nname = \"{op}\"\nmethod = \"POST\"\npath = \"{UM_PATH}\"\nheaders = {{ Content-Type = \"text/xml; charset=utf-8\" }}\nbody = {}\n",
                    toml_literal(&envelope(op, "{{call_id}}"))
                );
                let _ = writeln!(
                    t,
                    "[step.expect]\nstatus = 200\ncontent_type = \"text/xml\"\nbody = \"xml\"\nsnapshot = \"um__{name}\"\ndocumented = {}",
                    toml_literal(doc)
                );
                ("um", t)
            }
            Kind::Delete => {
                let mut t = String::new();
                let _ = writeln!(
                    t,
                    "placeholders = [\"call_id\"]\n\n[provenance]\nexample = \"delete-call-1\"\napi_name = \"call-delete\"\n"
                );
                let _ = writeln!(t, "[vars]\ncall_id = \"CALL-{i}\"\n");
                let _ = writeln!(
                    t,
                    "[[step]]\nname = \"delete-call-1\"\nmethod = \"DELETE\"\npath = \"/communications/calls/{{{{call_id}}}}\"\n"
                );
                let _ = writeln!(t, "[step.expect]\nstatus = 204\nbody = \"empty\"");
                ("graph", t)
            }
        };
        let path = dir.join(format!("cases/{family}/{name}.toml"));
        std::fs::write(&path, &text)?;
    }
    // Snapshots derived from the documented bodies, as `extract` would write them.
    let corpus =
        Corpus::load(&dir.join("cases")).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    for case in &corpus.cases {
        for (name, file) in callconform::snapshot::expected_files(case, &errata, &dir.join("cases"))
        {
            let file = file.map_err(std::io::Error::other)?;
            std::fs::write(
                callconform::snapshot::path(&dir.join("snapshots"), &name),
                file,
            )?;
        }
    }
    Ok(())
}

/// Live call ids for one run: a PlayOnPhone per UM case, a created Graph call per DELETE.
async fn make_calls(client: &reqwest::Client, base: &str, callback: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut shared_um: Option<String> = None;
    for i in 0..n {
        let id = match kind_of(i) {
            Kind::GetCallInfo if shared_um.is_some() => shared_um.clone().unwrap_or_default(),
            Kind::GetCallInfo | Kind::Disconnect => {
                let body = format!(
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><PlayOnPhone xmlns=\"{MESSAGES}\"><entryId>AAAA</entryId><DialString>1</DialString></PlayOnPhone></soap:Body></soap:Envelope>"
                );
                let text = client
                    .post(format!("{base}{UM_PATH}"))
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .body(body)
                    .send()
                    .await
                    .expect("PlayOnPhone answers")
                    .text()
                    .await
                    .expect("PlayOnPhone body");
                let inner = text
                    .split("<PlayOnPhoneResponse>")
                    .nth(1)
                    .and_then(|s| s.split('<').next())
                    .expect("a CallId")
                    .to_owned();
                if matches!(kind_of(i), Kind::GetCallInfo) {
                    shared_um = Some(inner.clone());
                }
                inner
            }
            Kind::Delete => {
                let body =
                    serde_json::json!({"callbackUri": callback, "requestedModalities": ["audio"]})
                        .to_string();
                let v: serde_json::Value = client
                    .post(format!("{base}/communications/calls"))
                    .header("Content-Type", "application/json")
                    .header("Authorization", "Bearer bench")
                    .body(body)
                    .send()
                    .await
                    .expect("create answers")
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .expect("create body");
                v["id"].as_str().expect("an id").to_owned()
            }
        };
        ids.push(id);
    }
    ids
}

fn set_call_ids(corpus: &mut Corpus, ids: &[String]) {
    for case in &mut corpus.cases {
        let i: usize = case
            .name
            .trim_start_matches("bench-")
            .parse()
            .expect("bench case names");
        case.file.vars.insert("call_id".into(), ids[i].clone());
    }
}

async fn raw_loop(client: &reqwest::Client, base: &str, ids: &[String]) -> Duration {
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let req = match kind_of(i) {
            Kind::GetCallInfo => client
                .post(format!("{base}{UM_PATH}"))
                .header("Content-Type", "text/xml; charset=utf-8")
                .body(envelope("GetCallInfo", id)),
            Kind::Disconnect => client
                .post(format!("{base}{UM_PATH}"))
                .header("Content-Type", "text/xml; charset=utf-8")
                .body(envelope("Disconnect", id)),
            Kind::Delete => client
                .delete(format!("{base}/communications/calls/{id}"))
                .header("Authorization", "Bearer bench"),
        };
        let resp = req.send().await.expect("raw request answers");
        let _ = resp.bytes().await;
    }
    start.elapsed()
}

/// A loopback server that answers every request with the documented response at once:
/// what the issue's "minimal loopback server" measured.
async fn start_minimal() -> String {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                break;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let delete = req.method() == hyper::Method::DELETE;
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let resp = if delete {
                            hyper::Response::builder()
                                .status(204)
                                .body(Full::new(Bytes::new()))
                        } else {
                            let doc = if body.windows(11).any(|w| w == b"GetCallInfo") {
                                GETCALLINFO_DOC
                            } else {
                                DISCONNECT_DOC
                            };
                            hyper::Response::builder()
                                .header("Content-Type", "text/xml; charset=utf-8")
                                .body(Full::new(Bytes::from_static(doc.as_bytes())))
                        };
                        Ok::<_, std::convert::Infallible>(resp.expect("static response"))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0)
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
      let servers = if args.url.is_some() { vec!["url".to_owned()] } else { args.servers.clone() };
      for server in servers {
        let minimal = server == "minimal";
        let (base, _guard) = match (&args.url, minimal) {
            (Some(u), _) => (u.trim_end_matches('/').to_owned(), None),
            (None, true) => (start_minimal().await, None),
            (None, false) => {
                let r = reference::start(SocketAddr::from(([127, 0, 0, 1], 0)), reference::Config::default())
                    .await
                    .expect("reference target");
                (r.base_url(), Some(r))
            }
        };
        let sink = Listener::start(ListenerConfig { max_per_call: 4, ..ListenerConfig::default() })
            .await
            .expect("notification sink");
        let client = reqwest::Client::builder()
            .no_proxy()
            .retry(reqwest::retry::never())
            .build()
            .expect("client");
        println!("\n== target: {server} ({base}); parallel cases: {}; runs per size: {}", args.parallel, args.runs);
        for &n in &args.sizes {
            let dir: PathBuf = std::env::temp_dir().join(format!("callconform-bench-{}-{n}", std::process::id()));
            write_corpus(&dir, n).expect("synthetic corpus");
            let t = Instant::now();
            let loaded = Arc::new(Corpus::load(&dir.join("cases")).expect("corpus loads"));
            let load_ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut harness_rates = Vec::new();
            let mut raw_rates = Vec::new();
            let mut ratios = Vec::new();
            for run in 0..args.runs {
                let mut pair = [0.0f64; 2];
                // Alternate which goes first, so warm-up favours neither.
                let order: [bool; 2] = if run % 2 == 0 { [true, false] } else { [false, true] };
                for harness_turn in order {
                    let ids = if minimal {
                        (0..n).map(|i| format!("Q0FMTC0{i}")).collect()
                    } else {
                        make_calls(&client, &base, sink.callback_url(), n).await
                    };
                    if harness_turn {
                        // The canned server takes any CallId: no per-run copy of the corpus.
                        let corpus = if minimal {
                            loaded.clone()
                        } else {
                            let mut c = (*loaded).clone();
                            set_call_ids(&mut c, &ids);
                            Arc::new(c)
                        };
                        let mut config = RunConfig {
                            snapshots: dir.join("snapshots"),
                            ..RunConfig::default()
                        };
                        config.targets.insert(Family::UM, Target { base_url: base.clone(), headers: vec![], ..Default::default() });
                        config.targets.insert(
                            Family::GRAPH,
                            Target { base_url: base.clone(), headers: vec![("Authorization".into(), "Bearer bench".into())], ..Default::default() },
                        );
                        let start = Instant::now();
                        let out = harness::run_in_process(
                            corpus,
                            EndReasons::default(),
                            InProcess { config, listener: None, http: HttpOptions::default(), parallel: args.parallel },
                            |_| true,
                        )
                        .await
                        .expect("harness run");
                        let secs = start.elapsed().as_secs_f64();
                        let failed = out.results.iter().filter(|r| r.outcome != callconform::report::Outcome::Passed).count();
                        assert_eq!(failed, 0, "bench cases must pass: {}", out.results.iter().find(|r| r.outcome != callconform::report::Outcome::Passed).map(callconform::report::failure_text).unwrap_or_default());
                        pair[0] = secs;
                    } else {
                        pair[1] = raw_loop(&client, &base, &ids).await.as_secs_f64();
                    }
                }
                harness_rates.push(n as f64 / pair[0]);
                raw_rates.push(n as f64 / pair[1]);
                ratios.push(pair[0] / pair[1]);
            }
            let (hm, hmin, hmax) = stats(harness_rates);
            let (rm, rmin, rmax) = stats(raw_rates);
            let (qm, qmin, qmax) = stats(ratios);
            println!("N = {n}: corpus load {load_ms:.1} ms");
            println!("  callconform (checks on): {hm:>9.0} cases/s (min {hmin:.0}, max {hmax:.0})");
            println!("  raw reqwest loop:        {rm:>9.0} req/s   (min {rmin:.0}, max {rmax:.0})");
            println!("  wall-time ratio callconform / raw: median {qm:.2}x (min {qmin:.2}, max {qmax:.2})");
            println!("  peak RSS so far: {:.1} MiB", peak_rss_mib());
            let _ = std::fs::remove_dir_all(&dir);
        }
      }
    });
}
