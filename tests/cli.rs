//! The command as a user meets it: exit codes, messages, and nothing written under CI.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_callconform");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("the binary starts");
    wait(child, Duration::from_secs(60))
}

fn wait(mut child: Child, limit: Duration) -> Out {
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
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("callconform did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "callconform-cli-{tag}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readable") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn run_against_the_embedded_target_passes_every_case() {
    let out = run(&["run"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("3 passed; 0 failed"), "{}", out.stdout);
}

#[test]
fn an_edited_snapshot_fails_with_a_diff_naming_the_case_and_nothing_is_written() {
    let snaps = temp_dir("snaps");
    copy_dir(&root().join("snapshots"), &snaps);
    let p = snaps.join("um__get-call-info.snap");
    let text = std::fs::read_to_string(&p).expect("snapshot exists");
    std::fs::write(&p, text.replace("\"Connected\"", "\"Alerted\"")).expect("write");
    let before = listing(&snaps);
    let out = run(&["run", "--snapshots", snaps.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let all = out.all();
    assert!(all.contains("um::get-call-info"), "{all}");
    assert!(
        all.contains("-  \"Alerted\"") || all.contains("-      \"Alerted\""),
        "{all}"
    );
    assert!(all.contains("\"Connected\""), "{all}");
    assert_eq!(
        before,
        listing(&snaps),
        "CI=true must never write snapshots"
    );
    let _ = std::fs::remove_dir_all(&snaps);
}

#[test]
fn an_unreachable_target_fails_every_um_case_and_exits_3() {
    let out = run(&["run", "--um", "http://127.0.0.1:1"], &[]);
    assert_eq!(out.code, Some(3), "{}", out.all());
    let all = out.all();
    assert!(
        all.contains("um::disconnect") && all.contains("um::get-call-info"),
        "{all}"
    );
    assert!(all.contains("target unreachable"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    // The Graph family had no target: ignored with the reason, never passed.
    assert!(all.contains("0 passed"), "{all}");
    assert!(all.contains("1 ignored"), "{all}");
}

#[test]
fn as_printed_fails_the_um_cases_with_a_fault_in_the_diff() {
    let out = run(&["run", "--as-printed", "um::"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let all = out.all();
    assert!(all.contains("Fault"), "{all}");
    assert!(all.contains("2 failed"), "{all}");
}

#[test]
fn a_malformed_case_file_names_file_line_and_field() {
    let cases = temp_dir("cases");
    copy_dir(&root().join("cases"), &cases);
    let p = cases.join("um/get-call-info.toml");
    let text = std::fs::read_to_string(&p).expect("case exists");
    std::fs::write(&p, text.replace("status = 200", "status = \"ok\"")).expect("write");
    let out = run(&["run", "--cases", cases.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("get-call-info.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("line "), "{}", out.stderr);
    assert!(out.stderr.contains("status"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&cases);
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let out = run(&["run", "--var", "novalue"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("NAME=VALUE"), "{}", out.stderr);
}

#[test]
fn bless_is_refused_under_ci() {
    let out = run(&["run", "--bless"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("CI"), "{}", out.stderr);
}

/// Finds a free loopback port (bind :0, read it, release it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(extra: &[&str]) -> (Serve, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--addr", addr.as_str()];
    args.extend_from_slice(extra);
    let child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Serve(child), format!("http://{addr}"))
}

#[test]
fn run_against_serve_in_another_process_passes_both_families() {
    let (_serve, base) = serve(&[]);
    let out = run(
        &["run", "--um", &base, "--graph", &base],
        &[("CALLCONFORM_GRAPH_TOKEN", "cross-process-secret-token")],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("3 passed"), "{}", out.stdout);
    assert!(!out.all().contains("cross-process-secret-token"));
}

#[test]
fn graph_only_target_reports_um_cases_as_ignored() {
    let (_serve, base) = serve(&[]);
    let out = run(
        &["run", "--graph", &base],
        &[("CALLCONFORM_GRAPH_TOKEN", "t0ken-value")],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout.contains("1 passed; 0 failed; 2 ignored"),
        "{}",
        out.stdout
    );
}

#[test]
fn list_deviations_prints_one_line_each() {
    let out = run(&["serve", "--list-deviations"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 25, "{}", out.stdout);
    assert!(out.stdout.contains("um-https-namespace"));
    assert!(out.stdout.contains("graph-no-terminating"));
}
