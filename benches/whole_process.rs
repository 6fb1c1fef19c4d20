//! Whole-process throughput: what a user sees when they run `callconform run`, start-up and
//! corpus loading included, against a raw keep-alive reqwest loop that sends exactly the
//! same requests and checks nothing.
//!
//! The bench writes a corpus of N cases to disk (50% GetCallInfo, 25% Disconnect, 25% Graph
//! DELETE; every UM response snapshot-checked, the DELETEs notification-free with a fixed
//! call id, so no set-up is needed), serves them from a canned loopback target in this
//! process, and times child processes in interleaved rounds (the order rotates per round):
//!
//! - `callconform run --cases DIR --snapshots DIR --um URL --graph URL -q` with `CI=true`
//!   (the release binary), at default parallelism and with `--test-threads 1`;
//! - the raw loop, sequential and with 2 workers: this bench binary re-executed as a child
//!   (`--raw-child`), so it pays a process start-up too;
//! - Hurl on an equivalent `.hurl` file, when `hurl` is on PATH.
//!
//! Ratios are taken round by round against the sequential raw loop, then the median (and
//! range) is reported. CPU is user+sys of the child and peak RSS its `ru_maxrss`, both from
//! `wait4`. The seed corpus (the cases of `../shared/seeds`) and the committed corpus are
//! timed last, against the embedded target.
//!
//! `cargo bench --bench whole_process [-- --n 1000,10000 --rounds 5 --big --no-seed]`
//! (`--big` adds N = 100,000; `--bin PATH` times another build of callconform.) For profiling by hand: `--write-corpus DIR N` writes a
//! corpus, `--serve` prints the canned target's URL and serves until killed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const UM_PATH: &str = "/EWS/UM2007Legacy.asmx";
const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const TOKEN: &str = "bench-token";

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

#[derive(Clone, Copy, PartialEq)]
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

/// The fixed call id of case `i` (the canned target takes any).
fn call_id(i: usize) -> String {
    format!("Q0FMTC0{i}")
}

fn envelope(op: &str, call_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap:Body>\n    <{op} xmlns=\"{MESSAGES}\">\n      <CallId>{call_id}</CallId>\n    </{op}>\n  </soap:Body>\n</soap:Envelope>"
    )
}

fn op_of(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::GetCallInfo => ("GetCallInfo", GETCALLINFO_DOC),
        _ => ("Disconnect", DISCONNECT_DOC),
    }
}

// ---------------------------------------------------------------------------------------
// The corpus on disk

fn toml_literal(s: &str) -> String {
    format!("'''\n{s}\n'''")
}

fn case_text(i: usize) -> (&'static str, String) {
    let mut t = String::new();
    match kind_of(i) {
        k @ (Kind::GetCallInfo | Kind::Disconnect) => {
            let (op, doc) = op_of(k);
            let _ = writeln!(
                t,
                "tags = [\"{op}\"]\nplaceholders = [\"call_id\"]\n\n[provenance]\nexample = \"{op}\"\napi_name = \"{op}\"\n\n[vars]\ncall_id = \"{}\"\n",
                call_id(i)
            );
            let _ = writeln!(
                t,
                "[[step]]\nname = \"{op}\"\nmethod = \"POST\"\npath = \"{{{{um_endpoint}}}}\"\nheaders = {{ Content-Type = \"text/xml; charset=utf-8\" }}\nbody = {}\n",
                toml_literal(&envelope(op, "{{call_id}}"))
            );
            let _ = writeln!(
                t,
                "[step.expect]\nstatus = 200\ncontent_type = \"text/xml\"\nbody = \"xml\"\nsnapshot = \"um__bench-{i:06}\"\ndocumented = {}",
                toml_literal(doc)
            );
            ("um", t)
        }
        Kind::Delete => {
            let _ = writeln!(
                t,
                "placeholders = [\"call_id\"]\n\n[provenance]\nexample = \"delete-call-1\"\n\n[vars]\ncall_id = \"{}\"\n",
                call_id(i)
            );
            let _ = writeln!(
                t,
                "[[step]]\nname = \"delete-call-1\"\nmethod = \"DELETE\"\npath = \"/communications/calls/{{{{call_id}}}}\"\n\n[step.expect]\nstatus = 204\nbody = \"empty\""
            );
            ("graph", t)
        }
    }
}

