//! Real clients against `callconform serve`: zeep (Python SOAP, built from the target's
//! WSDL) and msgraph-sdk (the Python Graph SDK), from a virtual environment made from the
//! pinned `tests/interop/requirements.txt`.
//!
//! The interpreter is `$CALLCONFORM_INTEROP_VENV/bin/python` (default `target/interop-venv`).
//! When the venv or a pinned package is missing, every trial is reported *ignored* with the
//! reason; with `CALLCONFORM_INTEROP=required` (as `.ci/run` sets) that is a failure.

use callconform::family::SoapAction;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_callconform");
const MSG_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// A client run may include the first import of lxml/pydantic-sized packages.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's interpreter, or why the trials cannot run.
type Python = Result<PathBuf, String>;

/// Finds the venv and checks that it holds exactly the pinned versions.
fn find_python() -> Python {
    let venv = std::env::var_os("CALLCONFORM_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/interop-venv"));
    let python = venv.join("bin/python");
    let fix = format!(
        "create it: python3 -m venv {v} && {v}/bin/pip install -r tests/interop/requirements.txt",
        v = venv.display()
    );
    if !python.is_file() {
        return Err(format!("no Python venv at {} ({fix})", venv.display()));
    }
    let reqs_path = root().join("tests/interop/requirements.txt");
    let reqs = std::fs::read_to_string(&reqs_path)
        .map_err(|e| format!("cannot read {}: {e}", reqs_path.display()))?;
    let pins: Vec<(&str, &str)> = reqs
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect();
    if !pins.iter().any(|(n, _)| *n == "zeep") || !pins.iter().any(|(n, _)| *n == "msgraph-sdk") {
        return Err(format!(
            "{} pins no zeep or no msgraph-sdk",
            reqs_path.display()
        ));
    }
    let probe = "import json, sys\n\
                 from importlib import metadata\n\
                 def v(n):\n\
                 \x20   try:\n\
                 \x20       return metadata.version(n)\n\
                 \x20   except metadata.PackageNotFoundError:\n\
                 \x20       return None\n\
                 print(json.dumps({n: v(n) for n in sys.argv[1:]}))\n";
    let out = Command::new(&python)
        .arg("-c")
        .arg(probe)
        .args(pins.iter().map(|(n, _)| *n))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed to list its packages: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let installed: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: unreadable package list: {e}", python.display()))?;
    let wrong: Vec<String> = pins
        .iter()
        .filter(|(n, v)| installed.get(*n).and_then(Value::as_str) != Some(*v))
        .map(|(n, v)| match installed.get(*n).and_then(Value::as_str) {
            Some(have) => format!("{n} {have} (pinned {v})"),
            None => format!("{n} missing (pinned {v})"),
        })
        .collect();
    if !wrong.is_empty() {
        return Err(format!(
            "the venv at {} does not match the pins: {} ({fix})",
            venv.display(),
            wrong.join(", ")
        ));
    }
    Ok(python)
}

// ---------------------------------------------------------------------------------------
// `callconform serve` as a child process

/// A running `callconform serve`, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the reference target on an ephemeral loopback port and waits for its address.
fn serve(extra: &[&str]) -> Result<Served, String> {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .env_remove("CALLCONFORM_SERVE_TOKEN")
        .env_remove("CALLCONFORM_NOTIFY_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {BIN} serve: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let base = line
                .strip_prefix("callconform reference target on ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned);
            if let Some(b) = base {
                let _ = tx.send(Ok(b));
            } else {
                let _ = tx.send(Err(line));
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut said = Vec::new();
    let base = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(b)) => break b,
            Ok(Err(line)) => said.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "callconform serve {extra:?} did not report its address: {}",
                    said.join(" | ")
                ));
            }
        }
    };
    Ok(Served { child, base })
}

/// What a client script printed, and how it ended.
struct ScriptRun {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `python tests/interop/<script> ARGS` with a deadline, proxies off for loopback.
fn script(python: &Path, name: &str, args: &[&str]) -> Result<ScriptRun, String> {
    let path = root().join("tests/interop").join(name);
    let mut cmd = Command::new(python);
    cmd.arg(&path)
        .args(args)
        .current_dir(root())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let mut so = child.stdout.take().ok_or("no stdout pipe")?;
    let mut se = child.stderr.take().ok_or("no stderr pipe")?;
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
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > SCRIPT_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name} did not finish within {SCRIPT_DEADLINE:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {name}: {e}")),
        }
    };
    Ok(ScriptRun {
        success: status.success(),
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    })
}

