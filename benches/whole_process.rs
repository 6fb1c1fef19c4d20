//! Whole-process runs, measured with the ruler of `../shared/bench` (issue 23): what a user
//! sees when they run `callconform run`, start-up and corpus loading included, against a
//! raw keep-alive loop that sends exactly the same requests and checks nothing, both
//! against the same loopback target in another process.
//!
//! The ruler is `../shared/bench`: its target (`target-server`, `DELAY_MS` for a far one),
//! its raw loop (`raw-client`), its generators for the N cases (`gen_callconform.py`, and
//! `gen_cases.py` for the raw loop's requests and the Hurl file), and its timing method
//! (interleaved runs, the median of the run-by-run ratios to the raw loop at concurrency 1,
//! as `pairbench.py` takes them). The bench builds the target and the raw loop with cargo
//! (into `target/ruler`) and calls the generators with `python3`. Without the ruler (or with
//! `--equivalents`) it uses equivalents of its own: the same target, raw loop and mix,
//! ported here and run as children of this bench (`--target-child`, `--raw-child`).
//!
//! Each round runs every variant once, in an order that rotates from round to round; the
//! ratios are taken round by round against that round's raw loop at concurrency 1 (= 1.00),
//! and the median (and range) is reported. CPU is the child's user+sys and peak RSS its
//! `ru_maxrss`, both from `wait4` (in a fresh copy of this bench, `--measure`, so the RSS
//! is the child's own).
//!
//! Scenarios: the near target (no delay) at N = 1,000 and 10,000, callconform at default
//! parallelism and `--test-threads 1`, the raw loop with 2 workers; the far target (5 ms per
//! answer) at N = 1,000, callconform at default parallelism and `--test-threads 32`, the raw
//! loop with 8 and 32 workers; Hurl on the generated file when `hurl` is on PATH. Then
//! start-up plus the three seed cases (`../shared/seeds`) and the committed corpus against
//! the embedded target, and `extract` of `../shared/pages` and `../shared/pages-more`.
//!
//! `cargo bench --bench whole_process [-- --rounds 11,5,3 --big --equivalents --bin PATH]`
//! (`--rounds` for N = 1,000, N = 10,000 and far; `--big` adds N = 100,000 near, two rounds;
//! `--bin PATH` times another build of callconform, `--vs PATH` times another build beside
//! this one, in the same rounds; `--no-seed` skips the embedded runs.)

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// The mix: a port of the ruler's generators (`gen_cases.py`, `gen_callconform.py`)

const NS_MSG: &str = "https://schemas.microsoft.com/exchange/services/2006/messages";
const SOAP_PATH: &str = "/UnifiedMessaging/Service.asmx";

const GCI_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><GetCallInfoResponse xmlns="https://schemas.microsoft.com/exchange/services/2006/messages"><GetCallInfoResponse><CallState>Connected</CallState><EventCause>None</EventCause></GetCallInfoResponse></GetCallInfoResponse></soap:Body></soap:Envelope>"#;
const DIS_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><DisconnectResponse xmlns="https://schemas.microsoft.com/exchange/services/2006/messages"/></soap:Body></soap:Envelope>"#;
const FAULT_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Unknown or missing operation</faultstring></soap:Fault></soap:Body></soap:Envelope>"#;

/// Case `i` of the mix: 50% GetCallInfo, 25% Disconnect, 25% Graph DELETE.
struct MixCase {
    kind: &'static str,
    /// The path under the target's base URL.
    path: String,
    soap_action: Option<String>,
    body: Option<String>,
}

fn soap_request(op: &str, call_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body><{op} xmlns=\"{NS_MSG}\"><CallId>{call_id}</CallId></{op}></soap:Body></soap:Envelope>"
    )
}

fn mix_case(i: usize) -> MixCase {
    let call_id = format!("call-{i:06}");
    match i % 4 {
        0..=2 => {
            let op = if i % 4 == 2 {
                "Disconnect"
            } else {
                "GetCallInfo"
            };
            MixCase {
                kind: op,
                path: SOAP_PATH.to_owned(),
                soap_action: Some(format!("{NS_MSG}/{op}")),
                body: Some(soap_request(op, &call_id)),
            }
        }
        _ => MixCase {
            kind: "DeleteCall",
            path: format!("/communications/calls/{call_id}"),
            soap_action: None,
            body: None,
        },
    }
}

