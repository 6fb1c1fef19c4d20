//! Canonicalisation throughput against the bare parsers it is built on.
//!
//! Targets: XML canonical ≥ 40% of a bare quick-xml event loop; JSON canonical
//! (parse + render) ≥ 50% of `serde_json::from_slice::<Value>`.
//!
//! `cargo bench --bench canon` (add `-- --quick` for a fast run).
//!
//! Two XML reference points show where the time goes, since the output type
//! (`String` names, `BTreeMap` attributes, `Vec` children) fixes one allocation per name,
//! text run, child list and attribute:
//! - `floor_nsreader_resolve`: an `NsReader` loop that resolves every element name and reads
//!   every attribute and text, but builds nothing: the least work any namespace-aware
//!   canonicaliser on quick-xml does;
//! - `floor_tree_clone_drop`: cloning and dropping the canonical tree, i.e. only allocating
//!   and freeing what `canonicalize` must return.
//!
//! `canonical_text` streams the same rendering into one `String` without a tree; it is the
//! variant the XML target applies to (what the runner compares).

use callconform::canon::{Limits, json, xml};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use quick_xml::{NsReader, Reader, XmlVersion};
use std::hint::black_box;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const SIZES: &[(&str, usize)] = &[("1KiB", KIB), ("100KiB", 100 * KIB), ("10MiB", 10 * MIB)];

/// A SOAP envelope of about `size` bytes: many GetCallInfoResponse-like children.
fn soap_envelope(size: usize) -> Vec<u8> {
    let mut s = String::with_capacity(size + 1024);
    s.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" ",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
        "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n",
        "  <soap:Body>\n",
        "    <GetCallInfoResponse xmlns=\"http://schemas.microsoft.com/exchange/services/2006/messages\">\n",
    ));
    let states = ["Connected", "Alerted", "Disconnected", "Connecting"];
    let mut i = 0usize;
    while s.len() < size.saturating_sub(120) {
        s.push_str(&format!(
            concat!(
                "      <GetCallInfoResponse seq=\"{}\">\n",
                "        <CallState>{}</CallState>\n",
                "        <EventCause>None</EventCause>\n",
                "        <CallId>MDlkZjllZGMtNGUyMy00NzA5LWJkYWYtN2JlMjBjYjBhZTU2QGRmLWV1bS0wMS5{}</CallId>\n",
                "      </GetCallInfoResponse>\n",
            ),
            i,
            states[i % states.len()],
            i
        ));
        i += 1;
    }
    s.push_str("    </GetCallInfoResponse>\n  </soap:Body>\n</soap:Envelope>\n");
    s.into_bytes()
}

/// A Graph notification batch of about `size` bytes.
fn graph_json(size: usize) -> Vec<u8> {
    let mut s = String::with_capacity(size + 1024);
    s.push_str("{\"@odata.type\":\"#microsoft.graph.commsNotifications\",\"value\":[");
    let mut i = 0usize;
    while s.len() < size.saturating_sub(400) {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            concat!(
                "{{\"@odata.type\":\"#microsoft.graph.commsNotification\",\"changeType\":\"updated\",",
                "\"resourceUrl\":\"/communications/calls/57dab8b1-894c-409a-b240-{:012}\",",
                "\"resourceData\":{{\"@odata.type\":\"#microsoft.graph.call\",\"state\":\"terminated\",",
                "\"resultInfo\":{{\"code\":200,\"subcode\":5001,\"message\":\"The conversation has ended.\"}},",
                "\"callbackUri\":\"https://bot.contoso.com/api/calls\",\"direction\":\"outgoing\"}}}}"
            ),
            i
        ));
        i += 1;
    }
    s.push_str("]}");
    s.into_bytes()
}

/// The bare quick-xml event loop: read every event, do nothing with it.
fn bare_events(input: &[u8]) -> usize {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().expand_empty_elements = true;
    let mut n = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return n,
            Ok(e) => {
                black_box(&e);
                n += 1;
            }
            Err(e) => panic!("bench input is not XML: {e}"),
        }
    }
}

/// Namespace resolution plus attribute and text decoding, building nothing.
fn ns_resolve_events(input: &[u8]) -> usize {
    let mut reader = NsReader::from_reader(input);
    reader.config_mut().expand_empty_elements = true;
    let mut n = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return n,
            Ok(Event::Start(e)) => {
                let (ns, local) = reader.resolver().resolve_element(e.name());
                black_box((&ns, local));
                for a in e.attributes() {
                    let a = a.expect("bench input is valid");
                    black_box(reader.resolver().resolve_attribute(a.key));
                    black_box(a.normalized_value(XmlVersion::Implicit1_0).expect("valid"));
                }
                n += 1;
            }
            Ok(Event::Text(t)) => {
                black_box(t.xml10_content());
                n += 1;
            }
            Ok(e) => {
                black_box(&e);
                n += 1;
            }
            Err(e) => panic!("bench input is not XML: {e}"),
        }
    }
}

fn limits() -> Limits {
    Limits {
        max_bytes: 64 * MIB,
        ..Limits::default()
    }
}

fn bench_xml(c: &mut Criterion) {
    let mut group = c.benchmark_group("xml");
    for &(label, size) in SIZES {
        let input = soap_envelope(size);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.sample_size(if size >= MIB { 10 } else { 50 });
        group.bench_with_input(
            BenchmarkId::new("quick_xml_events", label),
            &input,
            |b, i| b.iter(|| bare_events(black_box(i))),
        );
        let limits = limits();
        group.bench_with_input(BenchmarkId::new("canonicalize", label), &input, |b, i| {
            b.iter(|| xml::canonicalize(black_box(i), &limits).expect("bench input is valid"))
        });
        // The same, with freeing the tree left out of the timing (it is the caller's cost,
        // and with glibc malloc it is a large share of the total for big trees).
        group.bench_with_input(
            BenchmarkId::new("canonicalize_excluding_drop", label),
            &input,
            |b, i| {
                b.iter_with_large_drop(|| {
                    xml::canonicalize(black_box(i), &limits).expect("bench input is valid")
                })
            },
        );
        // The same rendering, streamed straight into a `String` with no tree.
        group.bench_with_input(BenchmarkId::new("canonical_text", label), &input, |b, i| {
            b.iter(|| {
                xml::canonical_text(black_box(i), &limits, &[]).expect("bench input is valid")
            })
        });
        group.bench_with_input(
            BenchmarkId::new("floor_nsreader_resolve", label),
            &input,
            |b, i| b.iter(|| ns_resolve_events(black_box(i))),
        );
        let tree = xml::canonicalize(&input, &limits).expect("bench input is valid");
        group.bench_with_input(
            BenchmarkId::new("floor_tree_clone_drop", label),
            &tree,
            |b, t| b.iter(|| black_box(t).clone()),
        );
    }
    group.finish();
}

fn bench_json(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for &(label, size) in SIZES {
        let input = graph_json(size);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.sample_size(if size >= MIB { 10 } else { 50 });
        group.bench_with_input(
            BenchmarkId::new("serde_json_from_slice", label),
            &input,
            |b, i| {
                b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(i)).expect("valid"))
            },
        );
        let limits = limits();
        group.bench_with_input(BenchmarkId::new("parse_render", label), &input, |b, i| {
            b.iter(|| json::render(&json::parse(black_box(i), &limits).expect("valid")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_xml, bench_json);
criterion_main!(benches);