/// The script's JSON report, or the failure with everything it said.
fn passed(name: &str, run: ScriptRun) -> Result<Value, String> {
    if !run.success {
        return Err(format!(
            "{name} failed:\n{}{}",
            run.stderr.trim_end(),
            if run.stdout.trim().is_empty() {
                String::new()
            } else {
                format!("\nstdout: {}", run.stdout.trim())
            }
        ));
    }
    serde_json::from_str(run.stdout.trim())
        .map_err(|e| format!("{name} printed no JSON report ({e}):\n{}", run.stdout))
}

// ---------------------------------------------------------------------------------------
// zeep

/// The operations zeep must have called, in order.
const ZEEP_SEQUENCE: [&str; 5] = [
    "PlayOnPhone",
    "GetCallInfo",
    "Disconnect",
    "GetCallInfo",
    "GetCallInfo",
];

/// Checks zeep's report: the full sequence ran, and for every request, the SOAPAction zeep
/// took from the WSDL is what callconform derives from the same envelope.
fn check_zeep_report(report: &Value) -> Result<(), String> {
    let declared = report
        .get("declared")
        .and_then(Value::as_object)
        .ok_or("no `declared` soapActions in zeep's report")?;
    let sent = report
        .get("sent")
        .and_then(Value::as_array)
        .ok_or("no `sent` requests in zeep's report")?;
    let ops: Vec<&str> = sent
        .iter()
        .filter_map(|s| s.get("operation").and_then(Value::as_str))
        .collect();
    if ops != ZEEP_SEQUENCE {
        return Err(format!("zeep called {ops:?}, expected {ZEEP_SEQUENCE:?}"));
    }
    for s in sent {
        let op = s.get("operation").and_then(Value::as_str).unwrap_or("");
        let zeep_sent = s.get("soap_action").and_then(Value::as_str);
        let body = s.get("body").and_then(Value::as_str).unwrap_or("");
        let wsdl = declared.get(op).and_then(Value::as_str);
        if wsdl != Some(format!("{MSG_NS}/{op}").as_str()) {
            return Err(format!("the WSDL declares soapAction {wsdl:?} for {op}"));
        }
        let ours = SoapAction::Quoted.value_for(body);
        if ours.as_deref() != zeep_sent {
            return Err(format!(
                "{op}: zeep sent SOAPAction {zeep_sent:?}, callconform derives {ours:?} from the same envelope"
            ));
        }
    }
    Ok(())
}

/// Every SOAPAction callconform sends for the committed UM cases is one the WSDL declares.
fn check_corpus_actions(declared: &serde_json::Map<String, Value>) -> Result<usize, String> {
    let (corpus, _) = callconform::harness::load_default_corpus()?;
    let mut checked = 0;
    for case in corpus
        .cases
        .iter()
        .filter(|c| c.family == callconform::family::Family::UM)
    {
        let setup = corpus
            .setup_for(case)
            .map(|s| s.steps.as_slice())
            .unwrap_or(&[]);
        for step in setup.iter().chain(&case.file.steps) {
            let Some(body) = &step.body else { continue };
            let ours = SoapAction::Quoted.value_for(body).ok_or_else(|| {
                format!(
                    "{}: step `{}` names no operation",
                    case.trial_name(),
                    step.name
                )
            })?;
            let known = declared
                .values()
                .filter_map(Value::as_str)
                .any(|w| format!("\"{w}\"") == ours);
            if !known {
                return Err(format!(
                    "{}: step `{}` would send SOAPAction {ours}, which the WSDL does not declare",
                    case.trial_name(),
                    step.name
                ));
            }
            checked += 1;
        }
    }
    if checked == 0 {
        return Err("no UM step with a body in the committed cases".into());
    }
    Ok(checked)
}

fn zeep_call_sequence(python: &Path) -> Result<(), String> {
    let served = serve(&[])?;
    let wsdl = format!("{}/EWS/UM2007Legacy.asmx?wsdl", served.base);
    let report = passed("um_zeep.py", script(python, "um_zeep.py", &[&wsdl])?)?;
    check_zeep_report(&report)?;
    let declared = report
        .get("declared")
        .and_then(Value::as_object)
        .ok_or("no `declared` soapActions")?;
    check_corpus_actions(declared).map(|_| ())
}