/// `gen_callconform.py DIR N`: the cases, an empty errata file and an empty snapshots folder.
fn write_mix_corpus(dir: &Path, n: usize) -> std::io::Result<()> {
    for fam in ["um", "graph"] {
        std::fs::create_dir_all(dir.join("cases").join(fam))?;
    }
    std::fs::create_dir_all(dir.join("snapshots"))?;
    std::fs::write(dir.join("cases/errata.toml"), "")?;
    for i in 0..n {
        let c = mix_case(i);
        let name = format!("case-{i:06}");
        let (fam, text) = match (&c.soap_action, &c.body) {
            (Some(sa), Some(body)) => {
                let documented = if c.kind == "GetCallInfo" {
                    GCI_DOC
                } else {
                    DIS_DOC
                };
                (
                    "um",
                    format!(
                        "[provenance]\nexample = \"{k}\"\n\n[[step]]\nname = \"{k}\"\nmethod = \"POST\"\npath = \"{p}\"\nheaders = {{ Content-Type = \"text/xml; charset=utf-8\", SOAPAction = '\"{sa}\"' }}\nbody = '''{body}'''\n\n[step.expect]\nstatus = 200\ncontent_type = \"text/xml\"\nbody = \"xml\"\nsnapshot = \"um__{name}\"\ndocumented = '''{documented}'''\n",
                        k = c.kind,
                        p = c.path
                    ),
                )
            }
            _ => (
                "graph",
                format!(
                    "[provenance]\nexample = \"delete-call\"\n\n[[step]]\nname = \"delete-call\"\nmethod = \"DELETE\"\npath = \"{}\"\n\n[step.expect]\nstatus = 204\nbody = \"empty\"\n",
                    c.path
                ),
            ),
        };
        std::fs::write(
            dir.join("cases").join(fam).join(format!("{name}.toml")),
            text,
        )?;
    }
    Ok(())
}

/// `gen_cases.py DIR N URL`, the parts the bench uses: `raw-cases.tsv` and `all.hurl`.
fn write_mix_requests(dir: &Path, n: usize, base: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (mut tsv, mut hurl) = (String::new(), Vec::new());
    for i in 0..n {
        let c = mix_case(i);
        let method = if c.body.is_some() { "POST" } else { "DELETE" };
        let _ = writeln!(
            tsv,
            "{method}\t{base}{}\t{}\t{}",
            c.path,
            c.soap_action.as_deref().unwrap_or("-"),
            c.body.as_deref().unwrap_or("-")
        );
        let mut e = format!("# case {i:05} {}\n{method} {base}{}\n", c.kind, c.path);
        if let (Some(sa), Some(body)) = (&c.soap_action, &c.body) {
            let _ = write!(
                e,
                "Content-Type: text/xml; charset=utf-8\nSOAPAction: \"{sa}\"\n```\n{body}\n```\n"
            );
        }
        e.push_str(match c.kind {
            "GetCallInfo" => "HTTP 200\n[Asserts]\nxpath \"string(//*[local-name()='GetCallInfoResponse']/*[local-name()='GetCallInfoResponse']/*[local-name()='CallState'])\" == \"Connected\"\n",
            "Disconnect" => "HTTP 200\n[Asserts]\nxpath \"boolean(//*[local-name()='Body']/*[local-name()='DisconnectResponse'])\" == true\n",
            _ => "HTTP 204\n",
        });
        hurl.push(e);
    }
    std::fs::write(dir.join("raw-cases.tsv"), tsv)?;
    std::fs::write(dir.join("all.hurl"), hurl.join("\n"))
}

// ---------------------------------------------------------------------------------------
// The target: a port of the ruler's `target-server` (`--target-child PORT`, `DELAY_MS`)

fn has_element(body: &[u8], name: &[u8]) -> bool {
    let mut i = 0;
    while let Some(pos) = body[i..].iter().position(|&b| b == b'<') {
        let start = i + pos + 1;
        let mut j = start;
        while j < body.len()
            && (body[j].is_ascii_alphanumeric() || matches!(body[j], b'_' | b'-' | b'.'))
        {
            j += 1;
        }
        let local = if j < body.len() && body[j] == b':' {
            j + 1
        } else {
            start
        };
        let end = local + name.len();
        if end < body.len() && &body[local..end] == name {
            let next = body[end];
            if next == b'>' || next == b'/' || next.is_ascii_whitespace() {
                return true;
            }
        }
        i = start;
    }
    false
}

type Answer = hyper::Response<http_body_util::Full<bytes::Bytes>>;

