//! Any bytes: a report or an error, never a panic; a decoded report re-encodes to the same
//! bytes (binary formats) and verification never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_protocol::auth::RootKey;
use sync_protocol::report::Report;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = Report::decode(data) {
        let encoded = report.encode();
        if !matches!(report, Report::FlexibleDictionary(_)) {
            assert_eq!(encoded, data, "binary reports re-encode exactly");
        }
        if let Report::SignedList(signed) = &report {
            let _ = signed.readings(None);
            let _ = signed.readings(Some(&RootKey::new([7; 32])));
        }
    }
});
