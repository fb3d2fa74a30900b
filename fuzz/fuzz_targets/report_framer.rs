//! A byte stream cut into arbitrary chunks: the framer emits reports or one error, never
//! panics, and never emits more bytes than it received.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_protocol::report::ReportFramer;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk.max(1));
    let mut framer = ReportFramer::new();
    let mut emitted = 0;
    for piece in stream.chunks(chunk) {
        framer.push(piece);
        while let Some(next) = framer.next_report() {
            match next {
                Ok(report) => emitted += report.len(),
                Err(_) => break,
            }
        }
    }
    assert!(emitted <= stream.len());
});