/// An ASMX-style Exchange 2007 service: only the 2007 path, SOAPAction required.
fn zeep_asmx_2007(python: &Path) -> Result<(), String> {
    let served = serve(&[
        "--deviate",
        "um-require-soap-action,um-exchange-2007-path-only",
    ])?;
    let wsdl = format!("{}/UnifiedMessaging/Service.asmx?wsdl", served.base);
    let report = passed("um_zeep.py", script(python, "um_zeep.py", &[&wsdl])?)?;
    check_zeep_report(&report)
}

/// The sequence is a real check: a target that forgets ended calls fails it.
fn zeep_catches_forgetful_target(python: &Path) -> Result<(), String> {
    let served = serve(&["--deviate", "um-forget-disconnected"])?;
    let wsdl = format!("{}/EWS/UM2007Legacy.asmx?wsdl", served.base);
    let run = script(python, "um_zeep.py", &[&wsdl])?;
    if run.success {
        return Err("um_zeep.py passed against um-forget-disconnected".into());
    }
    if !run.stderr.contains("GetCallInfo after Disconnect: fault") {
        return Err(format!(
            "um_zeep.py failed, but not at GetCallInfo after Disconnect:\n{}",
            run.stderr
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// msgraph-sdk

fn msgraph_call_lifecycle(python: &Path) -> Result<(), String> {
    let served = serve(&[])?;
    let base = format!("{}/v1.0", served.base);
    let report = passed(
        "graph_msgraph.py",
        script(python, "graph_msgraph.py", &[&base])?,
    )?;
    let id = report.get("id").and_then(Value::as_str).unwrap_or("");
    if id.len() != 36 {
        return Err(format!("no call id in the report: {report}"));
    }
    let after = report.get("after_delete");
    let status = after.and_then(|a| a.get("status")).and_then(Value::as_u64);
    let code = after.and_then(|a| a.get("code")).and_then(Value::as_str);
    if status != Some(404) || code != Some("ItemNotFound") {
        return Err(format!(
            "get after delete: expected a 404 ODataError ItemNotFound, report says {after:?}"
        ));
    }
    Ok(())
}

/// The script is a real check: when the target refuses the SDK's token, it fails at create.
fn msgraph_catches_refused_token(python: &Path) -> Result<(), String> {
    let served = serve(&["--accept-token", "some-other-token"])?;
    let base = format!("{}/v1.0", served.base);
    let run = script(python, "graph_msgraph.py", &[&base])?;
    if run.success {
        return Err("graph_msgraph.py passed although the target refused its token".into());
    }
    if !run
        .stderr
        .contains("create: 401 InvalidAuthenticationToken")
    {
        return Err(format!(
            "graph_msgraph.py failed, but not with the 401 at create:\n{}",
            run.stderr
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------

type Body = fn(&Path) -> Result<(), String>;

const TRIALS: &[(&str, Body)] = &[
    ("interop::zeep::call-sequence", zeep_call_sequence),
    ("interop::zeep::asmx-exchange-2007", zeep_asmx_2007),
    (
        "interop::zeep::catches-forgotten-call",
        zeep_catches_forgetful_target,
    ),
    ("interop::msgraph::call-lifecycle", msgraph_call_lifecycle),
    (
        "interop::msgraph::catches-refused-token",
        msgraph_catches_refused_token,
    ),
];

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let required = std::env::var("CALLCONFORM_INTEROP").is_ok_and(|v| v == "required");
    // Listing needs no interpreter.
    let python: Arc<Python> = Arc::new(if args.list {
        Err("listing".into())
    } else {
        find_python()
    });
    let trials = TRIALS
        .iter()
        .map(|&(name, body)| {
            let python = python.clone();
            Trial::ignorable_test(name, move || match python.as_ref() {
                Ok(p) => body(p)
                    .map(|()| Completion::Completed)
                    .map_err(Failed::from),
                Err(why) if required => Err(format!(
                    "CALLCONFORM_INTEROP=required, but the interop clients are unavailable: {why}"
                )
                .into()),
                Err(why) => Ok(Completion::ignored_with(why.clone())),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
