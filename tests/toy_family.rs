//! A third protocol family is one module and one registry line: this toy "echo" family
//! runs through the same harness, reports and expectations as UM and Graph.

use callconform::family::{Protocol, register};
use callconform::harness::{self, RunArgs, exit};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// The whole family: a name and a title. Everything else has the plain
/// request/response defaults of the seam.
mod toy {
    pub struct Echo;
    impl callconform::family::Protocol for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn title(&self) -> &'static str {
            "a toy JSON echo service"
        }
    }
}

/// A loopback server answering every request with `{"echo": "<path>"}` and status 200,
/// except `/broken`, which answers 500.
fn serve() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in l.incoming().flatten().take(64) {
            let mut s = stream;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = if path == "/broken" {
                ("500 Internal Server Error", "{}".to_owned())
            } else {
                ("200 OK", format!("{{\"echo\": \"{path}\"}}"))
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("callconform-toy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cases/echo")).expect("mkdir");
    std::fs::create_dir_all(d.join("snapshots")).expect("mkdir");
    d
}

fn case(path: &str, snapshot: &str) -> String {
    format!(
        "[provenance]\nexample = \"echo {path}\"\n\n[[step]]\nname = \"echo\"\nmethod = \"GET\"\npath = \"{path}\"\n\
         [step.expect]\nstatus = 200\ncontent_type = \"application/json\"\nbody = \"json\"\nsnapshot = \"{snapshot}\"\n\
         documented = '{{\"echo\": \"{path}\"}}'\n"
    )
}

fn snap(dir: &Path, name: &str, path: &str) {
    let text = format!(
        "---\nsource: \"cases/echo/{name}.toml\"\ndescription: \"toy\"\n---\n{{\n  \"echo\": \"{path}\"\n}}\n"
    );
    std::fs::write(dir.join(format!("snapshots/{name}.snap")), text).expect("write snapshot");
}

fn args(dir: &Path, base: &str, extra: &[&str]) -> RunArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }
    let target = format!("echo={base}");
    let cases = dir.join("cases");
    let snapshots = dir.join("snapshots");
    let mut argv = vec![
        "callconform",
        "--target",
        &target,
        "--cases",
        cases.to_str().expect("utf-8 path"),
        "--snapshots",
        snapshots.to_str().expect("utf-8 path"),
        "--test-threads",
        "1",
    ];
    argv.extend_from_slice(extra);
    Cli::parse_from(argv).run
}

#[test]
fn a_toy_family_runs_through_the_same_harness_reports_and_expectations() {
    register(&toy::Echo).expect("one registry line adds the family");
    assert!(register(&toy::Echo).is_err(), "a name is registered once");
    let base = serve();
    let dir = scratch();
    std::fs::write(
        dir.join("cases/echo/hello.toml"),
        case("/hello", "echo__hello"),
    )
    .expect("w");
    snap(&dir, "echo__hello", "/hello");
    let report = dir.join("report.json");
    let report_s = report.to_string_lossy().into_owned();

    let code = harness::run_code(args(&dir, &base, &["--report-json", &report_s]));
    assert_eq!(code, exit::CONFORMANT);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("JSON");
    assert_eq!(json["cases"][0]["name"], "echo::hello", "{json}");
    assert_eq!(json["cases"][0]["family"], "echo", "{json}");
    assert!(
        json["summary"]["target"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("echo = {base}"))),
        "{json}"
    );

    // A failing case fails the run, and an expectation naming its check absorbs it.
    std::fs::write(
        dir.join("cases/echo/broken.toml"),
        case("/broken", "echo__broken"),
    )
    .expect("w");
    snap(&dir, "echo__broken", "/broken");
    assert_eq!(
        harness::run_code(args(&dir, &base, &[])),
        exit::NONCONFORMANT
    );
    let known = dir.join("known.toml");
    std::fs::write(
        &known,
        "[\"echo::broken\"]\nresult = \"fail\"\nreason = \"toy\"\ncheck = [\"status\", \"snapshot\"]\n",
    )
    .expect("write expectations");
    let known_s = known.to_string_lossy().into_owned();
    assert_eq!(
        harness::run_code(args(&dir, &base, &["--expect", &known_s])),
        exit::CONFORMANT
    );
    assert_eq!(
        harness::run_code(args(&dir, &base, &["--family", "echo", "--tag", "none"])),
        exit::USAGE,
        "an empty selection of the toy family is a usage error too"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // The seam's default for a family without notifications: no listener, no notify rules.
    assert!(toy::Echo.notifications().is_none());
}
