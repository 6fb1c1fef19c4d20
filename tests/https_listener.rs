//! The webhook listener over https: a test CA and a leaf for 127.0.0.1/localhost are made
//! here with rcgen, the listener serves the leaf, and notifications are shown to arrive
//! over TLS from a sender that trusts the CA (the reference target, spawned or embedded,
//! and the harness's own reqwest client), and to be refused from one that does not, and
//! when sent as plain http to the https port.

use callconform::listener::{Listener, ListenerConfig, ListenerTls};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_callconform");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A test CA, a leaf it signed for 127.0.0.1 and localhost, and a key that is not the leaf's.
struct Pki {
    ca: String,
    leaf: String,
    leaf_key: String,
    other_key: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "callconform test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "callconform listener");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf cert");
    Pki {
        ca: ca.pem(),
        leaf: leaf.pem(),
        leaf_key: leaf_key.serialize_pem(),
        other_key: KeyPair::generate().expect("key").serialize_pem(),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let d = std::env::temp_dir().join(format!(
        "callconform-https-{tag}-{}-{hex}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

fn notification(call: &str) -> String {
    format!(
        r#"{{"value":[{{"changeType":"updated","resourceUrl":"/communications/calls/{call}","resourceData":{{"state":"terminating"}}}}]}}"#
    )
}

fn trusting(ca: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_merge([reqwest::Certificate::from_pem(ca.as_bytes()).expect("ca")])
        .build()
        .expect("client")
}

async fn https_listener(p: &Pki) -> Listener {
    let tls = ListenerTls::from_pem(
        p.leaf.as_bytes(),
        p.leaf_key.as_bytes(),
        Path::new("leaf.pem"),
        Path::new("leaf-key.pem"),
    )
    .expect("the test pair loads");
    Listener::start(ListenerConfig {
        tls: Some(tls),
        ..ListenerConfig::default()
    })
    .await
    .expect("listener")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_the_ca_delivers_over_https() {
    let p = pki();
    let l = https_listener(&p).await;
    let url = l.callback_url_for("t");
    assert!(
        url.starts_with(&format!("https://{}/callbacks/", l.addr)),
        "{url}"
    );
    let r = trusting(&p.ca)
        .post(&url)
        .header("Content-Type", "application/json")
        .body(notification("c1"))
        .send()
        .await
        .expect("delivered over https");
    assert_eq!(r.status().as_u16(), 202);
    let got = l.unclaimed_for("t");
    assert_eq!(got.len(), 1, "{:?}", l.summary());
    assert_eq!(got[0].state(), Some("terminating"));
    assert!(l.summary().refused.is_empty());
    // localhost is in the certificate too.
    let by_name = url.replace("127.0.0.1", "localhost");
    let r = trusting(&p.ca)
        .post(&by_name)
        .body(notification("c2"))
        .send()
        .await
        .expect("delivered to localhost");
    assert_eq!(r.status().as_u16(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_not_trusting_the_ca_cannot_deliver_and_the_refusal_is_listed() {
    let p = pki();
    let l = https_listener(&p).await;
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let err = untrusting
        .post(l.callback_url())
        .body(notification("c1"))
        .send()
        .await
        .expect_err("a client without the CA must fail the handshake");
    assert!(err.is_connect(), "{err:?}");
    // The server side learns of the failure from the client's alert; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let s = loop {
        let s = l.summary();
        if !s.refused.is_empty() || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
    assert_eq!(s.refused[0].status, 0, "no HTTP exchange took place");
    assert!(
        s.refused[0].reason.contains("TLS handshake failed"),
        "{}",
        s.refused[0].reason
    );
    assert!(
        s.unrouted.is_empty(),
        "nothing was received: {:?}",
        s.unrouted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_https_listener_is_not_accepted() {
    let p = pki();
    let l = https_listener(&p).await;
    let path = l
        .callback_url()
        .split_once(&l.addr.to_string())
        .map(|(_, p)| p.to_owned())
        .expect("path");
    let body = notification("c1");
    let addr = l.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
    .await
    .expect("joined");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("https"), "{answer}");
    let s = l.summary();
    assert!(s.unrouted.is_empty(), "stored: {:?}", s.unrouted);
    assert!(l.received("c1").is_empty());
    assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
    assert_eq!(s.refused[0].status, 400);
    assert!(
        !s.refused[0].path.contains(l.token()),
        "{}",
        s.refused[0].path
    );
}

// ---- the command line: profiles, flags, a spawned reference target ----

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with a hard deadline, so a hang fails the test instead of CI.
fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(root())
        .env("CI", "true")
        .env_remove("CALLCONFORM_UM")
        .env_remove("CALLCONFORM_GRAPH")
        .env_remove("CALLCONFORM_GRAPH_TOKEN")
        .env_remove("CALLCONFORM_NOTIFY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("callconform did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    }
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `callconform serve` on a free loopback port; its base URL.
fn serve(extra: &[&str]) -> (Serve, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--addr", addr.as_str()];
    args.extend_from_slice(extra);
    let child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let guard = Serve(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, format!("http://{addr}"))
}

/// The Graph cases of the committed corpus, by trial name.
fn graph_cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("cases/graph"))
        .expect("cases/graph")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".toml")?;
            (!stem.starts_with('_')).then(|| format!("graph::{stem}"))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no Graph cases in the corpus");
    out
}

/// Whether a case waits for a notification: its own steps list one, or its set-up does
/// (every Graph set-up waits for the call it creates or is offered).
fn waits_for_notifications(case: &str) -> bool {
    let stem = case.trim_start_matches("graph::");
    let text = std::fs::read_to_string(root().join(format!("cases/graph/{stem}.toml")))
        .expect("case file");
    text.contains("[[step.notification]]") || text.contains("setup = ")
}

/// The Graph cases of a JSON report with their status, and every callbackUri sent.
fn graph_results(report: &Path) -> (Vec<(String, String)>, Vec<String>, serde_json::Value) {
    let text = std::fs::read_to_string(report).expect("report written");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("report is JSON");
    let mut cases = Vec::new();
    let mut callbacks = Vec::new();
    for c in doc["cases"].as_array().expect("cases") {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        if !name.starts_with("graph::") {
            continue;
        }
        // A pass with notes is a pass.
        let status = c["status"].as_str().unwrap_or_default();
        let status = if status.starts_with("pass") {
            "pass"
        } else {
            status
        };
        cases.push((name, status.to_owned()));
        for s in c["steps"].as_array().into_iter().flatten() {
            let body = s["request"]["body"].as_str().unwrap_or_default();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
                && let Some(cb) = v["callbackUri"].as_str()
            {
                callbacks.push(cb.to_owned());
            }
        }
    }
    cases.sort();
    (cases, callbacks, doc)
}

fn notifications_in(doc: &serde_json::Value) -> usize {
    doc["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["steps"].as_array().into_iter().flatten())
        .map(|s| s["notifications"].as_array().map_or(0, Vec::len))
        .sum()
}

const GRAPH_TOKEN: &str = "https-test-graph-token-7c1e";

/// A profile naming the spawned target, the listener's certificate and key (relative
/// paths), and the token from the environment.
fn profile(dir: &Path, base: &str, key_file: &str) -> String {
    write(
        dir,
        "target.toml",
        &format!(
            "[graph]\nbase_url = \"{base}\"\nversion = \"/v1.0\"\nauth = {{ bearer_env = \"CC_HTTPS_GRAPH_TOKEN\" }}\n\n[graph.triggers.incoming-call]\nurl = \"{base}/_callconform/incoming-call\"\nbody = '{{\"callbackUri\": \"{{{{callback_url}}}}\", \"example\": {{{{trigger_example}}}}}}'\n\n[timeouts]\nnotification_secs = 3\n\n[listener]\ntls_cert_file = \"certs/listener.pem\"\ntls_key_file = \"certs/{key_file}\"\n"
        ),
    )
}

/// The listener's pair (and a stray key) under `certs/`; returns the CA file.
fn write_certs(dir: &Path, p: &Pki) -> String {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    write(&certs, "listener.pem", &p.leaf);
    write(&certs, "listener-key.pem", &p.leaf_key);
    write(&certs, "other-key.pem", &p.other_key);
    write(dir, "ca.pem", &p.ca)
}

#[test]
fn a_profile_listener_receives_over_https_from_a_target_trusting_the_ca() {
    let p = pki();
    let dir = temp_dir("profile");
    let ca = write_certs(&dir, &p);
    let (_serve, base) = serve(&["--callback-ca", &ca, "--accept-token", GRAPH_TOKEN]);
    let profile = profile(&dir, &base, "listener-key.pem");
    let report = dir.join("report.json");
    let out = run(
        &[
            "run",
            "--profile",
            &profile,
            "--report-json",
            &report.to_string_lossy(),
        ],
        &[("CC_HTTPS_GRAPH_TOKEN", GRAPH_TOKEN)],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let (cases, callbacks, doc) = graph_results(&report);
    let expected: Vec<(String, String)> = graph_cases()
        .into_iter()
        .map(|n| (n, "pass".to_owned()))
        .collect();
    assert_eq!(cases, expected, "{}", out.all());
    assert!(!callbacks.is_empty());
    for cb in &callbacks {
        assert!(cb.starts_with("https://127.0.0.1:"), "{cb}");
    }
    assert!(notifications_in(&doc) > 0, "no notification was received");
    assert!(!out.all().contains(GRAPH_TOKEN));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_target_not_trusting_the_ca_cannot_deliver_and_the_case_fails() {
    let p = pki();
    let dir = temp_dir("untrusted");
    write_certs(&dir, &p);
    let (_serve, base) = serve(&["--accept-token", GRAPH_TOKEN]);
    let profile = profile(&dir, &base, "listener-key.pem");
    let report = dir.join("report.json");
    let out = run(
        &[
            "run",
            "--profile",
            &profile,
            "--report-json",
            &report.to_string_lossy(),
        ],
        &[("CC_HTTPS_GRAPH_TOKEN", GRAPH_TOKEN)],
    );
    assert_eq!(out.code, Some(1), "{}", out.all());
    let (cases, _, doc) = graph_results(&report);
    // Every case that waits for a notification (its own, or its set-up's) fails.
    let expected: Vec<(String, String)> = graph_cases()
        .into_iter()
        .map(|n| {
            let verdict = if waits_for_notifications(&n) {
                "fail"
            } else {
                "pass"
            };
            (n, verdict.to_owned())
        })
        .collect();
    assert!(expected.iter().any(|(_, v)| v == "fail"));
    assert_eq!(cases, expected, "{}", out.all());
    assert_eq!(notifications_in(&doc), 0, "nothing may arrive");
    let notes: Vec<&str> = doc["summary"]["listener_notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("refused a connection: TLS handshake failed")),
        "{notes:?}"
    );
    assert!(
        out.stderr
            .contains("listener: refused a connection: TLS handshake failed"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_embedded_target_trusts_the_listener_certificate_given_by_flags() {
    let p = pki();
    let dir = temp_dir("embedded");
    // The usual fullchain layout: leaf first, then its CA.
    let chain = write(&dir, "fullchain.pem", &format!("{}{}", p.leaf, p.ca));
    let key = write(&dir, "key.pem", &p.leaf_key);
    let report = dir.join("report.json");
    let out = run(
        &[
            "run",
            "--listen-tls-cert",
            &chain,
            "--listen-tls-key",
            &key,
            "--report-json",
            &report.to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let (cases, callbacks, doc) = graph_results(&report);
    let expected: Vec<(String, String)> = graph_cases()
        .into_iter()
        .map(|n| (n, "pass".to_owned()))
        .collect();
    assert_eq!(cases, expected);
    assert!(!callbacks.is_empty());
    for cb in &callbacks {
        assert!(cb.starts_with("https://127.0.0.1:"), "{cb}");
    }
    assert!(notifications_in(&doc) > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_listener_files_are_usage_errors_naming_the_file() {
    let p = pki();
    let dir = temp_dir("wrong");
    write_certs(&dir, &p);
    // A key that is not the certificate's, from the profile.
    let profile = profile(&dir, "http://127.0.0.1:9", "other-key.pem");
    let out = run(
        &["run", "--profile", &profile],
        &[("CC_HTTPS_GRAPH_TOKEN", "tok-x")],
    );
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr.contains("[listener] tls_cert_file"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("other-key.pem"), "{}", out.stderr);
    assert!(out.stderr.contains("does not belong"), "{}", out.stderr);
    // The certificate given as the key, by flags.
    let cert = dir
        .join("certs/listener.pem")
        .to_string_lossy()
        .into_owned();
    let out = run(
        &["run", "--listen-tls-cert", &cert, "--listen-tls-key", &cert],
        &[],
    );
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr.contains("listener.pem: no PEM `PRIVATE KEY`"),
        "{}",
        out.stderr
    );
    // One flag without the other.
    let out = run(&["run", "--listen-tls-cert", &cert], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    // A CA file that holds no certificate.
    let out = run(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--callback-ca",
            &cert.replace("listener.pem", "listener-key.pem"),
        ],
        &[],
    );
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr
            .contains("listener-key.pem: no PEM `CERTIFICATE`"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_reference_target_logs_a_failed_delivery_without_the_callback_token() {
    const CALLBACK_TOKEN: &str = "c0ffee15secretcallbacktoken0042";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stderr = child.stderr.take().expect("piped");
    let guard = Serve(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing listens on the callback's port (bound and released), so delivery fails and
    // the target logs it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let callback = format!("https://{dead}/callbacks/{CALLBACK_TOKEN}/case-tag");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let status = rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(format!("http://{addr}/v1.0/communications/calls"))
            .bearer_auth("any-token")
            .header("Content-Type", "application/json")
            .body(serde_json::json!({ "callbackUri": callback }).to_string())
            .send()
            .await
            .expect("answered")
            .status()
            .as_u16()
    });
    assert_eq!(status, 201);
    // Read until the failure line; if it never comes, stopping the target ends stderr.
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        let mut buf = [0u8; 4096];
        while !log.contains("failed") {
            match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => log.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        log
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(guard);
    let log = reader.join().unwrap_or_default();
    assert!(
        log.contains(&format!("notification to https://{dead}/… failed")),
        "{log}"
    );
    assert!(!log.contains(&CALLBACK_TOKEN[..6]), "{log}");
}
