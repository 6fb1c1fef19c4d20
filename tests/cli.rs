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

/// How many case files a family has in the committed corpus (totals follow the corpus).
fn cases_of(family: &str) -> usize {
    std::fs::read_dir(root().join("cases").join(family))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".toml") && !n.starts_with('_')
                })
                .count()
        })
        .unwrap_or(0)
}

/// Graph cases that need the target to offer an incoming call: without a trigger in the
/// profile, a target named by URL ignores them (with the reason).
fn incoming_cases() -> usize {
    std::fs::read_dir(root().join("cases/graph"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('_'))
                .filter(|e| {
                    std::fs::read_to_string(e.path()).is_ok_and(|t| {
                        t.contains("trigger = \"incoming-call\"")
                            || t.contains("setup = \"incoming-call\"")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

fn all_cases() -> usize {
    cases_of("um") + cases_of("graph")
}

#[test]
fn run_against_the_embedded_target_passes_every_case_and_says_what_it_tested() {
    let out = run(&["run"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let want = format!("{} passed; 0 failed", all_cases());
    assert!(out.stdout.contains(&want), "{want}: {}", out.stdout);
    assert!(
        out.stderr
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("target: embedded reference target")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_selection_that_matches_nothing_is_a_usage_error_naming_it() {
    for (args, named) in [
        (
            vec!["run", "--exact", "um::get-call-inf"],
            "--exact `um::get-call-inf`",
        ),
        (vec!["run", "no-such-case"], "filter `no-such-case`"),
        (vec!["run", "--tag", "NoSuchTag"], "--tag NoSuchTag"),
        (
            vec!["run", "--skip", "um", "--skip", "graph"],
            "--skip `um`",
        ),
    ] {
        let out = run(&args, &[]);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.all());
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("matches no case"), "{}", out.stderr);
    }
}

#[test]
fn a_run_in_which_every_selected_case_was_ignored_exits_2_saying_why() {
    // A UM target only (never contacted: every selected case is Graph), Graph cases only.
    let out = run(&["run", "--um", "http://127.0.0.1:9", "graph::"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    let graph = cases_of("graph");
    assert!(
        out.stdout
            .contains(&format!("0 passed; 0 failed; {graph} ignored")),
        "{}",
        out.stdout
    );
    let want = format!(
        "callconform: no case ran: {graph} selected cases were ignored ({graph}: no graph target given"
    );
    assert!(out.stderr.contains(&want), "{want}: {}", out.stderr);
    assert!(
        out.stderr
            .contains("a run that checked nothing is not green"),
        "{}",
        out.stderr
    );
    // A filtered run that checks at least one case is unaffected, its ignored cases too.
    let out = run(&["run", "--exact", "um::disconnect"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("1 passed; 0 failed"), "{}", out.stdout);
    assert!(!out.stderr.contains("no case ran"), "{}", out.stderr);
    let out = run(
        &[
            "run",
            "--um",
            "http://127.0.0.1:9",
            "--exact",
            "um::disconnect",
        ],
        &[],
    );
    assert_eq!(
        out.code,
        Some(3),
        "an unreachable target still exits 3: {}",
        out.all()
    );
    assert!(!out.stderr.contains("no case ran"), "{}", out.stderr);
    // Listing is not a run.
    let out = run(
        &["run", "--um", "http://127.0.0.1:9", "graph::", "--list"],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("graph::"), "{}", out.stdout);
}

#[test]
fn an_empty_target_variable_or_a_required_target_stops_the_run() {
    let out = run(&["run"], &[("CALLCONFORM_UM", "")]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr.contains("CALLCONFORM_UM is set but empty"),
        "{}",
        out.stderr
    );
    let out = run(&["run", "--require-target"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("--require-target"), "{}", out.stderr);
    let out = run(&["run"], &[("CALLCONFORM_REQUIRE_TARGET", "true")]);
    assert_eq!(out.code, Some(2), "{}", out.all());
}

#[test]
fn credentials_in_a_target_url_are_refused_and_not_echoed() {
    let out = run(&["run", "--um", "http://user:pa55word-x@127.0.0.1:1"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr.contains("credentials in the URL are refused"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("pa55word-x"), "{}", out.all());
}

#[test]
fn an_edited_snapshot_fails_with_a_diff_naming_the_case_and_nothing_is_written() {
    let snaps = temp_dir("snaps");
    copy_dir(&root().join("snapshots"), &snaps);
    let p = snaps.join("um__get-call-info.snap");
    let text = std::fs::read_to_string(&p).expect("snapshot exists");
    // A structural change: element names are exact (a CallState value would only be a note).
    std::fs::write(&p, text.replace("}CallState", "}CallStatus")).expect("write");
    let before = listing(&snaps);
    let out = run(&["run", "--snapshots", snaps.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let all = out.all();
    assert!(all.contains("um::get-call-info"), "{all}");
    assert!(
        all.lines()
            .any(|l| l.trim_start().starts_with('-') && l.contains("}CallStatus")),
        "{all}"
    );
    assert!(all.contains("}CallState"), "{all}");
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
    assert!(
        all.contains(&format!("{} ignored", cases_of("graph"))),
        "{all}"
    );
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

/// A malformed case is its own trial's error: the others still run, and the run exits 2.
#[test]
fn a_malformed_case_does_not_stop_the_others() {
    let cases = temp_dir("cases-one-bad");
    copy_dir(&root().join("cases"), &cases);
    let p = cases.join("um/get-call-info.toml");
    std::fs::write(&p, "[[step]]\nname = 1\n").expect("write");
    let out = run(
        &["run", "--cases", cases.to_str().expect("utf-8"), "um::"],
        &[],
    );
    assert_eq!(out.code, Some(2), "{}", out.all());
    let others = cases_of("um") - 1;
    assert!(
        out.all().contains(&format!("{others} passed")),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("error: um::get-call-info:") && out.stderr.contains("line 2"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&cases);
}

/// A snapshot the corpus lacks is the corpus's error (exit 2) naming it, never a pass.
#[test]
fn a_missing_snapshot_is_a_corpus_error_naming_it() {
    let snaps = temp_dir("snaps-missing");
    copy_dir(&root().join("snapshots"), &snaps);
    std::fs::remove_file(snaps.join("um__get-call-info.snap")).expect("snapshot exists");
    let out = run(
        &["run", "--snapshots", snaps.to_str().expect("utf-8"), "um::"],
        &[],
    );
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr
            .contains("snapshot `um__get-call-info` of um::get-call-info does not exist"),
        "{}",
        out.stderr
    );
    let others = cases_of("um") - 1;
    assert!(
        out.all().contains(&format!("{others} passed")),
        "{}",
        out.all()
    );
    let _ = std::fs::remove_dir_all(&snaps);
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
    // Named by URL alone, the target has no way to offer an incoming call: those cases
    // are ignored with the reason (the profile test below names the trigger).
    let want = format!(
        "{} passed; 0 failed; {} ignored",
        all_cases() - incoming_cases(),
        incoming_cases()
    );
    assert!(out.stdout.contains(&want), "{want}: {}", out.stdout);
    assert!(
        out.stdout
            .contains("needs the target to cause `incoming-call`")
    );
    assert!(
        out.stderr.contains(&format!("target: graph = {base}")),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("cross-process-secret-token"));
    // Nobody shares a screen on a target named by URL alone: the notifications of a
    // participant's screen share are ignored with the reason, the rest of the case ran.
    let ignored = "ignored: graph::create-call-service-hosted-media-1: step `create-call-service-hosted-media-1`: notification `contentsharingsessions-created`: caused by `contentsharingsessions`";
    assert!(out.stderr.contains(ignored), "{}", out.stderr);
}

#[test]
fn the_embedded_target_is_asked_for_every_event_another_party_causes() {
    let out = run(&["run", "graph::create-call-service-hosted-media-1"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("1 passed; 0 failed"), "{}", out.stdout);
    assert!(!out.stderr.contains("ignored:"), "{}", out.stderr);
}

#[test]
fn graph_only_target_reports_um_cases_as_ignored() {
    let (_serve, base) = serve(&[]);
    let out = run(
        &["run", "--graph", &base],
        &[("CALLCONFORM_GRAPH_TOKEN", "t0ken-value")],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let want = format!(
        "{} passed; 0 failed; {} ignored",
        cases_of("graph") - incoming_cases(),
        cases_of("um") + incoming_cases()
    );
    assert!(out.stdout.contains(&want), "{want}: {}", out.stdout);
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

#[test]
fn a_profile_with_a_token_from_the_environment_passes_and_the_token_appears_nowhere() {
    const TOKEN: &str = "profile-secret-token-4f1d9c";
    let (_serve, base) = serve(&["--accept-token", TOKEN]);
    let dir = temp_dir("profile");
    let profile = dir.join("target.toml");
    std::fs::write(
        &profile,
        format!(
            "[um]\nbase_url = \"{base}\"\nendpoint = \"/UnifiedMessaging/Service.asmx\"\n\n[graph]\nbase_url = \"{base}\"\nversion = \"/beta\"\nauth = {{ bearer_env = \"CC_TEST_GRAPH_TOKEN\" }}\n\n[graph.triggers.incoming-call]\nurl = \"{base}/_callconform/incoming-call\"\nbody = '{{\"callbackUri\": \"{{{{callback_url}}}}\", \"example\": {{{{trigger_example}}}}}}'\n\n[timeouts]\nnotification_secs = 5\n"
        ),
    )
    .expect("write profile");
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let out = run(
        &[
            "run",
            "--profile",
            &p("target.toml"),
            "--junit",
            &p("junit.xml"),
            "--report-json",
            &p("report.json"),
            "--report-md",
            &p("report.md"),
        ],
        &[("CC_TEST_GRAPH_TOKEN", TOKEN)],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout.contains(&format!("{} passed", all_cases())),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains(TOKEN));
    for f in ["junit.xml", "report.json", "report.md"] {
        let text = std::fs::read_to_string(dir.join(f)).expect("report written");
        assert!(!text.contains(TOKEN), "{f} contains the token");
        assert!(text.contains("delete-call"), "{f} lacks the Graph case");
    }
    // The wrong token is refused by the target, and the run says so.
    let out = run(
        &["run", "--profile", &p("target.toml")],
        &[("CC_TEST_GRAPH_TOKEN", "wrong-token")],
    );
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(out.all().contains("401"), "{}", out.all());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_profile_with_an_unknown_key_or_missing_env_is_a_usage_error() {
    let dir = temp_dir("badprofile");
    let p = dir.join("p.toml");
    std::fs::write(
        &p,
        "[um]\nbase_url = \"http://127.0.0.1:1\"\nbase_ulr = \"x\"\n",
    )
    .expect("write");
    let out = run(&["run", "--profile", p.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("base_ulr"), "{}", out.stderr);
    std::fs::write(&p, "[graph]\nbase_url = \"http://127.0.0.1:1\"\nauth = { bearer_env = \"CC_SURELY_UNSET_VAR\" }\n")
        .expect("write");
    let out = run(&["run", "--profile", p.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("CC_SURELY_UNSET_VAR"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn known_failures_turn_a_deviating_target_green_and_an_unexpected_pass_red() {
    let dir = temp_dir("expect");
    let known = dir.join("known.toml");
    let known_s = known.to_string_lossy().into_owned();
    {
        let (_serve, base) = serve(&["--deviate", "um-wrong-call-state"]);
        let plain = run(&["run", "--um", &base], &[]);
        assert_eq!(plain.code, Some(1), "{}", plain.all());
        let rec = run(
            &["run", "--um", &base, "--write-expectations", &known_s],
            &[],
        );
        assert_eq!(rec.code, Some(1), "{}", rec.all());
        let text = std::fs::read_to_string(&known).expect("expectations written");
        assert!(text.contains("um::get-call-info"), "{text}");
        assert!(!text.contains("um::disconnect"), "{text}");
        let green = run(&["run", "--um", &base, "--expect", &known_s], &[]);
        assert_eq!(green.code, Some(0), "{}", green.all());
        assert!(
            green.stderr.contains("expected failure: um::get-call-info"),
            "{}",
            green.stderr
        );
    }
    let (_serve, base) = serve(&[]);
    let red = run(&["run", "--um", &base, "--expect", &known_s], &[]);
    assert_eq!(red.code, Some(1), "{}", red.all());
    assert!(red.all().contains("unexpectedly passed"), "{}", red.all());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--bless` killed at any moment leaves each snapshot whole: old or new, never half-written.
#[test]
fn a_bless_killed_midway_leaves_every_snapshot_old_or_new() {
    let base_dir = temp_dir("bless");
    let snaps = base_dir.join("snapshots");
    copy_dir(&root().join("snapshots"), &snaps);
    let target = snaps.join("um__get-call-info.snap");
    let pristine = std::fs::read_to_string(&target).expect("snapshot exists");
    let old = pristine.replace("}CallState", "}CallStatus");
    let bless = |kill_after: Option<Duration>| {
        let mut child = Command::new(BIN)
            .args(["run", "--bless", "um::get-call-info", "--snapshots"])
            .arg(&snaps)
            .current_dir(root())
            .env_remove("CI")
            .env_remove("TF_BUILD")
            .env_remove("INSTA_UPDATE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        match kill_after {
            Some(d) => {
                std::thread::sleep(d);
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {
                let out = wait(child, Duration::from_secs(60));
                assert_eq!(
                    out.code,
                    Some(1),
                    "a bless run reports the mismatch it fixed"
                );
            }
        }
    };
    std::fs::write(&target, &old).expect("write");
    bless(None);
    let new = std::fs::read_to_string(&target).expect("blessed");
    assert_ne!(new, old, "bless rewrote the snapshot");
    assert!(new.contains("}CallState"), "{new}");
    for i in 0..12u64 {
        std::fs::write(&target, &old).expect("reset");
        bless(Some(Duration::from_millis(5 + i * 12)));
        let now = std::fs::read_to_string(&target).expect("readable");
        assert!(
            now == old || now == new,
            "after a kill at {} ms the snapshot is neither old nor new:\n{now}",
            5 + i * 12
        );
    }
    let _ = std::fs::remove_dir_all(&base_dir);
}

#[test]
fn the_junit_report_is_accepted_by_a_junit_parser() {
    let (_serve, base) = serve(&["--deviate", "um-wrong-call-state"]);
    let dir = temp_dir("junit");
    let path = dir.join("junit.xml");
    let out = run(
        &[
            "run",
            "--um",
            &base,
            "--junit",
            path.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.all());
    let file = std::fs::File::open(&path).expect("junit written");
    let parsed = junit_parser::from_reader(std::io::BufReader::new(file)).expect("valid JUnit");
    let cases: Vec<&junit_parser::TestCase> = parsed.suites.iter().flat_map(|s| &s.cases).collect();
    assert_eq!(cases.len(), all_cases(), "one testcase per case");
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.status.is_failure())
        .map(|c| c.name.as_str())
        .collect();
    // The parser reports names as `classname::name`.
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].ends_with("um::get-call-info"), "{failed:?}");
    let skipped = cases.iter().filter(|c| c.status.is_skipped()).count();
    assert_eq!(skipped, cases_of("graph"), "the Graph cases had no target");
    let _ = std::fs::remove_dir_all(&dir);
}