fn answer(status: u16, ctype: Option<&'static str>, body: bytes::Bytes) -> Answer {
    let mut r = hyper::Response::new(http_body_util::Full::new(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Some(ct) = ctype {
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(ct),
        );
    }
    r
}

async fn target_answer(
    req: hyper::Request<hyper::body::Incoming>,
    delay: Duration,
) -> Result<Answer, std::convert::Infallible> {
    use http_body_util::BodyExt;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if path == SOAP_PATH {
        if method != hyper::Method::POST {
            return Ok(answer(405, None, bytes::Bytes::new()));
        }
        let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
            return Ok(answer(400, None, bytes::Bytes::new()));
        };
        let xml = Some("text/xml; charset=utf-8");
        let doc = if has_element(&body, b"GetCallInfo") {
            (200, GCI_DOC)
        } else if has_element(&body, b"Disconnect") {
            (200, DIS_DOC)
        } else {
            (500, FAULT_DOC)
        };
        return Ok(answer(
            doc.0,
            xml,
            bytes::Bytes::from_static(doc.1.as_bytes()),
        ));
    }
    if let Some(id) = path.strip_prefix("/communications/calls/")
        && !id.is_empty()
        && !id.contains('/')
    {
        if method == hyper::Method::DELETE {
            return Ok(answer(204, None, bytes::Bytes::new()));
        }
        if method == hyper::Method::GET {
            let id = id.replace('\\', "\\\\").replace('"', "\\\"");
            let body = format!(
                r##"{{"@odata.type":"#microsoft.graph.call","id":"{id}","state":"established"}}"##
            );
            return Ok(answer(200, Some("application/json"), body.into()));
        }
        return Ok(answer(405, None, bytes::Bytes::new()));
    }
    Ok(answer(404, None, bytes::Bytes::new()))
}

fn target_child(port: u16) -> i32 {
    let delay = Duration::from_millis(
        std::env::var("DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 2;
    };
    rt.block_on(async move {
        let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else {
            return 2;
        };
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |r| target_answer(r, delay));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

// ---------------------------------------------------------------------------------------
// The raw loop: a port of the ruler's `raw-client` (`--raw-child TSV CONCURRENCY`)

fn raw_child(tsv: &str, conc: usize) -> i32 {
    let Ok(text) = std::fs::read_to_string(tsv) else {
        return 2;
    };
    let cases: Vec<(reqwest::Method, String, Option<String>, Option<String>)> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            let method = f.next()?.parse().ok()?;
            let url = f.next()?.to_owned();
            let sa = f.next().unwrap_or("-");
            let body = f.next().unwrap_or("-");
            Some((
                method,
                url,
                (sa != "-").then(|| sa.to_owned()),
                (body != "-").then(|| body.to_owned()),
            ))
        })
        .collect();
    let conc = conc.max(1);
    let rt = if conc == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(conc)
            .enable_all()
            .build()
    };
    let Ok(rt) = rt else { return 2 };
    let cases = std::sync::Arc::new(cases);
    let total = cases.len();
    let sent = rt.block_on(async move {
        let Ok(client) = reqwest::Client::builder()
            .pool_max_idle_per_host(conc)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
        else {
            return 0;
        };
        let mut handles = Vec::new();
        for w in 0..conc {
            let client = client.clone();
            let cases = cases.clone();
            handles.push(tokio::spawn(async move {
                let mut n = 0usize;
                for (method, url, sa, body) in cases.iter().skip(w).step_by(conc) {
                    let mut rb = client.request(method.clone(), url);
                    if let Some(sa) = sa {
                        rb = rb
                            .header("Content-Type", "text/xml; charset=utf-8")
                            .header("SOAPAction", format!("\"{sa}\""));
                    }
                    if let Some(b) = body {
                        rb = rb.body(b.clone());
                    }
                    if let Ok(resp) = rb.send().await
                        && resp.bytes().await.is_ok()
                    {
                        n += 1;
                    }
                }
                n
            }));
        }
        let mut n = 0;
        for h in handles {
            n += h.await.unwrap_or(0);
        }
        n
    });
    if sent == total { 0 } else { 1 }
}

// ---------------------------------------------------------------------------------------
// The ruler, or its equivalents

struct Ruler {
    /// The target's command (the port comes last).
    target: Vec<String>,
    /// The raw loop's command (the TSV file and the concurrency come last).
    raw: Vec<String>,
    /// The ruler's folder, for its generators; `None`: the ports above.
    generators: Option<PathBuf>,
    what: String,
}

