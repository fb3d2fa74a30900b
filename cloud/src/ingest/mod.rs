//! Report processing: from a verified report and the streamer's books to the rows to store
//! and the books to write (spec 5.5–5.7). Pure code: no I/O, no clock.
//!
//! - `engine`: SignedListReport (`.bin`): duplicates, stream slugs, times with the reboot
//!   fix-up, drops, and the report marker row;
//! - `flexible`: FlexibleDictionaryReport (`.mp`, `.json`): events and data;
//! - `convert`: a reading's value from its raw integer and its stream record;
//! - `id_ranges`: the set of reading ids the cloud holds per streamer, as intervals.

pub mod convert;
pub mod engine;
pub mod flexible;
pub mod id_ranges;

pub use convert::{Mdo, StreamSettings};
pub use engine::{
    process_signed_list, process_signed_readings, signed_covers, Context, EngineError, Outcome,
    PreviousReport,
};
pub use flexible::{event_documents, flexible_covers, process_flexible};
pub use id_ranges::IdRanges;

#[cfg(test)]
mod flexible_tests;
#[cfg(test)]
mod tests;