/// Writes N cases, the seed corpus' family, errata and data files, and the snapshots
/// (derived from the documented bodies as `extract` would write them).
fn write_corpus(dir: &Path, n: usize) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    for family in ["um", "graph"] {
        std::fs::create_dir_all(dir.join("cases").join(family))?;
        for entry in std::fs::read_dir(seed.join(family))? {
            let p = entry?.path();
            let name = p.file_name().and_then(|s| s.to_str()).unwrap_or_default();
            if name.starts_with('_') {
                std::fs::copy(&p, dir.join("cases").join(family).join(name))?;
            }
        }
    }
    std::fs::copy(seed.join("errata.toml"), dir.join("cases/errata.toml"))?;
    std::fs::create_dir_all(dir.join("snapshots"))?;
    for i in 0..n {
        let (family, text) = case_text(i);
        std::fs::write(dir.join(format!("cases/{family}/bench-{i:06}.toml")), &text)?;
    }
    let cases = dir.join("cases");
    let corpus = callconform::corpus::Corpus::load(&cases)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    for case in &corpus.cases {
        for (name, file) in callconform::snapshot::expected_files(case, &corpus.errata, &cases) {
            let file = file.map_err(std::io::Error::other)?;
            std::fs::write(
                callconform::snapshot::path(&dir.join("snapshots"), &name),
                file,
            )?;
        }
    }
    Ok(())
}

/// The same requests and checks as one Hurl file.
fn write_hurl(path: &Path, base: &str, n: usize) -> std::io::Result<()> {
    let mut t = String::new();
    for i in 0..n {
        match kind_of(i) {
            Kind::Delete => {
                let _ = writeln!(
                    t,
                    "DELETE {base}/communications/calls/{}\nAuthorization: Bearer {TOKEN}\nHTTP 204\n[Asserts]\nbytes count == 0\n",
                    call_id(i)
                );
            }
            k => {
                let (op, doc) = op_of(k);
                let _ = writeln!(
                    t,
                    "POST {base}{UM_PATH}\nContent-Type: text/xml; charset=utf-8\nSOAPAction: \"{MESSAGES}/{op}\"\n```\n{}\n```\nHTTP 200\n[Asserts]\nheader \"Content-Type\" contains \"text/xml\"\nbody == {}\n",
                    envelope(op, &call_id(i)),
                    serde_json::Value::String(doc.to_owned())
                );
            }
        }
    }
    std::fs::write(path, t)
}

// ---------------------------------------------------------------------------------------
// The canned target

/// GetCallInfo 200 with the documented envelope, Disconnect 200, DELETE 204; nothing else.
fn start_canned() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("target runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send addr");
            loop {
                let Ok((stream, _)) = l.accept().await else {
                    break;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(canned);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    let addr = rx.recv().expect("target address");
    format!("http://{addr}")
}

async fn canned(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    use http_body_util::{BodyExt, Full};
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
            .body(Full::new(bytes::Bytes::new()))
    } else {
        let doc = if body.windows(11).any(|w| w == b"GetCallInfo") {
            GETCALLINFO_DOC
        } else {
            DISCONNECT_DOC
        };
        hyper::Response::builder()
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(Full::new(bytes::Bytes::from_static(doc.as_bytes())))
    };
    Ok(resp.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// The raw loop (run in a child: `--raw-child URL N WORKERS`)

/// `workers` tasks on a 2-worker runtime (what `#[tokio::main]` gives on this machine), or,
/// with `current_thread`, one task on a current-thread runtime. On the multi-thread runtime
/// a lone task's wall time is bimodal: it runs fast when its worker also polls the network
/// and about three times slower when every read crosses between the two workers, which
/// one is settled by scheduling at start-up; the current-thread loop is always the fast one.
fn raw_child(base: &str, n: usize, workers: usize, current_thread: bool) -> i32 {
    let rt = if current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
    .expect("runtime");
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .no_proxy()
            .retry(reqwest::retry::never())
            .build()
            .expect("client");
        let mut tasks = Vec::new();
        for w in 0..workers {
            let client = client.clone();
            let base = base.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut sent = 0usize;
                for i in (w..n).step_by(workers) {
                    let req = match kind_of(i) {
                        Kind::Delete => client
                            .delete(format!("{base}/communications/calls/{}", call_id(i)))
                            .header("Authorization", format!("Bearer {TOKEN}")),
                        k => {
                            let (op, _) = op_of(k);
                            client
                                .post(format!("{base}{UM_PATH}"))
                                .header("Content-Type", "text/xml; charset=utf-8")
                                .header("SOAPAction", format!("\"{MESSAGES}/{op}\""))
                                .body(envelope(op, &call_id(i)))
                        }
                    };
                    if let Ok(resp) = req.send().await {
                        let _ = resp.bytes().await;
                        sent += 1;
                    }
                }
                sent
            }));
        }
        let mut sent = 0;
        for t in tasks {
            sent += t.await.unwrap_or(0);
        }
        if sent == n { 0 } else { 1 }
    })
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
/// peak RSS is its own: `ru_maxrss` counts the memory a child inherits before `exec`, and
/// this process holds a loaded corpus.
fn measure(cmd: Command, what: &str) -> Usage {
    let err_path = std::env::temp_dir().join(format!("callconform-wp-{}.err", std::process::id()));
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let mut m = Command::new(std::env::current_exe().expect("own path"));
    m.arg("--measure")
        .arg(cmd.get_program())
        .args(cmd.get_args());
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
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    if !out.status.success() || fields.len() != 3 {
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        panic!(
            "{what} failed ({}):\n{}",
            out.status,
            err.chars().take(4000).collect::<String>()
        );
    }
    let _ = std::fs::remove_file(&err_path);
    Usage {
        wall: fields[0],
        cpu: fields[1],
        rss_mib: fields[2],
    }
}

