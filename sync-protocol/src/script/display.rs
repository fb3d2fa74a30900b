//! Record text, exactly as the reference tools print each record (`str(record)`), so that
//! listings can be compared with theirs.

use std::fmt;

use super::node::{Combiner, NodeDescriptor, Trigger, TriggerOp, TriggerSource};
use super::record::{Record, SetDeviceTag};
use super::slot::Tile;
use super::streamer::{ReportFormat, ReportType, StreamerDescriptor, StreamerTrigger};

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::SetDeviceTag(r) => fmt_device_tag(r, f),
            Record::SendRpc(r) => {
                write!(
                    f,
                    "Call RPC 0x{:X} on tile at {} with payload 'b'{}''",
                    r.rpc_id,
                    r.address,
                    Hex(&r.payload)
                )
            }
            Record::SendErrorCheckingRpc(r) => write!(
                f,
                "Call RPC 0x{:X} on tile at {} with payload 'b'{}'' and check for errors",
                r.rpc_id,
                r.address,
                Hex(&r.payload)
            ),
            Record::ReflashTile(r) => {
                let len = r.image.len();
                write!(
                    f,
                    "Reflash slot {} with {len} (0x{len:X}) bytes starting at offset {offset} (0x{offset:X}) \
                     (hardware_type: {})",
                    r.target.slot_byte(),
                    r.hardware_type,
                    offset = r.offset
                )
            }
            Record::ReflashController(r) => {
                let (len, offset) = (r.image.len(), r.offset);
                write!(f, "Reflash controller with {len} (0x{len:X}) bytes starting at offset {offset} (0x{offset:X})")
            }
            Record::EnhancedReflashController(r) => {
                let (len, base) = (r.image.len(), r.base_address);
                write!(
                    f,
                    "Enhanced Reflash controller with {len} (0x{len:X}) bytes starting at base_address {base} (0x{base:X})"
                )
            }
            Record::ResetDevice => f.write_str("Reset device"),
            Record::AddNode(r) => write!(f, "Add sensorgraph node '{}'", r.descriptor),
            Record::AddStreamer(r) => write!(f, "Add sensorgraph streamer '{}'", r.descriptor),
            Record::SetConfig(r) => {
                write!(f, "Set config variable 0x{:X} on ", r.config_id)?;
                match r.target.tile() {
                    Ok(tile) => write!(f, "{tile}")?,
                    Err(_) => write!(f, "target {}", Hex(&r.target.to_bytes()))?,
                }
                write!(f, " to 'hex:b'{}''", Hex(&r.data()))
            }
            Record::SetConstant(r) => {
                write!(
                    f,
                    "Initialize stream '{}' to {value} (0x{value:08X})",
                    r.stream,
                    value = r.value
                )
            }
            Record::SetGraphOnline(r) if r.online() => f.write_str("Start sensorgraph engine"),
            Record::SetGraphOnline(_) => f.write_str("Stop sensorgraph engine"),
            Record::ResetGraph { .. } => f.write_str("Clear current sensorgraph"),
            Record::PersistGraph { .. } => f.write_str("Persist sensorgraph to flash"),
            Record::ClearData { .. } => f.write_str("Clear all sensorgraph readings"),
            Record::ClearConfigVariables => f.write_str("Clear all config variables"),
            Record::Unknown {
                record_type,
                payload,
            } => {
                write!(
                    f,
                    "Unknown record type {record_type}, length: {}",
                    payload.len()
                )
            }
        }
    }
}

/// The reference prints the app-only form without a comma; kept as is.
fn fmt_device_tag(r: &SetDeviceTag, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (os, app) = (r.os, r.app);
    match (r.updates_os(), r.updates_app()) {
        (false, true) => write!(
            f,
            "Set device app to (tag:{} version:{})",
            app.tag,
            app.version()
        ),
        (true, false) => write!(
            f,
            "Set device os to (tag:{}, version:{})",
            os.tag,
            os.version()
        ),
        (true, true) => write!(
            f,
            "Set device os to (tag:{}, version:{}) and app to (tag:{}, version:{})",
            os.tag,
            os.version(),
            app.tag,
            app.version()
        ),
        // Never decoded; a hand-built record may still be printed.
        (false, false) => f.write_str("Set device tag (nothing to update)"),
    }
}

impl fmt::Display for Trigger {
    /// `always` or `when count >= 5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Trigger::When {
            source,
            op,
            reference,
        } = self
        else {
            return f.write_str("always");
        };
        let source = match source {
            TriggerSource::Value => "value",
            TriggerSource::Count => "count",
        };
        let op = match op {
            TriggerOp::Gt => ">",
            TriggerOp::Lt => "<",
            TriggerOp::Ge => ">=",
            TriggerOp::Le => "<=",
            TriggerOp::Eq => "==",
        };
        write!(f, "when {source} {op} {reference}")
    }
}

impl fmt::Display for NodeDescriptor {
    /// `(input 1 always) => output 1 using copy_all_a`, or with two inputs
    /// `(input 1 always && input 2 when count >= 2) => ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.input_a();
        write!(f, "({} {}", a.selector, a.trigger)?;
        if let Some(b) = self.input_b() {
            let combiner = match self.combiner() {
                Combiner::And => "&&",
                Combiner::Or => "||",
            };
            write!(f, " {combiner} {} {}", b.selector, b.trigger)?;
        }
        write!(
            f,
            ") => {} using {}",
            self.output(),
            self.processor().name()
        )
    }
}

impl fmt::Display for StreamerDescriptor {
    /// `{manual }{signed }{broadcast |realtime }streamer on {selector}{ to slot N}{ with streamer N}`,
    /// as `DataStreamer.__str__`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.trigger() != StreamerTrigger::Automatic {
            f.write_str("manual ")?;
        }
        if self.format() == ReportFormat::SignedListUserKey {
            f.write_str("signed ")?;
        }
        if self.report_type() == ReportType::Broadcast {
            f.write_str("broadcast ")?;
        } else if self.format() == ReportFormat::Individual {
            f.write_str("realtime ")?;
        }
        write!(f, "streamer on {}", self.selector())?;
        if self.dest() != Tile::Controller {
            write!(f, " to {}", self.dest())?;
        }
        if let StreamerTrigger::WithStreamer(index) = self.trigger() {
            write!(f, " with streamer {index}")?;
        }
        Ok(())
    }
}

/// Lower-case hex, as `binascii.hexlify`.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}
