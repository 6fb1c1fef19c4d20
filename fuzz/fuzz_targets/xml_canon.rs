//! Any bytes: canonicalising must return Ok or Err, never panic, overflow the stack or
//! run away with memory. When it succeeds, the rendering must be stable under a second pass
//! through the limits-free parts (render never fails).
#![no_main]

use callconform::canon::{Limits, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 64,
        max_bytes: 1 << 20,
        max_nodes: 100_000,
    };
    if let Ok(mut root) = xml::canonicalize(data, &limits) {
        let rendered = xml::render(&root);
        assert!(rendered.ends_with('\n'));
        let _ = xml::select_text(&root, "/Envelope/Body/Fault/faultcode");
        xml::apply_placeholders(&mut root, &[("a", "x"), ("ab", "y")]);
    }
});