/// The `--measure PROGRAM ARGS...` child: runs the program, waits with `wait4`, prints
/// "wall cpu peak-rss-MiB" and exits with the program's success.
fn measure_child(argv: &[String]) -> i32 {
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
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
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

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    RawSeq,
    RawSeqCurrentThread,
    Raw2,
    Default,
    Threads1,
    Hurl,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::RawSeq => "raw loop, sequential (= 1.00)",
            Variant::RawSeqCurrentThread => "raw loop, sequential, current-thread runtime",
            Variant::Raw2 => "raw loop, 2 workers",
            Variant::Default => "callconform, default parallelism",
            Variant::Threads1 => "callconform `--test-threads 1`",
            Variant::Hurl => "Hurl, one file, the same checks",
        }
    }
}

fn command(v: Variant, dir: &Path, base: &str, n: usize) -> Command {
    match v {
        Variant::RawSeq | Variant::Raw2 | Variant::RawSeqCurrentThread => {
            let mut c = Command::new(std::env::current_exe().expect("own path"));
            c.args(["--raw-child", base, &n.to_string()])
                .arg(if v == Variant::Raw2 { "2" } else { "1" });
            if v == Variant::RawSeqCurrentThread {
                c.arg("current-thread");
            }
            c
        }
        Variant::Default | Variant::Threads1 => {
            let mut c = Command::new(callconform_bin());
            c.arg("run")
                .arg("--cases")
                .arg(dir.join("cases"))
                .arg("--snapshots")
                .arg(dir.join("snapshots"))
                .args(["--um", base, "--graph", base, "-q"])
                .env("CI", "true")
                .env("CALLCONFORM_GRAPH_TOKEN", TOKEN)
                .env_remove("GITHUB_ACTIONS");
            if v == Variant::Threads1 {
                c.args(["--test-threads", "1"]);
            }
            c
        }
        Variant::Hurl => {
            let mut c = Command::new("hurl");
            c.arg("--test").arg(dir.join("bench.hurl"));
            c
        }
    }
}

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

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn range(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    (min, max)
}

struct Args {
    sizes: Vec<usize>,
    rounds: usize,
    seed: bool,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![1000, 10_000],
        rounds: 5,
        seed: true,
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
            "--rounds" => {
                a.rounds = next.parse().unwrap_or(5).max(1);
                i += 1;
            }
            "--big" => a.sizes.push(100_000),
            "--no-seed" => a.seed = false,
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    a
}

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