fn own_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn find_ruler(root: &Path, equivalents: bool) -> Ruler {
    let equivalent = |why: &str| Ruler {
        target: vec![own_exe(), "--target-child".into()],
        raw: vec![own_exe(), "--raw-child".into()],
        generators: None,
        what: format!("the ruler's equivalents in this bench (target, raw loop, mix; {why})"),
    };
    let dir = root.join("../shared/bench");
    if equivalents {
        return equivalent("--equivalents");
    }
    if !dir.join("target-server/Cargo.toml").is_file() {
        return equivalent("../shared/bench is not beside the project");
    }
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| root.join("target"), Path::to_owned)
        .join("ruler");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for tool in ["target-server", "raw-client"] {
        let built = Command::new(&cargo)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(dir.join(tool).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .stdin(Stdio::null())
            .status();
        if !built.is_ok_and(|s| s.success()) {
            return equivalent(&format!("building ../shared/bench/{tool} failed"));
        }
    }
    let python = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let bin = |name: &str| target_dir.join("release").join(name).display().to_string();
    Ruler {
        target: vec![bin("bench-target")],
        raw: vec![bin("bench-raw")],
        generators: python.then(|| dir.clone()),
        what: format!(
            "the ruler of ../shared/bench (its target and raw loop, built into {}; {})",
            target_dir.display(),
            if python {
                "its generators"
            } else {
                "the generators ported here: no python3"
            }
        ),
    }
}

impl Ruler {
    /// The corpus of N cases in `dir` (cases, snapshots), and the raw loop's requests and
    /// the Hurl file for `near` in `dir` and for `far` in `dir/far`.
    fn generate(&self, dir: &Path, n: usize, near: &str, far: &str) -> std::io::Result<()> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let Some(g) = &self.generators else {
            write_mix_corpus(dir, n)?;
            write_mix_requests(dir, n, near)?;
            return write_mix_requests(&dir.join("far"), n, far);
        };
        let py = |script: &str, args: &[String]| -> std::io::Result<()> {
            let ok = Command::new("python3")
                .arg(g.join(script))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("{script} failed")))
            }
        };
        let (d, n) = (dir.display().to_string(), n.to_string());
        py("gen_callconform.py", &[d.clone(), n.clone()])?;
        py("gen_cases.py", &[d.clone(), n.clone(), near.into()])?;
        py("gen_cases.py", &[format!("{d}/far"), n, far.into()])
    }
}

/// A child process killed when dropped (the targets).
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// Starts the target with `delay_ms`; returns it and its base URL once it accepts.
fn start_target(ruler: &Ruler, delay_ms: u64) -> (Background, String) {
    let port = free_port();
    let child = Command::new(&ruler.target[0])
        .args(&ruler.target[1..])
        .arg(port.to_string())
        .env("DELAY_MS", delay_ms.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the target: {e}"));
    let bg = Background(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the target did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (bg, format!("http://127.0.0.1:{port}"))
}

// ---------------------------------------------------------------------------------------
// Child processes, measured by wait4

#[derive(Clone, Copy, Default)]
struct Usage {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

/// Runs `cmd` through a freshly started copy of this bench (`--measure`), so the child's
/// peak RSS is its own: `ru_maxrss` counts the memory a child inherits before `exec`.
fn measure(cmd: &Command, what: &str) -> Usage {
    try_measure(cmd, what).unwrap_or_else(|e| panic!("{e}"))
}

fn try_measure(cmd: &Command, what: &str) -> Result<Usage, String> {
    measure_with(cmd, what, "--measure")
}

/// [`measure`] whatever the command's exit status (`extract` exits 1 on its diagnostics).
fn measure_any_exit(cmd: &Command, what: &str) -> Result<Usage, String> {
    measure_with(cmd, what, "--measure-any-exit")
}

fn measure_with(cmd: &Command, what: &str, how: &str) -> Result<Usage, String> {
    let err_path = std::env::temp_dir().join(format!("callconform-wp-{}.err", std::process::id()));
    let err = std::fs::File::create(&err_path).map_err(|e| format!("stderr file: {e}"))?;
    let mut m = Command::new(own_exe());
    m.arg(how).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => m.env(k, v),
            None => m.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        m.current_dir(d);
    }
    let out = m
        .stdin(Stdio::null())
        .stderr(err)
        .output()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    if !out.status.success() || fields.len() != 3 {
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        return Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            err.chars().take(4000).collect::<String>()
        ));
    }
    let _ = std::fs::remove_file(&err_path);
    Ok(Usage {
        wall: fields[0],
        cpu: fields[1],
        rss_mib: fields[2],
    })
}

