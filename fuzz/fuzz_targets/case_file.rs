//! Any text as a case file: parsing must return Ok or Err, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = callconform::case::parse_case(Path::new("fuzz.toml"), text);
    }
});
