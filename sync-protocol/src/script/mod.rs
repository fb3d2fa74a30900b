//! IOTile update scripts (`.trub`), read and written byte for byte like the reference tools
//! (iotile-core 5.2.0 with iotile-sensorgraph 1.1.0).
//!
//! A script is a 24-byte integrity header (hash prefix, magic, length) followed by records
//! framed by an 8-byte header (length, type, 3 reserved bytes). Type-4 RPC records are read back as the logical records that wrote them (tags,
//! sensor-graph nodes and streamers, config variables...), and a SetConfig record spans
//! several binary records.
//!
//! [`UpdateScript::decode`] accepts the scripts the reference accepts and prints each record
//! the same way, with these deliberate refusals, so that every accepted script re-encodes
//! to the same bytes (the reference would silently normalise them):
//! - non-zero reserved bytes in a record header, or in the ReflashTile padding;
//! - a type-4 record whose response byte is not `0x08`, even for logical records;
//! - a payload on ClearData, ResetGraph, PersistGraph, ClearConfigVariables or the end of a
//!   config group;
//! - a config group still open at the end of the script (the reference drops it silently);
//! - a record length below 8 or past the end of the script.
//!
//! Fields the reference ignores but that carry bytes (tile target reserved bytes, node and
//! streamer descriptor padding, the response byte of type-3 records, SetDeviceTag flags,
//! config chunk boundaries) are kept as read instead.

mod build;
mod container;
mod decode;
mod display;
mod error;
mod node;
mod record;
mod slot;
mod streamer;
mod text;

pub use build::MAX_RPC_PAYLOAD;
pub use error::{BuildError, ScriptError, ScriptErrorKind};
pub use node::{Combiner, NodeDescriptor, NodeInput, Processor, Trigger, TriggerOp, TriggerSource};
pub use record::{
    AddNode, AddStreamer, EnhancedReflashController, Record, ReflashController, ReflashTile,
    RpcRecord, ScriptRpc, SetConfig, SetConstant, SetDeviceTag, SetGraphOnline,
};
pub use slot::{SlotTarget, Tile};
pub use streamer::{ReportFormat, ReportType, StreamerDescriptor, StreamerTrigger};
pub use text::TextError;

/// A parsed update script: its logical records, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateScript {
    pub records: Vec<Record>,
}

impl UpdateScript {
    pub fn new(records: Vec<Record>) -> Self {
        UpdateScript { records }
    }

    /// Checks the 24-byte header (length of at least 24, magic `0x1F2E3D4C` at 16, total
    /// length at 20 equal to the actual length, then the first 16 bytes of SHA-256 over
    /// `bytes[16..]` equal to `bytes[..16]`, compared in constant time) and parses every
    /// record.
    pub fn decode(bytes: &[u8]) -> Result<UpdateScript, ScriptError> {
        let area = container::check_header(bytes)?;
        let raw = container::split_records(area, container::SCRIPT_HEADER_LEN)?;
        Ok(UpdateScript {
            records: decode::decode_records(&raw)?,
        })
    }

    /// Header and records; byte-identical to the input of every script `decode` accepted.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for record in &self.records {
            record.encode_into(&mut body);
        }
        container::seal(&body)
    }

    /// The number of logical records (a SetConfig group counts as one).
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Where each logical record ends in [`UpdateScript::encode`]'s bytes: a script sent
    /// up to byte `n` has delivered every record whose end is at most `n`.
    pub fn record_ends(&self) -> Vec<usize> {
        let mut body = Vec::new();
        self.records
            .iter()
            .map(|record| {
                record.encode_into(&mut body);
                container::SCRIPT_HEADER_LEN + body.len()
            })
            .collect()
    }

    /// Every RPC the script makes the device run, in order.
    pub fn rpcs(&self) -> Vec<ScriptRpc> {
        self.records.iter().flat_map(Record::rpcs).collect()
    }
}

#[cfg(test)]
mod tests;