/// The `--measure PROGRAM ARGS...` child: runs the program, waits with `wait4`, prints
/// "wall cpu peak-rss-MiB" and exits with the program's success (any exit, with
/// `any_exit`, as long as it exited).
fn measure_child(argv: &[String], any_exit: bool) -> i32 {
    let Some((program, rest)) = argv.split_first() else {
        return 2;
    };
    let start = Instant::now();
    let Ok(child) = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
    else {
        eprintln!("cannot start {program}");
        return 2;
    };
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; status and ru point to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    if r != pid || !libc::WIFEXITED(status) || (libc::WEXITSTATUS(status) != 0 && !any_exit) {
        eprintln!("{program} ended with status {status}");
        return 1;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    println!(
        "{wall} {} {}",
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0
    );
    0
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// The binary under test: this build's, or `--bin PATH` (to compare two builds).
fn callconform_bin() -> PathBuf {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == "--bin")
        .and_then(|i| argv.get(i + 1))
        .map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_callconform")),
            PathBuf::from,
        )
}

fn callconform(dir: &Path, base: &str, extra: &[&str]) -> Command {
    callconform_of(&callconform_bin(), dir, base, extra)
}

fn callconform_of(bin: &Path, dir: &Path, base: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("run")
        .arg("--cases")
        .arg(dir.join("cases"))
        .arg("--snapshots")
        .arg(dir.join("snapshots"))
        .args(["--um", base, "--graph", base, "-q"])
        .args(extra)
        .env("CI", "true")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CALLCONFORM_UM")
        .env_remove("CALLCONFORM_GRAPH")
        .env_remove("CALLCONFORM_GRAPH_TOKEN");
    c
}

fn raw(ruler: &Ruler, tsv: &Path, conc: usize) -> Command {
    let mut c = Command::new(&ruler.raw[0]);
    c.args(&ruler.raw[1..]).arg(tsv).arg(conc.to_string());
    c
}

struct Variant {
    label: String,
    cmd: Command,
}

/// The figures of one variant over the rounds, against the first variant (the raw loop).
struct Figures {
    label: String,
    wall: f64,
    ratio: f64,
    ratio_range: (f64, f64),
    cpu: f64,
    cpu_ratio: f64,
    rss: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    (min, max)
}

/// Runs every variant once per round, in an order that rotates; ratios to the first.
fn rounds(name: &str, variants: &[Variant], rounds: usize) -> (Vec<Figures>, Vec<Vec<Usage>>) {
    let mut runs: Vec<Vec<Usage>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        let mut this = vec![Usage::default(); variants.len()];
        for k in 0..variants.len() {
            let vi = (k + round) % variants.len();
            this[vi] = measure(&variants[vi].cmd, &variants[vi].label);
        }
        for (vi, u) in this.into_iter().enumerate() {
            runs[vi].push(u);
        }
        eprintln!("  {name}: round {} of {rounds} done", round + 1);
    }
    let reference = runs[0].clone();
    let figures = variants
        .iter()
        .zip(runs.iter())
        .map(|(v, r)| {
            let ratios: Vec<f64> = r
                .iter()
                .zip(&reference)
                .map(|(a, b)| a.wall / b.wall)
                .collect();
            let cpu_ratios: Vec<f64> = r
                .iter()
                .zip(&reference)
                .map(|(a, b)| a.cpu / b.cpu)
                .collect();
            Figures {
                label: v.label.clone(),
                wall: median(r.iter().map(|u| u.wall).collect()),
                ratio: median(ratios.clone()),
                ratio_range: range(&ratios),
                cpu: median(r.iter().map(|u| u.cpu).collect()),
                cpu_ratio: median(cpu_ratios),
                rss: r.iter().map(|u| u.rss_mib).fold(0.0, f64::max),
            }
        })
        .collect();
    (figures, runs)
}

/// With `--vs PATH`: each callconform variant again with the other build, in the same
/// rounds.
fn with_other(variants: &mut Vec<Variant>, other: Option<&Path>, dir: &Path, base: &str) {
    let Some(other) = other else { return };
    let twins: Vec<Variant> = variants
        .iter()
        .filter(|v| v.label.starts_with("callconform"))
        .map(|v| {
            let args: Vec<String> = v
                .cmd
                .get_args()
                .skip_while(|a| *a != "-q")
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Variant {
                label: twin_label(&v.label),
                cmd: callconform_of(other, dir, base, &args),
            }
        })
        .collect();
    variants.extend(twins);
}

/// "callconform, default" -> "other build, default".
fn twin_label(label: &str) -> String {
    let what = label
        .trim_start_matches("callconform")
        .trim_start_matches(',')
        .trim();
    format!("other build, {what}")
}