/// Times `callconform run -q` against the embedded target on `cases` (else the committed
/// corpus) and prints the median.
fn time_corpus(root: &Path, cases: Option<&Path>, what: &str, rounds: usize) {
    let mut walls = Vec::new();
    let mut last = Usage::default();
    for _ in 0..rounds {
        let mut c = Command::new(callconform_bin());
        c.args(["run", "-q"])
            .current_dir(root)
            .env("CI", "true")
            .env_remove("GITHUB_ACTIONS");
        if let Some(d) = cases {
            c.arg("--cases").arg(d);
        }
        last = measure(c, what);
        walls.push(last.wall);
    }
    let (lo, hi) = range(&walls);
    println!(
        "\n{what} against the embedded target (`callconform run -q`, CI=true): {:.3} s wall median ({lo:.3}–{hi:.3}), {:.3} s CPU, {:.1} MiB peak RSS (last run)",
        median(walls),
        last.cpu,
        last.rss_mib
    );
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--measure") {
        std::process::exit(measure_child(&argv[2..]));
    }
    // For profiling by hand: `--write-corpus DIR N`, `--serve` (prints the URL, then serves).
    if argv.get(1).map(String::as_str) == Some("--write-corpus") {
        let n = argv.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
        write_corpus(Path::new(argv.get(2).map_or(".", String::as_str)), n)
            .expect("corpus written");
        return;
    }
    if argv.get(1).map(String::as_str) == Some("--serve") {
        println!("{}", start_canned());
        loop {
            std::thread::park();
        }
    }
    if argv.get(1).map(String::as_str) == Some("--raw-child") {
        let n = argv.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let w = argv.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
        let ct = argv.get(5).map(String::as_str) == Some("current-thread");
        std::process::exit(raw_child(argv.get(2).map_or("", String::as_str), n, w, ct));
    }
    let args = args();
    let base = start_canned();
    let hurl = on_path("hurl");
    let mut variants = vec![
        Variant::RawSeq,
        Variant::RawSeqCurrentThread,
        Variant::Raw2,
        Variant::Default,
        Variant::Threads1,
    ];
    if hurl {
        variants.push(Variant::Hurl);
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    println!(
        "whole-process benchmark: canned loopback target {base}, {} interleaved rounds per N, {} cores",
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| N | run | wall, median | ratio to raw sequential, median (range) | CPU user+sys, median | CPU ratio | peak RSS, max |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|");
    for &n in &args.sizes {
        let dir = tmp.join(format!("whole-process-{n}"));
        let t = Instant::now();
        write_corpus(&dir, n).expect("corpus written");
        if hurl {
            write_hurl(&dir.join("bench.hurl"), &base, n).expect("hurl file written");
        }
        eprintln!(
            "N = {n}: corpus written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let mut runs: Vec<Vec<Usage>> = vec![Vec::new(); variants.len()];
        for round in 0..args.rounds {
            let mut this = vec![Usage::default(); variants.len()];
            for k in 0..variants.len() {
                let vi = (k + round) % variants.len();
                let v = variants[vi];
                this[vi] = measure(command(v, &dir, &base, n), v.label());
            }
            for (vi, u) in this.into_iter().enumerate() {
                runs[vi].push(u);
            }
            eprintln!("  round {} of {} done", round + 1, args.rounds);
        }
        let raw = &runs[0];
        for (vi, v) in variants.iter().enumerate() {
            let r = &runs[vi];
            let ratios: Vec<f64> = r.iter().zip(raw).map(|(a, b)| a.wall / b.wall).collect();
            let cpu_ratios: Vec<f64> = r.iter().zip(raw).map(|(a, b)| a.cpu / b.cpu).collect();
            let (lo, hi) = range(&ratios);
            let rss = r.iter().map(|u| u.rss_mib).fold(0.0, f64::max);
            let _ = writeln!(
                table,
                "| {n} | {} | {:.3} s | {:.2}x ({lo:.2}–{hi:.2}) | {:.3} s | {:.2}x | {rss:.1} MiB |",
                v.label(),
                median(r.iter().map(|u| u.wall).collect()),
                median(ratios),
                median(r.iter().map(|u| u.cpu).collect()),
                median(cpu_ratios),
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!();
    print!("{table}");
    if !hurl {
        println!("\nHurl: skipped (`hurl` is not on PATH).");
    }
    if args.seed {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        match seed_corpus(root, &tmp.join("seed-corpus")) {
            Ok(Some((dir, n))) => time_corpus(
                root,
                Some(&dir),
                &format!("the seed corpus ({n} cases from ../shared/seeds)"),
                args.rounds,
            ),
            Ok(None) => {
                println!("\nseed corpus: skipped (../shared/seeds is not beside the project)")
            }
            Err(e) => println!("\nseed corpus: skipped ({e})"),
        }
        time_corpus(root, None, "the committed corpus", args.rounds);
    }
}
