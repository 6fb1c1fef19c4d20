//! Targets we do not trust: each misbehaving server below gets the real cases, and each must
//! end in a clear failure for that case — no panic, no hang past the deadline, bounded memory.

use callconform::family::Family;
use callconform::harness::{self, InProcess, InProcessRun};
use callconform::listener::ListenerConfig;
use callconform::report::{CaseResult, Outcome};
use callconform::request::HttpOptions;
use callconform::request::Target;
use callconform::runner::RunConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A live PlayOnPhone answer, so the set-up passes and the hostile body reaches the step
/// under test.
const PLAY_ON_PHONE: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><PlayOnPhoneResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><PlayOnPhoneResponse>aG9zdGlsZXxleGFtcGxl</PlayOnPhoneResponse></PlayOnPhoneResponse></soap:Body></soap:Envelope>"#;

#[derive(Clone, Copy, Debug)]
enum Hostile {
    MalformedXml,
    BillionLaughs,
    ExternalEntity,
    DeepNesting,
    InvalidUtf8,
    HugeStreamed,
    HugeDeclared,
    Trickle,
    ResetMidBody,
    NeverAnswers,
    RedirectLoop,
    RedirectElsewhere,
    NotHttp,
}

fn xml_response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Reads one request (headers and a Content-Length body), returning its bytes.
async fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    }
}