/// This build against the other one, round by round: the median of the wall ratios.
fn versus(variants: &[Variant], runs: &[Vec<Usage>], name: &str) {
    for (k, v) in variants.iter().enumerate() {
        let twin = twin_label(&v.label);
        let Some(o) = variants.iter().position(|w| w.label == twin) else {
            continue;
        };
        let ratios: Vec<f64> = runs[k]
            .iter()
            .zip(&runs[o])
            .map(|(a, b)| a.wall / b.wall)
            .collect();
        let (lo, hi) = range(&ratios);
        println!(
            "{name}: {} against the other build: wall ratio {:.2} ({lo:.2}–{hi:.2}), CPU {:.3} s against {:.3} s",
            v.label,
            median(ratios.clone()),
            median(runs[k].iter().map(|u| u.cpu).collect()),
            median(runs[o].iter().map(|u| u.cpu).collect()),
        );
    }
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

/// Fills the snapshots of the corpus in `dir` from the target, once (`--bless`, not CI).
fn bless(dir: &Path, base: &str) {
    let mut c = callconform(dir, base, &["--bless"]);
    c.env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let ok = c.status().is_ok_and(|s| s.success());
    assert!(ok, "callconform --bless on {} failed", dir.display());
}

struct Args {
    /// `--vs PATH`: another build of callconform, run in the same rounds.
    vs: Option<PathBuf>,
    rounds: [usize; 3],
    big: bool,
    equivalents: bool,
    seed: bool,
}

fn args() -> Args {
    let mut a = Args {
        vs: None,
        rounds: [11, 5, 3],
        big: false,
        equivalents: false,
        seed: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "--rounds" => {
                let given: Vec<usize> = argv
                    .get(i + 1)
                    .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
                    .unwrap_or_default();
                for (k, r) in given.into_iter().take(3).enumerate() {
                    a.rounds[k] = r.max(1);
                }
                i += 1;
            }
            "--big" => a.big = true,
            "--equivalents" => a.equivalents = true,
            "--no-seed" => a.seed = false,
            "--bin" => i += 1,
            "--vs" => {
                a.vs = argv.get(i + 1).map(PathBuf::from);
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    a
}

// ---------------------------------------------------------------------------------------
// The embedded target: start-up plus the seed cases, the committed corpus, extract

/// The cases translated from the seed pages (`../shared/seeds`: the three examples the
/// project began with), with the family files, in `dir`; `None` without the seeds.
fn seed_corpus(root: &Path, dir: &Path) -> std::io::Result<Option<(PathBuf, usize)>> {
    let Some(seeds) = root.parent().map(|p| p.join("shared/seeds")) else {
        return Ok(None);
    };
    let Ok(listing) = std::fs::read_dir(&seeds) else {
        return Ok(None);
    };
    let names: Vec<String> = listing
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let _ = std::fs::remove_dir_all(dir);
    let cases = root.join("cases");
    std::fs::create_dir_all(dir)?;
    std::fs::copy(cases.join("errata.toml"), dir.join("errata.toml"))?;
    let mut n = 0;
    for family in std::fs::read_dir(&cases)?.filter_map(Result::ok) {
        if !family.path().is_dir() {
            continue;
        }
        let to = dir.join(family.file_name());
        std::fs::create_dir_all(&to)?;
        for f in std::fs::read_dir(family.path())?.filter_map(Result::ok) {
            let name = f.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(f.path())?;
            let seed = names.iter().any(|s| text.contains(&format!("\"{s}\"")));
            if name.starts_with('_') || seed {
                std::fs::copy(f.path(), to.join(&name))?;
                n += usize::from(!name.starts_with('_'));
            }
        }
    }
    Ok(Some((dir.to_owned(), n)))
}

/// Times `cmd` `rounds` times; the median wall, its range, and the last CPU and RSS.
fn time_command(cmd: &Command, what: &str, rounds: usize) -> (f64, (f64, f64), Usage) {
    let mut walls = Vec::new();
    let mut last = Usage::default();
    for _ in 0..rounds {
        last = measure(cmd, what);
        walls.push(last.wall);
    }
    let r = range(&walls);
    (median(walls), r, last)
}

fn embedded(root: &Path, cases: Option<&Path>) -> Command {
    let mut c = Command::new(callconform_bin());
    c.args(["run", "-q"])
        .current_dir(root)
        .env("CI", "true")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CALLCONFORM_UM")
        .env_remove("CALLCONFORM_GRAPH");
    if let Some(d) = cases {
        c.arg("--cases").arg(d);
    }
    c
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("--measure") => std::process::exit(measure_child(&argv[2..], false)),
        Some("--measure-any-exit") => std::process::exit(measure_child(&argv[2..], true)),
        Some("--target-child") => {
            let port = argv.get(2).and_then(|p| p.parse().ok()).unwrap_or(18080);
            std::process::exit(target_child(port))
        }
        Some("--raw-child") => {
            let conc = argv.get(3).and_then(|c| c.parse().ok()).unwrap_or(1);
            std::process::exit(raw_child(argv.get(2).map_or("", String::as_str), conc))
        }
        _ => {}
    }
    let args = args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let started = Instant::now();
    let ruler = find_ruler(root, args.equivalents);
    let (_near, near) = start_target(&ruler, 0);
    let (_far, far) = start_target(&ruler, 5);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let hurl = on_path("hurl");
    println!(
        "whole-process benchmark, {cores} cores; measured with {}; near target {near}, far target (DELAY_MS=5) {far}",
        ruler.what
    );
    let mut detail = String::new();
    let _ = writeln!(
        detail,
        "| scenario | run | wall, median | ratio to raw c=1, median (range) | CPU user+sys, median | CPU ratio | peak RSS, max |"
    );
    let _ = writeln!(detail, "|---|---|---|---|---|---|---|");
    let mut summary: Vec<(String, Vec<Figures>)> = Vec::new();
    let mut sizes = vec![(1000usize, args.rounds[0]), (10_000, args.rounds[1])];
    if args.big {
        sizes.push((100_000, 2));
    }
    for &(n, r) in &sizes {
        let dir = tmp.join(format!("ruler-{n}"));
        let t = Instant::now();
        ruler
            .generate(&dir, n, &near, &far)
            .unwrap_or_else(|e| panic!("the mix of {n} cases: {e}"));
        bless(&dir, &near);
        eprintln!(
            "N = {n}: corpus generated and blessed in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let tsv = dir.join("raw-cases.tsv");
        let mut variants = vec![
            Variant {
                label: "raw loop, c=1 (= 1.00)".into(),
                cmd: raw(&ruler, &tsv, 1),
            },
            Variant {
                label: "raw loop, c=2".into(),
                cmd: raw(&ruler, &tsv, 2),
            },
            Variant {
                label: "callconform, default".into(),
                cmd: callconform(&dir, &near, &[]),
            },
            Variant {
                label: "callconform `--test-threads 1`".into(),
                cmd: callconform(&dir, &near, &["--test-threads", "1"]),
            },
        ];
        if hurl && n <= 10_000 {
            let mut c = Command::new("hurl");
            c.arg("--test").arg(dir.join("all.hurl"));
            variants.push(Variant {
                label: "Hurl, the same checks".into(),
                cmd: c,
            });
        }
        with_other(&mut variants, args.vs.as_deref(), &dir, &near);
        let name = format!("near target, N = {n}");
        let (figures, runs) = rounds(&name, &variants, r);
        versus(&variants, &runs, &name);
        summary.push((name, figures));
        if n == 1000 {
            let far_tsv = dir.join("far/raw-cases.tsv");
            let mut variants = vec![
                Variant {
                    label: "raw loop, c=1 (= 1.00)".into(),
                    cmd: raw(&ruler, &far_tsv, 1),
                },
                Variant {
                    label: "raw loop, c=8".into(),
                    cmd: raw(&ruler, &far_tsv, 8),
                },
                Variant {
                    label: "raw loop, c=32".into(),
                    cmd: raw(&ruler, &far_tsv, 32),
                },
                Variant {
                    label: "callconform, default".into(),
                    cmd: callconform(&dir, &far, &[]),
                },
                Variant {
                    label: "callconform `--test-threads 32`".into(),
                    cmd: callconform(&dir, &far, &["--test-threads", "32"]),
                },
            ];
            if hurl {
                let mut c = Command::new("hurl");
                c.arg("--test").arg(dir.join("far/all.hurl"));
                variants.push(Variant {
                    label: "Hurl, the same checks".into(),
                    cmd: c,
                });
            }
            with_other(&mut variants, args.vs.as_deref(), &dir, &far);
            let name = format!("far target (5 ms), N = {n}");
            let (figures, runs) = rounds(&name, &variants, args.rounds[2]);
            versus(&variants, &runs, &name);
            summary.push((name, figures));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    for (name, figures) in &summary {
        for f in figures {
            let _ = writeln!(
                detail,
                "| {name} | {} | {:.3} s | {:.2} ({:.2}–{:.2}) | {:.3} s | {:.2} | {:.1} MiB |",
                f.label,
                f.wall,
                f.ratio,
                f.ratio_range.0,
                f.ratio_range.1,
                f.cpu,
                f.cpu_ratio,
                f.rss
            );
        }
    }
    println!("\n{detail}");
    // The issue's table: ratios to the raw loop at c=1, medians of the rounds (ranges).
    let find = |fs: &[Figures], label: &str| -> String {
        fs.iter()
            .find(|f| f.label.starts_with(label))
            .map_or("".into(), |f| {
                format!(
                    "{:.2} ({:.2}–{:.2})",
                    f.ratio, f.ratio_range.0, f.ratio_range.1
                )
            })
    };
    let rss = |fs: &[Figures]| -> String {
        fs.iter()
            .find(|f| f.label == "callconform, default")
            .map_or("".into(), |f| format!(", peak RSS {:.1} MiB", f.rss))
    };
    println!(
        "| scenario | callconform default | `--test-threads 1` (far: 32) | raw loop, more workers | Hurl |"
    );
    println!("|---|---|---|---|---|");
    for (name, fs) in &summary {
        let far = name.starts_with("far");
        let hurl_cell = if hurl {
            find(fs, "Hurl")
        } else {
            "not on PATH".into()
        };
        println!(
            "| {name} | {}{} | {} | {} | {hurl_cell} |",
            find(fs, "callconform, default"),
            rss(fs),
            find(
                fs,
                if far {
                    "callconform `--test-threads 32`"
                } else {
                    "callconform `--test-threads 1`"
                }
            ),
            if far {
                format!(
                    "{} (c=8), {} (c=32)",
                    find(fs, "raw loop, c=8"),
                    find(fs, "raw loop, c=32")
                )
            } else {
                format!("{} (c=2)", find(fs, "raw loop, c=2"))
            },
        );
    }
    for (name, fs) in &summary {
        if let Some(f) = fs.iter().find(|f| f.label == "callconform, default") {
            println!(
                "CPU per case, {name}: callconform default {:.1} µs, `--test-threads 1` {:.1} µs, raw loop c=1 {:.1} µs (ratio {:.2})",
                f.cpu / n_of(name) * 1e6,
                fs.iter()
                    .find(|f| f.label.contains("--test-threads"))
                    .map_or(f64::NAN, |t| t.cpu / n_of(name) * 1e6),
                fs[0].cpu / n_of(name) * 1e6,
                f.cpu_ratio
            );
        }
    }
    if args.seed {
        println!();
        match seed_corpus(root, &tmp.join("seed-corpus")) {
            Ok(Some((dir, n))) => {
                let (m, (lo, hi), u) = time_command(
                    &embedded(root, Some(&dir)),
                    "the seed corpus",
                    args.rounds[1],
                );
                println!(
                    "start-up plus the {n} seed cases (../shared/seeds) against the embedded target: {m:.3} s wall median ({lo:.3}–{hi:.3}), {:.3} s CPU, {:.1} MiB peak RSS",
                    u.cpu, u.rss_mib
                );
            }
            Ok(None) => {
                println!("seed corpus: skipped (../shared/seeds is not beside the project)")
            }
            Err(e) => println!("seed corpus: skipped ({e})"),
        }
        let (m, (lo, hi), u) = time_command(&embedded(root, None), "the committed corpus", 3);
        println!(
            "the committed corpus against the embedded target: {m:.3} s wall median ({lo:.3}–{hi:.3}), {:.3} s CPU, {:.1} MiB peak RSS",
            u.cpu, u.rss_mib
        );
        let pages = root.join("../shared/pages");
        let more = root.join("../shared/pages-more");
        if pages.is_dir() && more.is_dir() {
            let out = tmp.join("extract-out");
            let _ = std::fs::remove_dir_all(&out);
            let _ = std::fs::create_dir_all(&out);
            let mut c = Command::new(callconform_bin());
            c.arg("extract")
                .arg(&pages)
                .arg(&more)
                .arg("--out")
                .arg(&out);
            // Each run writes into an empty folder (and exits 1 on the pages' diagnostics).
            let walls: Result<Vec<Usage>, String> = (0..5)
                .map(|_| {
                    let _ = std::fs::remove_dir_all(&out);
                    let _ = std::fs::create_dir_all(&out);
                    measure_any_exit(&c, "extract")
                })
                .collect();
            match walls {
                Ok(u) => {
                    let w: Vec<f64> = u.iter().map(|u| u.wall).collect();
                    let (lo, hi) = range(&w);
                    println!(
                        "extract of ../shared/pages and ../shared/pages-more: {:.3} s wall median ({lo:.3}–{hi:.3}), {:.3} s CPU (last run)",
                        median(w),
                        u.last().map_or(0.0, |u| u.cpu)
                    );
                }
                Err(e) => println!("extract: {e}"),
            }
        }
    }
    println!("\nthe bench took {:.0} s", started.elapsed().as_secs_f64());
}

/// The N a scenario's name ends with ("... N = 1000").
fn n_of(name: &str) -> f64 {
    name.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN)
}
