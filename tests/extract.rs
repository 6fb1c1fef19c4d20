//! `callconform extract` on the seed and documentation pages (`../shared`) and on the
//! fixture pages in `tests/fixtures/pages/`. Every test writes into its own temporary
//! project root. A libtest-mimic harness: a test that needs `../shared` is reported
//! IGNORED with the reason when it is absent, and FAILS when `CALLCONFORM_PAGES=required`.

use callconform::case::{BodyKind, CaseFile, parse_case};
use callconform::extract::model::CaseV2;
use callconform::extract::{Difference, ExtractOptions, ExtractReport, load_end_reasons, run};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/pages")
}

/// A fresh project root in the temp dir, holding the hand-written files `extract` reads
/// (the errata table) and must leave alone (the family files). Removed when the test
/// passes; kept for a look when it fails.
struct Project(PathBuf);

impl std::ops::Deref for Project {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn project(tag: &str) -> Project {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "callconform-extract-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for f in ["errata.toml", "um/_family.toml", "graph/_family.toml"] {
        let to = dir.join("cases").join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join("cases").join(f), &to).unwrap();
    }
    Project(dir)
}

/// Writes `pages` (name, text) into `<project>/pages/` and returns that folder.
fn pages(out: &Path, pages: &[(&str, String)]) -> PathBuf {
    let dir = out.join("pages");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in pages {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn extract(paths: &[PathBuf], out: &Path, check: bool) -> ExtractReport {
    run(&ExtractOptions {
        paths: paths.to_vec(),
        out: out.to_owned(),
        check,
    })
    .expect("extract runs")
}

fn page_diagnostics(r: &ExtractReport) -> Vec<String> {
    r.diagnostics.iter().map(|d| d.to_string()).collect()
}

fn assert_clean(r: &ExtractReport) {
    assert!(page_diagnostics(r).is_empty(), "{r}");
    assert!(r.differences.is_empty(), "{r}");
}

fn read_case(out: &Path, rel: &str) -> CaseFile {
    let path = out.join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    parse_case(&path, &text).unwrap()
}

/// Every file under `dir`, relative path → content.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                go(base, &p, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

fn disconnect_locale_copies_become_one_case(seeds: &Path) {
    let seeds = seeds.to_path_buf();
    let out = project("locales");
    let r = extract(&[seeds], &out, false);
    assert_clean(&r);
    let case = read_case(&out, "cases/um/disconnect.toml");
    let locales: Vec<_> = case
        .provenance
        .sources
        .iter()
        .map(|s| (s.file.as_str(), s.locale.as_deref(), s.line))
        .collect();
    assert_eq!(
        locales,
        [
            ("000_54b079c3edd63350.txt", Some("zh-CN"), Some(33)),
            ("001_7b4c2bf261bff03e.txt", Some("ru-RU"), Some(33)),
            ("002_fcd962cb5789d78a.txt", Some("pt-BR"), Some(33)),
        ]
    );
    assert_eq!(case.setup.as_deref(), Some("play-on-phone"));
    assert_eq!(case.vars["call_id"].len(), 100);
    let body = case.steps[0].body.as_deref().unwrap();
    assert!(body.contains("<CallId>{{call_id}}</CallId>"), "{body}");
    // Kept as printed: the errata table corrects the namespace at run time.
    assert!(
        body.contains("xmlns=\"https://schemas.microsoft.com/exchange/services/2006/messages\"")
    );
    let files: Vec<_> = tree(&out.join("cases/um"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        files,
        [
            PathBuf::from("_contract.toml"),
            "_family.toml".into(),
            "disconnect.toml".into(),
            "get-call-info.toml".into()
        ]
    );
}

fn committed_cases_are_what_the_seeds_produce(seeds: &Path) {
    // The committed corpus is what the seeds and the pages produce together (the seeds
    // are translations of pages there). --check against the repository: reads, never writes.
    let shared = seeds.parent().map(Path::to_path_buf).unwrap_or_default();
    let r = extract(
        &[
            seeds.to_path_buf(),
            shared.join("pages"),
            shared.join("metadata"),
        ],
        &root(),
        true,
    );
    assert!(r.written.is_empty());
    assert_clean(&r);
}

fn delete_call_has_notifications_and_end_reasons(seeds: &Path) {
    let seeds = seeds.to_path_buf();
    let out = project("graph");
    let r = extract(&[seeds], &out, false);
    assert_clean(&r);
    let case = read_case(&out, "cases/graph/delete-call.toml");
    assert_eq!(case.setup.as_deref(), Some("create-call"));
    assert_eq!(case.provenance.example, "delete-call-1");
    let step = &case.steps[0];
    assert_eq!(
        (step.method.as_str(), step.path.as_str()),
        ("DELETE", "/communications/calls/{{call_id}}")
    );
    assert_eq!(
        (step.expect.status, step.expect.body),
        (204, BodyKind::Empty)
    );
    let states: Vec<_> = step
        .notifications
        .iter()
        .map(|n| (n.state.as_deref().unwrap_or(""), n.snapshot.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            ("terminating", Some("graph__delete-call__terminating")),
            ("terminated", Some("graph__delete-call__terminated")),
        ]
    );
    // The stray "  " line before the closing fence is not part of the example.
    assert!(
        step.notifications[0]
            .documented
            .as_deref()
            .unwrap()
            .ends_with("]\n}\n")
    );

    let reasons = load_end_reasons(&out.join("cases/graph/_end-reasons.toml")).unwrap();
    assert_eq!(reasons.len(), 29);
    let pstn = reasons.iter().find(|r| r.subcodes.len() == 2).unwrap();
    assert_eq!(
        (pstn.code, pstn.subcodes.as_slice()),
        (200, &[540000, 560000][..])
    );
    assert_eq!(pstn.source, "003_1385f6fcc58fa6b6.txt:193");
    assert!(callconform::extract::is_documented(&reasons, 200, 5001));
    assert!(!callconform::extract::is_documented(&reasons, 200, 5004));
}

fn running_twice_is_byte_identical(seeds: &Path) {
    let seeds = seeds.to_path_buf();
    let paths = [seeds, fixtures().join("good")];
    let a = project("twice-a");
    let b = project("twice-b");
    extract(&paths, &a, false);
    let second = extract(&paths, &b, false);
    extract(&paths, &b, false);
    assert_eq!(tree(&a), tree(&b));
    let third = extract(&paths, &b, false);
    assert!(third.written.is_empty(), "{third}");
    assert_eq!(third.unchanged.len(), second.written.len());
}

fn check_passes_on_fresh_output_and_names_each_difference(seeds: &Path) {
    let seeds = seeds.to_path_buf();
    let paths = [seeds];
    let out = project("check");
    extract(&paths, &out, false);
    let r = extract(&paths, &out, true);
    assert_clean(&r);

    // A deleted case, an edited case, and a case the pages do not produce.
    std::fs::remove_file(out.join("cases/um/get-call-info.toml")).unwrap();
    let disconnect = out.join("cases/um/disconnect.toml");
    let text = std::fs::read_to_string(&disconnect).unwrap();
    std::fs::write(&disconnect, text.replace("status = 200", "status = 202")).unwrap();
    std::fs::copy(&disconnect, out.join("cases/um/old-operation.toml")).unwrap();
    let before = tree(&out);

    let r = extract(&paths, &out, true);
    assert!(!r.ok());
    assert_eq!(tree(&out), before, "--check wrote something");
    let text = r.to_string();
    let mut kinds: Vec<(&str, PathBuf)> = r
        .differences
        .iter()
        .map(|d| {
            let kind = match d {
                Difference::Missing(_) => "missing",
                Difference::Changed(..) => "changed",
                Difference::Extra(_) => "extra",
            };
            (kind, d.path().to_owned())
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("changed", PathBuf::from("cases/um/disconnect.toml")),
            ("extra", PathBuf::from("cases/um/old-operation.toml")),
            ("missing", PathBuf::from("cases/um/get-call-info.toml")),
        ],
        "{text}"
    );
    assert!(text.contains("-status = 202\n+status = 200"), "{text}");
    // The hand-written files are not the extractor's: never reported.
    assert!(
        !text.contains("_family.toml") && !text.contains("errata.toml"),
        "{text}"
    );

    // Writing restores the two cases and leaves the stray one for a person to delete.
    let w = extract(&paths, &out, false);
    assert_eq!(w.stale, [PathBuf::from("cases/um/old-operation.toml")]);
    std::fs::remove_file(out.join("cases/um/old-operation.toml")).unwrap();
    assert_clean(&extract(&paths, &out, true));
}

fn annotated_graph_page_survives_the_hazards() {
    let out = project("answer");
    let r = extract(&[fixtures().join("good/call-answer.md")], &out, false);
    assert_clean(&r);
    let case = read_case(&out, "cases/graph/call-answer.toml");
    assert_eq!(case.provenance.sources[0].file, "call-answer.md");
    assert_eq!(case.provenance.sources[0].line, Some(42));
    assert_eq!(case.vars["call_id"], "57DAB8B1894C409AB240BD8BEAE78896");
    let step = &case.steps[0];
    assert_eq!(step.path, "/communications/calls/{{call_id}}/answer");
    // Content-Length lied (211): dropped; the body printed right after the headers kept.
    assert_eq!(
        step.headers.iter().collect::<Vec<_>>(),
        [(&"Content-Type".to_string(), &"application/json".to_string())]
    );
    let body = step.body.as_deref().unwrap();
    assert!(
        body.starts_with("{\n  \"callbackUri\"") && body.contains("\"audio\",\n  ],"),
        "{body}"
    );
    assert_eq!(
        (step.expect.status, step.expect.body),
        (202, BodyKind::Empty)
    );
    let names: Vec<_> = step.notifications.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["establishing", "established"]);
    // Headers and body in one block: only the JSON is documented.
    let established = step.notifications[1].documented.as_deref().unwrap();
    assert!(established.starts_with("{\n") && !established.contains("Content-Length"));
    // Trailing commas are kept as printed in the case and tolerated in the snapshot.
    let establishing = step.notifications[0].documented.as_deref().unwrap();
    assert!(
        establishing.contains("\"establishing\",\n"),
        "{establishing}"
    );
    let snap = std::fs::read_to_string(out.join("snapshots/graph__call-answer__establishing.snap"))
        .unwrap();
    assert!(
        snap.contains("\"resourceUrl\": \"/communications/calls/[call_id]\""),
        "{snap}"
    );
}

fn unannotated_um_pages_pair_by_root_element() {
    let out = project("um");
    let r = extract(&[fixtures().join("good")], &out, false);
    assert_clean(&r);
    let play = read_case(&out, "cases/um/play-on-phone.toml");
    // No CallId in the request: no set-up, no placeholder.
    assert_eq!(play.setup, None);
    assert!(play.vars.is_empty() && play.placeholders.is_empty());
    assert_eq!(
        play.steps[0].expect.snapshot.as_deref(),
        Some("um__play-on-phone")
    );
    let enabled = read_case(&out, "cases/um/is-um-enabled.toml");
    assert_eq!(enabled.tags, ["IsUMEnabled"]);
    let src = &enabled.provenance.sources[0];
    assert_eq!(src.file, "zh-cn-is-um-enabled.md");
    assert_eq!(src.locale.as_deref(), Some("zh-CN"));
    assert_eq!(
        src.title.as_deref(),
        Some("IsUMEnabled 操作（UM web 服务）")
    );
    assert_eq!(src.line, Some(16));
}

fn broken_pages_are_reported_and_the_rest_extracted() {
    let out = project("broken");
    let r = extract(
        &[
            fixtures().join("broken"),
            fixtures().join("good/play-on-phone.md"),
        ],
        &out,
        false,
    );
    let diags = page_diagnostics(&r);
    let has = |prefix: &str, words: &str| {
        diags
            .iter()
            .any(|d| d.contains(prefix) && d.contains(words))
    };
    let broken = fixtures().join("broken");
    let at = |file: &str, line: usize| format!("{}:{line}: ", broken.join(file).display());
    assert!(
        has(&at("unterminated-fence.md", 21), "never closed"),
        "{diags:#?}"
    );
    assert!(
        has(&at("unterminated-fence.md", 10), "request with no response"),
        "{diags:#?}"
    );
    assert!(
        has(&at("bad-annotation.md", 7), "not valid JSON"),
        "{diags:#?}"
    );
    assert!(
        has(&at("bad-annotation.md", 18), "response with no request"),
        "{diags:#?}"
    );
    assert!(
        has(&at("orphans.md", 8), "no request named `call-mute`"),
        "{diags:#?}"
    );
    assert!(
        has(&at("orphans.md", 13), "request with no response"),
        "{diags:#?}"
    );
    assert!(
        has(&at("orphans.md", 22), "unannotated `json` block"),
        "{diags:#?}"
    );
    assert_eq!(diags.len(), 7, "{diags:#?}");
    assert!(!r.ok());
    // The good page is still extracted.
    read_case(&out, "cases/um/play-on-phone.toml");
}

fn missing_path_is_an_error() {
    let out = project("missing");
    let e = run(&ExtractOptions {
        paths: vec![out.join("no-such-dir")],
        out: out.to_path_buf(),
        check: false,
    })
    .unwrap_err();
    assert!(e.contains("no-such-dir"), "{e}");
}

fn a_locale_copy_that_differs_is_reported_not_merged(seeds: &Path) {
    let seeds = seeds.to_path_buf();
    let out = project("differs");
    let read = |f: &str| std::fs::read_to_string(seeds.join(f)).unwrap();
    let stale = read("002_fcd962cb5789d78a.txt").replace("<CallId>MDlk", "<CallId>XXlk");
    let dir = pages(
        &out,
        &[
            ("a.md", read("000_54b079c3edd63350.txt")),
            ("b.md", stale),
            ("c.md", read("001_7b4c2bf261bff03e.txt")),
        ],
    );
    let r = extract(std::slice::from_ref(&dir), &out, false);
    let diags = page_diagnostics(&r);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(
        diags[0].starts_with(&format!(
            "{}:33: example `Disconnect` differs",
            dir.join("b.md").display()
        )),
        "{diags:#?}"
    );
    let case = read_case(&out, "cases/um/disconnect.toml");
    let files: Vec<_> = case
        .provenance
        .sources
        .iter()
        .map(|s| s.file.as_str())
        .collect();
    assert_eq!(files, ["a.md", "c.md"]);
}

fn v1_and_beta_copies_of_one_example_are_one_case(seeds: &Path) {
    let out = project("versions");
    let beta = std::fs::read_to_string(seeds.join("003_1385f6fcc58fa6b6.txt")).unwrap();
    let v1 = beta.replace("microsoft.com/beta/", "microsoft.com/v1.0/");
    let dir = pages(
        &out,
        &[("beta-call-delete.md", beta), ("v1.0-call-delete.md", v1)],
    );
    let r = extract(&[dir], &out, false);
    assert!(page_diagnostics(&r).is_empty(), "{r}");
    let case = read_case(&out, "cases/graph/delete-call.toml");
    let files: Vec<_> = case
        .provenance
        .sources
        .iter()
        .map(|s| s.file.as_str())
        .collect();
    assert_eq!(files, ["beta-call-delete.md", "v1.0-call-delete.md"]);
    assert_eq!(r.stats.merged_versions.len(), 1, "{r}");
    assert!(
        r.to_string()
            .contains("one case for v1.0 and beta: delete-call-1"),
        "{r}"
    );
    // Both copies list the same end reasons once.
    let reasons = load_end_reasons(&out.join("cases/graph/_end-reasons.toml")).unwrap();
    assert_eq!(reasons.len(), 29);
    assert!(reasons[0].source.starts_with("beta-call-delete.md:"));
}

fn v1_and_beta_copies_that_differ_are_named_apart(seeds: &Path) {
    let out = project("versions-apart");
    let beta = std::fs::read_to_string(seeds.join("003_1385f6fcc58fa6b6.txt")).unwrap();
    let v1 = beta
        .replace("microsoft.com/beta/", "microsoft.com/v1.0/")
        .replace(
            "\"terminating\"",
            "\"terminating\", \"direction\": \"outgoing\"",
        );
    let dir = pages(
        &out,
        &[("beta-call-delete.md", beta), ("v1.0-call-delete.md", v1)],
    );
    let r = extract(&[dir], &out, false);
    assert!(page_diagnostics(&r).is_empty(), "{r}");
    let beta = read_case(&out, "cases/graph/delete-call-beta.toml");
    let v1 = read_case(&out, "cases/graph/delete-call-v1-0.toml");
    assert_eq!(beta.steps[0].path, v1.steps[0].path);
    assert!(v1.provenance.documented_url.unwrap().contains("/v1.0/"));
    assert_eq!(
        beta.steps[0].notifications[0].snapshot.as_deref(),
        Some("graph__delete-call-beta__terminating")
    );
    assert_eq!(r.stats.split_versions.len(), 2, "{r}");
}

fn a_documented_soap_fault_expects_500() {
    let out = project("fault");
    let request = std::fs::read_to_string(fixtures().join("good/play-on-phone.md")).unwrap();
    let fault = "\n## Fault\n\n```xml\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap:Body>\n    <soap:Fault>\n      <faultcode>a:InvalidCallIdException</faultcode>\n    </soap:Fault>\n  </soap:Body>\n</soap:Envelope>\n```\n";
    let cut = request.find("## Successful").unwrap();
    let dir = pages(&out, &[("fault.md", format!("{}{fault}", &request[..cut]))]);
    let r = extract(&[dir], &out, false);
    assert!(page_diagnostics(&r).is_empty(), "{r}");
    let case = read_case(&out, "cases/um/play-on-phone.toml");
    assert_eq!(case.steps[0].expect.status, 500);
}

/// The v2 case as extract wrote it (the runner-independent model).
fn read_v2(out: &Path, rel: &str) -> CaseV2 {
    let text = std::fs::read_to_string(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    callconform::extract::model::parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Another revision of a page, written against the conventions rather than these files:
/// a beta path, `//` comments and trailing commas in a request, a `"truncated": "true"`
/// string, an unannotated notification, an operation notification with no state, an
/// incoming trigger, a request body printed in its own `example` block, a documented
/// failure, and a notification with nothing to recognise it by.
fn hostile_page_forms_follow_the_rules() {
    let out = project("hostile");
    let r = extract(&[fixtures().join("hostile")], &out, false);
    let diags = page_diagnostics(&r);
    // Only the unusable notification is dropped, and the message says its request stays.
    assert_eq!(diags.len(), 1, "{r}");
    assert!(
        diags[0].contains(":194: notification:")
            && diags[0]
                .contains("only this notification is not extracted (its request `call-answer` is)"),
        "{diags:?}"
    );

    let play = read_v2(&out, "cases/graph/call-playprompt.toml");
    let step = &play.steps[0];
    assert_eq!(play.setup.as_deref(), Some("create-call"));
    assert_eq!(
        step.path.as_deref(),
        Some("/communications/calls/{{call_id}}/playPrompt")
    );
    assert!(
        step.expect.as_ref().unwrap().truncated,
        "truncated: \"true\" is a flag"
    );
    let n = &step.notifications[0];
    assert_eq!(n.name, "playpromptoperation-completed");
    assert_eq!(n.state, None);
    assert_eq!(
        n.matches["/resourceData/@odata.type"],
        "#microsoft.graph.playPromptOperation"
    );
    assert_eq!(n.matches["/resourceData/status"], "completed");
    // The request is kept as printed; the errata table corrects it and names the block.
    assert!(step.body.as_deref().unwrap().contains("// a comment"));
    let errata_text = std::fs::read_to_string(out.join("cases/errata.toml")).unwrap();
    let errata = callconform::errata::Errata::load(&out.join("cases/errata.toml")).unwrap();
    let mut sent = step.body.clone().unwrap();
    sent = errata.apply_text(
        callconform::family::Family::GRAPH,
        callconform::errata::Part::Request,
        &sent,
    );
    let v: serde_json::Value =
        serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}: {sent}\n{errata_text}"));
    assert_eq!(
        v["prompts"][0]["mediaInfo"]["uri"],
        "https://cdn.contoso.com/beep.wav"
    );
    assert!(
        errata_text.contains("blocks = [\"call-playprompt-beta.md:20\"]"),
        "{errata_text}"
    );
    assert!(
        r.to_string()
            .contains("printed JSON is not JSON: call-playprompt-beta.md:20"),
        "{r}"
    );
    // The hand-written errata survive.
    assert!(errata_text.contains("um-messages-namespace-https"));

    let answer = read_v2(&out, "cases/graph/call-answer.toml");
    assert_eq!(answer.setup, None, "the documented trigger opens the case");
    let trigger = &answer.steps[0];
    assert_eq!(trigger.trigger.as_deref(), Some("incoming-call"));
    assert_eq!(trigger.method, None);
    assert_eq!(trigger.notifications[0].state.as_deref(), Some("incoming"));
    assert_eq!(
        trigger.capture["call_id"],
        ["notification:/value/0/resourceUrl#last-segment"]
    );
    let act = &answer.steps[1];
    let body = act.body.as_deref().unwrap();
    assert!(
        body.contains("\"callbackUri\": \"{{callback_url}}\""),
        "{body}"
    );
    assert!(!body.contains("bot.contoso.com"), "{body}");
    assert_eq!(
        act.notifications.len(),
        1,
        "the failure is not in the success sequence"
    );
    assert_eq!(act.notifications[0].state.as_deref(), Some("established"));
    assert_eq!(act.alternatives.len(), 1);
    assert_eq!(act.alternatives[0].name, "answer-failed");
    assert_eq!(
        act.alternatives[0].notifications[0].state.as_deref(),
        Some("terminated")
    );

    // The folder runs on its own: family files with the set-ups the cases need.
    let fam = std::fs::read_to_string(out.join("cases/graph/_family.toml"));
    assert!(
        fam.is_ok(),
        "the fixture project has its own _family.toml, kept"
    );
    let fresh =
        std::env::temp_dir().join(format!("callconform-extract-fresh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    let r2 = extract(&[fixtures().join("hostile")], &fresh, false);
    let fam = std::fs::read_to_string(fresh.join("cases/graph/_family.toml")).unwrap();
    for s in [
        "[setup.create-call]",
        "[setup.incoming-call]",
        "[setup.create-call-participant]",
    ] {
        assert!(fam.contains(s), "{s} missing:\n{fam}");
    }
    assert!(
        r2.to_string()
            .contains("wrote cases/graph/_family.toml (the folder had none"),
        "{r2}"
    );
    let contract = std::fs::read_to_string(fresh.join("cases/graph/_contract.toml")).unwrap();
    assert!(
        contract.contains("path = \"**/id\"\nclass = \"live\""),
        "{contract}"
    );
    assert!(
        contract.contains("path = \"**/resultInfo/message\"\nclass = \"text\""),
        "{contract}"
    );
    let _ = std::fs::remove_dir_all(&fresh);
}

/// The whole documentation: every page's examples become cases (or a diagnostic says
/// which part was left out), value sets come from the element and resource pages, and
/// `--check` with both roots passes on what extract just wrote.
fn every_page_of_the_documentation(seeds: &Path, docs: &Path, metadata: &Path) {
    let out = project("all");
    let roots = [
        seeds.to_path_buf(),
        docs.to_path_buf(),
        metadata.to_path_buf(),
    ];
    let r = extract(&roots, &out, false);
    assert!(r.diagnostics.is_empty(), "{r}");
    // Every operation page (not the element and resource pages) is some case's source.
    let mut sources = std::collections::BTreeSet::new();
    for family in ["um", "graph"] {
        for (p, _) in tree(&out.join("cases").join(family)) {
            let name = p.to_string_lossy().into_owned();
            if !name.starts_with('_') {
                let c = read_v2(&out, &format!("cases/{family}/{name}"));
                sources.extend(c.provenance.sources.iter().map(|s| s.file.clone()));
            }
        }
    }
    for dir in ["um", "graph/v1.0"] {
        for e in std::fs::read_dir(docs.join(dir)).unwrap().flatten() {
            let file = format!("{dir}/{}", e.file_name().to_string_lossy());
            if file.ends_with(".md") {
                assert!(sources.contains(&file), "{file} gave no case");
            }
        }
    }
    assert!(r.stats.notifications > r.stats.cases, "{r}");
    let um = std::fs::read_to_string(out.join("cases/um/_contract.toml")).unwrap();
    assert!(
        um.contains("values = [\"None\", \"UserBusy\", \"NoAnswer\", \"Other\", \"Unavailable\"]"),
        "{um}"
    );
    assert!(
        um.contains("progress = [\"Idle\", \"Connecting\", \"Alerted\", \"Connected\"]"),
        "{um}"
    );
    assert!(
        um.contains(
            "path = \"/Envelope/Body/PlayOnPhoneResponse/PlayOnPhoneResponse\"\nclass = \"live\""
        ),
        "{um}"
    );
    let graph = std::fs::read_to_string(out.join("cases/graph/_contract.toml")).unwrap();
    assert!(graph.contains("[sets.\"call.state\"]"), "{graph}");
    assert!(
        graph.contains("[sets.\"commsNotification.changeType\"]"),
        "{graph}"
    );
    // The element pages type the UM elements' text: a string the service fills in, with
    // the page and line of its type; the enumerated ones keep their sets beside their type;
    // a container (its page says complexType, or shows children) has no text to type.
    let types = std::fs::read_to_string(out.join("cases/um/_types.toml")).unwrap();
    assert!(types.starts_with("# "), "{types}");
    assert!(
        types.contains("generated by `callconform extract`"),
        "{types}"
    );
    let model = callconform::contract::types::TypeModel::parse(&types).expect("loads");
    let dial = &model.elements["PlayOnPhoneDialString"];
    assert_eq!((dial.ty.as_str(), dial.can_be_empty), ("xs:string", false));
    assert_eq!(
        (dial.provenance.file.as_str(), dial.provenance.line),
        ("um/elements/playonphonedialstring-um-web-service.md", 32)
    );
    assert_eq!(model.elements["OofStatus"].ty, "xs:boolean");
    assert_eq!(model.elements["TelephoneAccessNumbers"].ty, "xs:string");
    assert_eq!(model.elements["CallState"].ty, "UMCallState");
    assert!(um.contains("[sets.\"CallState\"]"), "{um}");
    // `Status` on its page, `<status/>` on the wire.
    assert!(model.elements.contains_key("status"), "{types}");
    for container in [
        "GetUMPropertiesResponse",
        "GetCallInfoResponse",
        "SetOofStatus",
    ] {
        assert!(
            !model.elements.contains_key(container),
            "{container}: {types}"
        );
    }
    // Every case reads back; none sends a third-party callback.
    for (p, bytes) in tree(&out.join("cases/graph")) {
        let name = p.to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        let c = read_v2(&out, &format!("cases/graph/{name}"));
        for s in &c.steps {
            if let Some(b) = &s.body {
                assert!(!b.contains("bot.contoso.com"), "{name}: {b}");
            }
        }
        assert!(!bytes.is_empty());
    }
    let transfer = read_v2(&out, "cases/graph/call-transfer-1.toml");
    assert_eq!(transfer.steps[0].alternatives.len(), 1);
    // The type model comes from the metadata, with the metadata's line as provenance, and
    // every Graph body the runner judges has a declared root type.
    let types = std::fs::read_to_string(out.join("cases/graph/_types.toml")).unwrap();
    let model = callconform::contract::types::TypeModel::parse(&types).expect("loads");
    let call = model.get("microsoft.graph.call").expect("call is declared");
    assert!(
        call.provenance.file.ends_with(".csdl.xml"),
        "{:?}",
        call.provenance
    );
    let code = model
        .property("microsoft.graph.resultInfo", "code")
        .expect("declared");
    assert_eq!((code.ty.as_str(), code.nullable), ("Edm.Int32", false));
    assert!(model.derives_from(
        "microsoft.graph.playPromptOperation",
        "microsoft.graph.commsOperation"
    ));
    for (p, _) in tree(&out.join("cases/graph")) {
        let name = p.to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        let c = read_v2(&out, &format!("cases/graph/{name}"));
        for s in &c.steps {
            for n in &s.notifications {
                assert_eq!(
                    n.ty.as_deref(),
                    Some("microsoft.graph.commsNotifications"),
                    "{name}: notification {}",
                    n.name
                );
            }
        }
    }
    let roster = read_v2(&out, "cases/graph/get-participants.toml");
    assert_eq!(
        roster
            .steps
            .iter()
            .find_map(|s| s.expect.as_ref()?.ty.clone())
            .as_deref(),
        Some("Collection(microsoft.graph.participant)")
    );
    let check = extract(&roots, &out, true);
    assert!(check.differences.is_empty(), "{check}");
}

/// An element page in another locale lists machine-translated values ("Inactif,
/// Connexion, Connecté, ..."); its operation page's example keeps the wire's `Connected`.
/// The translated list is prose, not the enumeration: no value set is taken from it, and
/// a diagnostic names the page and the value it lacks.
fn a_translated_value_list_never_becomes_a_value_set() {
    let out = project("translated");
    let r = extract(&[fixtures().join("translated")], &out, false);
    let contract = std::fs::read_to_string(out.join("cases/um/_contract.toml"))
        .expect("the UM contract is written");
    assert!(!contract.contains("Inactif"), "{contract}");
    assert!(!contract.contains("Connecté"), "{contract}");
    let diags = page_diagnostics(&r);
    assert!(
        diags.iter().any(|d| d.contains("fr-fr-callstate.md")
            && d.contains("CallState")
            && d.contains("lack `Connected`")),
        "{diags:?}"
    );
    // The operation still becomes a case, its CallState judged by the example.
    let case = std::fs::read_to_string(out.join("cases/um/get-call-info.toml"))
        .or_else(|_| {
            std::fs::read_dir(out.join("cases/um"))
                .into_iter()
                .flatten()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().contains("call-info"))
                .map(|e| std::fs::read_to_string(e.path()))
                .unwrap_or_else(|| Err(std::io::Error::other("no GetCallInfo case")))
        })
        .expect("a GetCallInfo case");
    assert!(case.contains("GetCallInfo"), "{case}");
}

fn um_types(out: &Path) -> callconform::contract::types::TypeModel {
    let text = std::fs::read_to_string(out.join("cases/um/_types.toml")).unwrap();
    callconform::contract::types::TypeModel::parse(&text).expect("loads")
}

/// An element page in French (translated headings, a "Peut être vide | Faux" row, no
/// hidden English) types its element like the English page does.
fn a_translated_element_page_still_types_its_element() {
    let out = project("fr-types");
    let page = fixtures().join("locale/fr-fr-playonphonedialstring-um-web-service.md");
    let r = extract(&[page], &out, false);
    assert_clean(&r);
    assert_eq!(r.stats.element_types, 1, "{r}");
    let model = um_types(&out);
    let dial = &model.elements["PlayOnPhoneDialString"];
    assert_eq!((dial.ty.as_str(), dial.can_be_empty), ("xs:string", false));
    assert_eq!(
        (dial.provenance.file.as_str(), dial.provenance.line),
        ("fr-fr-playonphonedialstring-um-web-service.md", 26)
    );
    assert_eq!(model.elements.len(), 1);
}

/// Two pages typing one element otherwise (a translation that disagrees): a diagnostic on
/// the later page naming both, and the first page's type kept.
fn pages_typing_one_element_otherwise_are_diagnosed() {
    let out = project("types-disagree");
    let fr = std::fs::read_to_string(
        fixtures().join("locale/fr-fr-playonphonedialstring-um-web-service.md"),
    )
    .unwrap();
    let dir = pages(
        &out,
        &[
            ("a-fr.md", fr.clone()),
            ("b-fr-int.md", fr.replace(" **string**", " **int**")),
        ],
    );
    let r = extract(&[dir], &out, false);
    let diags = page_diagnostics(&r);
    assert_eq!(diags.len(), 1, "{r}");
    assert!(
        diags[0].contains("b-fr-int.md:26: `PlayOnPhoneDialString` is typed `xs:int` (not empty) here, `xs:string` (not empty) at a-fr.md:26; the first is kept"),
        "{diags:?}"
    );
    let dial = &um_types(&out).elements["PlayOnPhoneDialString"];
    assert_eq!(dial.ty, "xs:string");
    assert_eq!(dial.provenance.file, "a-fr.md");
}

/// `--check` names `cases/um/_types.toml` when it no longer says what the element pages
/// say, and when the pages no longer type any element.
fn check_reports_a_stale_um_type_model() {
    let out = project("stale-types");
    let page = fixtures().join("locale/fr-fr-playonphonedialstring-um-web-service.md");
    let operation = fixtures().join("good/play-on-phone.md");
    let both = [page, operation.clone()];
    extract(&both, &out, false);
    assert_clean(&extract(&both, &out, true));
    let path = out.join("cases/um/_types.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"xs:string\"", "\"xs:int\"")).unwrap();
    let r = extract(&both, &out, true);
    let changed: Vec<&Difference> = r.differences.iter().collect();
    assert!(
        matches!(changed.as_slice(), [Difference::Changed(p, diff)]
            if p == Path::new("cases/um/_types.toml") && diff.contains("-type = \"xs:int\"\n+type = \"xs:string\"")),
        "{r}"
    );
    // Written again, it is current; without the element page it is extra.
    extract(&both, &out, false);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let r = extract(&[operation], &out, true);
    assert!(
        r.differences
            .iter()
            .any(|d| matches!(d, Difference::Extra(p) if p == Path::new("cases/um/_types.toml"))),
        "{r}"
    );
}

/// A trial that needs the seed pages.
type SeedTest = fn(&Path);

fn main() {
    let args = Arguments::from_args();
    let required = std::env::var("CALLCONFORM_PAGES").is_ok_and(|v| v == "required");
    // `CALLCONFORM_SHARED` points at another checkout of the shared pages (or at none,
    // to see the page-dependent trials reported as ignored).
    let shared = std::env::var_os("CALLCONFORM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let seeds_dir = shared.join("seeds");
    let docs_dir = shared.join("pages");
    let mut trials: Vec<Trial> = Vec::new();
    let plain: [(&str, fn()); 10] = [
        (
            "a_translated_value_list_never_becomes_a_value_set",
            a_translated_value_list_never_becomes_a_value_set,
        ),
        (
            "annotated_graph_page_survives_the_hazards",
            annotated_graph_page_survives_the_hazards,
        ),
        (
            "unannotated_um_pages_pair_by_root_element",
            unannotated_um_pages_pair_by_root_element,
        ),
        (
            "broken_pages_are_reported_and_the_rest_extracted",
            broken_pages_are_reported_and_the_rest_extracted,
        ),
        ("missing_path_is_an_error", missing_path_is_an_error),
        (
            "a_documented_soap_fault_expects_500",
            a_documented_soap_fault_expects_500,
        ),
        (
            "hostile_page_forms_follow_the_rules",
            hostile_page_forms_follow_the_rules,
        ),
        (
            "a_translated_element_page_still_types_its_element",
            a_translated_element_page_still_types_its_element,
        ),
        (
            "check_reports_a_stale_um_type_model",
            check_reports_a_stale_um_type_model,
        ),
        (
            "pages_typing_one_element_otherwise_are_diagnosed",
            pages_typing_one_element_otherwise_are_diagnosed,
        ),
    ];
    for (name, f) in plain {
        trials.push(Trial::test(name, move || {
            f();
            Ok(())
        }));
    }
    // Missing pages: ignored with the reason, or a failure when they are required.
    let absent = move |what: &Path| -> Result<Completion, Failed> {
        let reason = format!(
            "{} not found (a checkout without ../shared)",
            what.display()
        );
        if required {
            Err(Failed::from(format!(
                "{reason}, and CALLCONFORM_PAGES=required"
            )))
        } else {
            Ok(Completion::ignored_with(reason))
        }
    };
    let seeded: [(&str, SeedTest); 8] = [
        (
            "disconnect_locale_copies_become_one_case",
            disconnect_locale_copies_become_one_case,
        ),
        (
            "committed_cases_are_what_the_seeds_produce",
            committed_cases_are_what_the_seeds_produce,
        ),
        (
            "delete_call_has_notifications_and_end_reasons",
            delete_call_has_notifications_and_end_reasons,
        ),
        (
            "running_twice_is_byte_identical",
            running_twice_is_byte_identical,
        ),
        (
            "check_passes_on_fresh_output_and_names_each_difference",
            check_passes_on_fresh_output_and_names_each_difference,
        ),
        (
            "a_locale_copy_that_differs_is_reported_not_merged",
            a_locale_copy_that_differs_is_reported_not_merged,
        ),
        (
            "v1_and_beta_copies_of_one_example_are_one_case",
            v1_and_beta_copies_of_one_example_are_one_case,
        ),
        (
            "v1_and_beta_copies_that_differ_are_named_apart",
            v1_and_beta_copies_that_differ_are_named_apart,
        ),
    ];
    for (name, f) in seeded {
        let dir = seeds_dir.clone();
        trials.push(Trial::ignorable_test(name, move || {
            if !dir.is_dir() {
                return absent(&dir);
            }
            f(&dir);
            Ok(Completion::Completed)
        }));
    }
    {
        let (s, d, m) = (seeds_dir.clone(), docs_dir.clone(), shared.join("metadata"));
        trials.push(Trial::ignorable_test(
            "every_page_of_the_documentation",
            move || {
                for dir in [&s, &d, &m] {
                    if !dir.is_dir() {
                        return absent(dir);
                    }
                }
                every_page_of_the_documentation(&s, &d, &m);
                Ok(Completion::Completed)
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