async fn serve_one(mut s: TcpStream, kind: Hostile, port: u16) {
    while let Some(req) = read_request(&mut s).await {
        if String::from_utf8_lossy(&req).contains("<PlayOnPhone") {
            if s.write_all(&xml_response(PLAY_ON_PHONE.as_bytes()))
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let _ = hostile_answer(&mut s, kind, port).await;
        return;
    }
}

async fn hostile_answer(s: &mut TcpStream, kind: Hostile, port: u16) -> std::io::Result<()> {
    match kind {
        Hostile::MalformedXml => s.write_all(&xml_response(b"<soap:Envelope><unclosed>")).await,
        Hostile::BillionLaughs => {
            let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
            for i in 1..10 {
                doc.push_str(&format!(
                    "<!ENTITY lol{i} \"{}\">",
                    format!("&lol{};", if i == 1 { String::new() } else { (i - 1).to_string() }).repeat(10)
                ));
            }
            doc.push_str("]><lolz>&lol9;</lolz>");
            s.write_all(&xml_response(doc.as_bytes())).await
        }
        Hostile::ExternalEntity => {
            let doc = "<?xml version=\"1.0\"?><Envelope><Body>&xxe;</Body></Envelope>";
            s.write_all(&xml_response(doc.as_bytes())).await
        }
        Hostile::DeepNesting => {
            let mut doc = "<a>".repeat(100_000);
            doc.push_str(&"</a>".repeat(100_000));
            s.write_all(&xml_response(doc.as_bytes())).await
        }
        Hostile::InvalidUtf8 => s.write_all(&xml_response(b"<a>\xff\xfe\xfd</a>")).await,
        Hostile::HugeStreamed => {
            // Chunked and endless in intent: 1 GiB if the client kept reading.
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..16 * 1024 {
                s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                s.write_all(&chunk).await?;
                s.write_all(b"\r\n").await?;
            }
            Ok(())
        }
        Hostile::HugeDeclared => {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5000000000\r\n\r\n<a>")
                .await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
        Hostile::Trickle => {
            let resp = xml_response(b"<a>slow</a>");
            for b in resp {
                s.write_all(&[b]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Hostile::ResetMidBody => {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<soap:Envelope")
                .await?;
            // Zero linger makes the close a TCP reset.
            let _ = s.set_zero_linger();
            Err(std::io::Error::other("reset"))
        }
        Hostile::NeverAnswers => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        Hostile::RedirectLoop => {
            let loc = format!("http://127.0.0.1:{port}/EWS/UM2007Legacy.asmx");
            s.write_all(format!("HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await
        }
        Hostile::RedirectElsewhere => {
            s.write_all(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://elsewhere.invalid/x\r\nContent-Length: 0\r\n\r\n")
                .await
        }
        Hostile::NotHttp => s.write_all(b"\x00\x01SSH-2.0-not-http\r\n\xff\xff\xff").await,
    }
}

async fn start_hostile(kind: Hostile) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut served = 0;
        while let Ok((s, _)) = l.accept().await {
            served += 1;
            if served > 100 {
                break;
            }
            tokio::spawn(serve_one(s, kind, port));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn opts(um: Option<String>, graph: Option<String>) -> InProcess {
    let mut config = RunConfig {
        notification_timeout: Duration::from_secs(2),
        snapshots: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        ..RunConfig::default()
    };
    if let Some(u) = um {
        config.targets.insert(
            Family::UM,
            Target {
                base_url: u,
                headers: vec![],
                ..Default::default()
            },
        );
    }
    if let Some(g) = graph {
        config.targets.insert(
            Family::GRAPH,
            Target {
                base_url: g,
                headers: vec![("Authorization".into(), "Bearer x".into())],
                ..Default::default()
            },
        );
    }
    InProcess {
        config,
        listener: Some(ListenerConfig::default()),
        http: HttpOptions {
            timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            max_body: 1024 * 1024,
            ..HttpOptions::default()
        },
        parallel: 4,
    }
}

/// Hostile targets answer the seed examples' operations (GetCallInfo, Disconnect, DELETE a
/// call); the run takes those cases, so a target that hands every call the same id is
/// judged on one Graph case, not on how it confuses forty.
async fn run(o: InProcess) -> InProcessRun {
    let (corpus, reasons) = harness::load_default_corpus().expect("cases load");
    let seeds = ["get-call-info", "disconnect", "delete-call"];
    harness::run_in_process(corpus, reasons, o, |c| seeds.contains(&c.name.as_str()))
        .await
        .expect("run completes")
}

fn case<'r>(results: &'r [CaseResult], name: &str) -> &'r CaseResult {
    results
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} did not run"))
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_um_targets_fail_their_cases_clearly_and_quickly() {
    // (behaviour, words the failure of um::get-call-info must contain)
    let table: &[(Hostile, &str)] = &[
        (Hostile::MalformedXml, "no canonical XML form"),
        (Hostile::BillionLaughs, "DOCTYPE"),
        (Hostile::ExternalEntity, "xxe"),
        (Hostile::DeepNesting, "deep"),
        (Hostile::InvalidUtf8, "UTF-8"),
        (Hostile::HugeStreamed, "byte cap"),
        (Hostile::HugeDeclared, "byte cap"),
        (Hostile::Trickle, "timed out"),
        (Hostile::ResetMidBody, "broken HTTP exchange"),
        (Hostile::NeverAnswers, "timed out"),
        (Hostile::RedirectLoop, "redirects are not followed"),
        (Hostile::RedirectElsewhere, "elsewhere.invalid"),
        (Hostile::NotHttp, "broken HTTP exchange"),
    ];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for &(kind, _) in table {
        tasks.push(tokio::spawn(async move {
            let base = start_hostile(kind).await;
            run(opts(Some(base), None)).await
        }));
    }
    let mut problems = Vec::new();
    for ((kind, words), task) in table.iter().zip(tasks) {
        let run = task.await.expect("no panic in the run");
        let r = case(&run.results, "um::get-call-info");
        let text = callconform::report::failure_text(r);
        if r.outcome == Outcome::Passed || !text.to_lowercase().contains(&words.to_lowercase()) {
            problems.push(format!(
                "{kind:?}: expected a failure mentioning `{words}`, got {:?}:\n{text}",
                r.outcome
            ));
        }
        if text.contains("panicked") {
            problems.push(format!("{kind:?}: panic in the failure text:\n{text}"));
        }
        // The Graph family had no target: ignored, not failed, not passed.
        let g = case(&run.results, "graph::delete-call");
        if !matches!(g.outcome, Outcome::Ignored(_)) {
            problems.push(format!(
                "{kind:?}: graph case should be ignored, got {:?}",
                g.outcome
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // Every hostile run is bounded by the 3 s request timeout, run side by side.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    if let Some(kib) = peak_rss_kib() {
        assert!(kib < 256 * 1024, "peak RSS {kib} KiB is over 256 MiB");
    }
}

/// A minimal Graph target that creates calls properly and then misbehaves on DELETE by
/// sending notifications of its choosing to the callback.
#[derive(Clone, Copy, Debug)]
enum GraphHostile {
    Flood,
    Oversized,
    UnknownCall,
}

async fn graph_serve_one(
    mut s: TcpStream,
    kind: GraphHostile,
    callback: Arc<tokio::sync::Mutex<Option<String>>>,
) {
    while let Some(req) = read_request(&mut s).await {
        let text = String::from_utf8_lossy(&req).into_owned();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        if text.starts_with("POST") {
            let cb = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("callbackUri")
                        .and_then(|c| c.as_str())
                        .map(str::to_owned)
                });
            *callback.lock().await = cb.clone();
            let id = "11111111-2222-3333-4444-555555555555";
            let json = format!(
                r##"{{"@odata.type":"#microsoft.graph.call","id":"{id}","state":"establishing"}}"##
            );
            let _ = s
                .write_all(format!("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len()).as_bytes())
                .await;
            if let Some(cb) = cb {
                for state in ["establishing", "established"] {
                    let _ = notify(&cb, id, state, 1, 0).await;
                }
            }
        } else if text.starts_with("DELETE") {
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            let Some(cb) = callback.lock().await.clone() else {
                return;
            };
            let id = "11111111-2222-3333-4444-555555555555";
            match kind {
                GraphHostile::Flood => {
                    let _ = notify(&cb, id, "terminating", 10_000, 0).await;
                }
                GraphHostile::Oversized => {
                    let _ = notify(&cb, id, "terminating", 1, 8 * 1024 * 1024).await;
                }
                GraphHostile::UnknownCall => {
                    let _ = notify(
                        &cb,
                        "99999999-0000-0000-0000-000000000000",
                        "terminating",
                        1,
                        0,
                    )
                    .await;
                }
            }
        }
    }
}

async fn notify(
    cb: &str,
    id: &str,
    state: &str,
    times: usize,
    pad: usize,
) -> Result<(), reqwest::Error> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let body = serde_json::json!({
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{id}"),
            "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state, "pad": "p".repeat(pad)}
        }]
    })
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..times {
        if Instant::now() > deadline {
            break;
        }
        client
            .post(cb)
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer hostile")
            .body(body.clone())
            .send()
            .await?;
    }
    Ok(())
}

async fn start_graph_hostile(kind: GraphHostile) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let cb = Arc::new(tokio::sync::Mutex::new(None));
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((s, _)) = l.accept().await else { break };
            tokio::spawn(graph_serve_one(s, kind, cb.clone()));
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_notifications_fail_the_case_and_are_reported() {
    let started = Instant::now();
    let mut problems = Vec::new();
    for (kind, check) in [
        (GraphHostile::Flood, "nothing-after-last"),
        (GraphHostile::Oversized, "notification-deadline"),
        (GraphHostile::UnknownCall, "notification-deadline"),
    ] {
        let base = start_graph_hostile(kind).await;
        let run = run(opts(None, Some(base))).await;
        let r = case(&run.results, "graph::delete-call");
        let failing: Vec<&str> = r.failed_checks().map(|(_, c)| c.name()).collect();
        if !failing.contains(&check) {
            problems.push(format!(
                "{kind:?}: expected `{check}` to fail, got {failing:?}\n{}",
                callconform::report::failure_text(r)
            ));
        }
        let summary = run.listener.expect("a listener ran");
        match kind {
            GraphHostile::Flood => {
                if summary.overflow == 0 {
                    problems.push("Flood: the per-call cap never triggered".into());
                }
            }
            GraphHostile::Oversized => {
                if !summary.refused.iter().any(|f| f.status == 413) {
                    problems.push(format!("Oversized: no 413 recorded: {:?}", summary.refused));
                }
            }
            GraphHostile::UnknownCall => {
                if !summary
                    .unrouted
                    .iter()
                    .any(|(id, _)| id.as_deref() == Some("99999999-0000-0000-0000-000000000000"))
                {
                    problems.push(format!("UnknownCall: not reported: {:?}", summary.unrouted));
                }
            }
        }
        for um in ["um::disconnect", "um::get-call-info"] {
            if !matches!(case(&run.results, um).outcome, Outcome::Ignored(_)) {
                problems.push(format!("{kind:?}: {um} should be ignored"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    if let Some(kib) = peak_rss_kib() {
        assert!(kib < 256 * 1024, "peak RSS {kib} KiB is over 256 MiB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_notification_is_refused_and_reported() {
    let l = callconform::listener::Listener::start(ListenerConfig::default())
        .await
        .expect("listener");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let forged = format!("http://{}/callbacks/not-the-token", l.addr);
    let resp = client
        .post(&forged)
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 403);
    let good = client
        .post(l.callback_url())
        .header("Content-Type", "application/json")
        .body(r#"{"value":[{"resourceUrl":"/communications/calls/abc","resourceData":{"state":"terminating"}}]}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(good.status().as_u16(), 202);
    let s = l.summary();
    assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
    assert_eq!(s.refused[0].status, 403);
    assert!(!s.refused[0].path.is_empty());
    // Nobody waited for call `abc`: reported, not dropped.
    assert!(
        s.unrouted
            .iter()
            .any(|(id, _)| id.as_deref() == Some("abc"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_for_many_calls_stay_within_the_byte_budget() {
    const BUDGET: usize = 64 * 1024;
    const CALLS: usize = 600;
    let l = callconform::listener::Listener::start(ListenerConfig {
        byte_budget: BUDGET,
        max_kept: 2,
        ..ListenerConfig::default()
    })
    .await
    .expect("listener");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let (mut accepted, mut refused) = (0u64, 0u64);
    for i in 0..CALLS {
        // About 1 KiB each, like a real commsNotification with its resourceData.
        let body = format!(
            r#"{{"value":[{{"resourceUrl":"/communications/calls/c{i}","resourceData":{{"state":"terminating","pad":"{}"}}}}]}}"#,
            "x".repeat(900)
        );
        let r = client
            .post(l.callback_url())
            .body(body)
            .send()
            .await
            .expect("answered");
        match r.status().as_u16() {
            202 => accepted += 1,
            507 => {
                refused += 1;
                let text = r.text().await.unwrap_or_default();
                assert!(text.contains("byte budget"), "{text}");
            }
            s => panic!("unexpected status {s}"),
        }
    }
    let s = l.summary();
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
    assert_eq!(accepted + refused, CALLS as u64);
    assert_eq!(s.budget_overflow, refused, "every refusal is counted");
    assert_eq!(s.overflow, refused);
    assert!(s.stored_bytes <= BUDGET, "{} over {BUDGET}", s.stored_bytes);
    // The budget is spent, not merely touched: less than one notification's cost is left.
    assert!(
        BUDGET - s.stored_bytes < 4096,
        "{} bytes kept",
        s.stored_bytes
    );
    assert_eq!(s.unrouted.len(), 2, "the report lists at most max_kept");
    assert_eq!(s.unrouted_overflow, accepted - 2);
}

// ---------------------------------------------------------------------------------------
// Hostile captured values: ids that hold markup or URL syntax reach the target as values.

/// The reference target with `deviation`, on loopback.
async fn reference_with(deviation: &str) -> callconform::reference::Running {
    let d = callconform::reference::Deviation::parse(deviation).expect("listed");
    callconform::reference::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        callconform::reference::Config {
            deviations: vec![d],
            ..callconform::reference::Config::default()
        },
    )
    .await
    .expect("the reference target starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_id_holding_xml_markup_is_escaped_in_the_next_request() {
    let running = reference_with("um-hostile-call-id").await;
    let base = running.base_url();
    let got = run(opts(Some(base.clone()), None)).await;
    for name in ["um::get-call-info", "um::disconnect"] {
        let r = case(&got.results, name);
        assert_eq!(
            r.outcome,
            Outcome::Passed,
            "{}",
            callconform::report::failure_text(r)
        );
        // The documented step sent the CallId escaped: it holds `&<>"'` as entities.
        let body = r
            .steps
            .iter()
            .rfind(|s| !s.setup)
            .and_then(|s| s.request.as_ref())
            .and_then(|q| q.body.as_deref())
            .unwrap_or_else(|| panic!("{name}: no request body recorded"));
        assert!(
            body.contains("&amp;&lt;&gt;&quot;&apos;</CallId>"),
            "{name}: {body}"
        );
    }
    // Spliced verbatim, the same CallId makes the request malformed: the target refuses it.
    let raw = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCallInfo xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><CallId>{}</CallId></GetCallInfo></soap:Body></soap:Envelope>"#,
        "QUJD&<>\"'"
    );
    let resp = reqwest::Client::new()
        .post(format!("{base}/EWS/UM2007Legacy.asmx"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(raw)
        .send()
        .await
        .expect("the target answers");
    assert_eq!(resp.status().as_u16(), 500);
    running.shutdown();
}

/// The committed corpus with no notification expected anywhere, so a case's requests can
/// be judged without routing notifications.
fn without_notifications() -> (
    std::sync::Arc<callconform::corpus::Corpus>,
    callconform::protocol::EndReasons,
) {
    let (corpus, reasons) = harness::load_default_corpus().expect("cases load");
    let mut corpus = (*corpus).clone();
    for c in &mut corpus.cases {
        for s in &mut c.file.steps {
            s.notifications.clear();
        }
    }
    for f in corpus.families.values_mut() {
        for setup in f.setup.values_mut() {
            for s in &mut setup.steps {
                s.notifications.clear();
            }
        }
    }
    (Arc::new(corpus), reasons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_id_holding_url_syntax_is_percent_encoded_in_the_path() {
    let running = reference_with("graph-hostile-call-id").await;
    let base = running.base_url();
    let (corpus, reasons) = without_notifications();
    let got = harness::run_in_process(corpus, reasons, opts(None, Some(base.clone())), |c| {
        c.family == Family::GRAPH
    })
    .await
    .expect("run completes");
    let r = case(&got.results, "graph::delete-call");
    // 204 and an empty body: the target found the call the encoded path names (the raw id
    // would have made the path `/communications/calls/<uuid>/leg` and a query).
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "{}",
        callconform::report::failure_text(r)
    );
    let url = r
        .steps
        .iter()
        .rfind(|s| !s.setup)
        .and_then(|s| s.request.as_ref())
        .map(|q| q.url.clone())
        .expect("the DELETE was recorded");
    let segment = url
        .rsplit_once("/communications/calls/")
        .map(|(_, s)| s)
        .expect("a call URL");
    assert!(segment.ends_with("%2Fleg%3F1%20a"), "{url}");
    assert!(!segment.contains(['/', '?', ' ']), "{url}");

    // The target names the call percent-encoded in Location and resourceUrl.
    let listener = callconform::listener::Listener::start(ListenerConfig::default())
        .await
        .expect("listener");
    let callback = listener.callback_url_for("hostile");
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/communications/calls"))
        .bearer_auth("x")
        .header("Content-Type", "application/json")
        .body(
            serde_json::json!({
            "@odata.type": "#microsoft.graph.call",
            "callbackUri": callback,
            "targets": [],
            "requestedModalities": ["audio"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
            })
            .to_string(),
        )
        .send()
        .await
        .expect("create answers");
    assert_eq!(created.status().as_u16(), 201);
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("a Location header");
    let body: serde_json::Value =
        serde_json::from_slice(&created.bytes().await.expect("a body")).expect("JSON");
    let id = body["id"].as_str().expect("an id").to_owned();
    assert!(id.ends_with("/leg?1 a"), "{id}");
    let encoded = callconform::template::encode_segment(&id);
    assert!(
        location.ends_with(&format!("/communications/calls/{encoded}")),
        "{location}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let arrived = loop {
        let got = listener.unclaimed_for("hostile");
        if got.len() >= 2 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(arrived.len(), 2, "establishing and established");
    for n in &arrived {
        let url = n
            .json
            .as_ref()
            .ok()
            .and_then(|v| v.pointer("/value/0/resourceUrl"))
            .and_then(|v| v.as_str())
            .expect("a resourceUrl");
        assert_eq!(url, format!("/communications/calls/{encoded}"));
        let named = callconform::listener::call_id_of(url).expect("names a call");
        assert_eq!(named, id, "call_id_of percent-decodes the segment");
    }
    running.shutdown();
}

// ---------------------------------------------------------------------------------------
// Redact, then truncate: a secret the target echoes across a preview's cut leaves nothing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_echoed_across_every_preview_cut_leaves_no_prefix() {
    const SECRET: &str = "echoed-s3cr3t-value-0123456789";
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut served = 0;
        while let Ok((mut s, _)) = l.accept().await {
            served += 1;
            if served > 20 {
                break;
            }
            tokio::spawn(async move {
                while let Some(req) = read_request(&mut s).await {
                    let body = if String::from_utf8_lossy(&req).contains("<PlayOnPhone") {
                        PLAY_ON_PHONE.to_owned()
                    } else {
                        // Not XML, with the secret straddling the 300, 500 and 2000 char cuts.
                        let mut b = String::new();
                        for cut in [300, 500, 2000] {
                            b.push_str(&"x".repeat(cut - 10 - b.chars().count()));
                            b.push_str(SECRET);
                        }
                        b
                    };
                    if s.write_all(&xml_response(body.as_bytes())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut o = opts(Some(format!("http://127.0.0.1:{port}")), None);
    o.config.secrets.push(SECRET.to_owned());
    let got = run(o).await;
    for name in ["um::get-call-info", "um::disconnect"] {
        let r = case(&got.results, name);
        assert_eq!(r.outcome, Outcome::Failed, "{name}");
        let mut shown = vec![callconform::report::failure_text(r)];
        for s in &r.steps {
            shown.extend(s.response_preview.clone());
            shown.extend(s.checks.iter().map(|c| c.detail.clone()));
        }
        assert!(
            shown.iter().any(|t| t.contains("[redacted]")),
            "{name}: the echo was not shown at all"
        );
        for text in &shown {
            for n in 4..=SECRET.len() {
                assert!(!text.contains(&SECRET[..n]), "{name}: {text}");
            }
        }
    }
}
