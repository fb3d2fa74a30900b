//! The 20-byte sensor-graph node descriptor of an AddNode record (RPC `0x2003`):
//!
//! ```text
//! u32 ref A | u32 ref B | u16 node stream | u16 input A | u16 input B (0xFFFF = none)
//! u8 processor | u8 trigger A | u8 trigger B | u8 combiner | 2 pad
//! trigger: bit 0 source (0 value, 1 count) | bits 1.. comparison (0 > 1 < 2 >= 3 <= 4 == 5 always)
//! ```

use super::container::{u16_at, u32_at};
use super::error::{BuildError, ScriptErrorKind};
use crate::stream::{DataStream, StreamSelector};

/// A graph node as carried by a script. The raw bytes are kept so that the fields the
/// reference ignores (references of `always` triggers, input B fields of single-input nodes,
/// padding) re-encode unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeDescriptor {
    bytes: [u8; 20],
    output: DataStream,
    input_a: NodeInput,
    input_b: Option<NodeInput>,
    combiner: Combiner,
    processor: Processor,
}

/// One input of a node: the stream it reads and when it counts as triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInput {
    pub selector: StreamSelector,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    Always,
    When {
        source: TriggerSource,
        op: TriggerOp,
        reference: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerSource {
    /// The value of the latest reading.
    Value,
    /// The number of readings available.
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerOp {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
}

/// How the triggers of a two-input node combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Combiner {
    And,
    Or,
}

/// The processing function of a node, by its sensor-graph name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Processor {
    CopyLatestA,
    AverageA,
    CopyAllA,
    SumA,
    CopyCountA,
    TriggerStreamer,
    CallRpc,
    SubtractAFromB,
}

const NO_INPUT: u16 = 0xFFFF;
const ALWAYS: u8 = 5;

impl NodeDescriptor {
    pub const LEN: usize = 20;

    /// A node in the canonical form the sensor-graph compiler writes. Inputs must name single
    /// streams of a defined type: the reference refuses scripts with wildcard node inputs.
    pub fn new(
        output: DataStream,
        input_a: NodeInput,
        input_b: Option<(Combiner, NodeInput)>,
        processor: Processor,
    ) -> Result<Self, BuildError> {
        let check = |input: &NodeInput| {
            let why = if input.selector.kind().is_err() {
                "its stream type is not defined"
            } else if input.selector.single_id().is_none() {
                "a graph node input must name one stream"
            } else {
                return Ok(());
            };
            Err(BuildError::BadSelector {
                selector: format!("0x{:04X}", input.selector.code()),
                why,
            })
        };
        check(&input_a)?;
        let (combiner, b) = match input_b {
            Some((combiner, b)) => {
                check(&b)?;
                (combiner, Some(b))
            }
            None => (Combiner::And, None),
        };
        let always = NodeInput {
            selector: StreamSelector::from_code(NO_INPUT),
            trigger: Trigger::Always,
        };
        let b_fields = b.unwrap_or(always);
        let mut bytes = [0u8; 20];
        bytes[0..4].copy_from_slice(&input_a.trigger.reference().to_le_bytes());
        bytes[4..8].copy_from_slice(&b_fields.trigger.reference().to_le_bytes());
        bytes[8..10].copy_from_slice(&output.code().to_le_bytes());
        bytes[10..12].copy_from_slice(&input_a.selector.code().to_le_bytes());
        bytes[12..14].copy_from_slice(&b_fields.selector.code().to_le_bytes());
        bytes[14] = processor as u8;
        bytes[15] = input_a.trigger.code();
        bytes[16] = b_fields.trigger.code();
        bytes[17] = combiner as u8;
        Ok(NodeDescriptor {
            bytes,
            output,
            input_a,
            input_b: b,
            combiner,
            processor,
        })
    }

    /// Reads a descriptor, accepting exactly what coretools accepts (`parse_binary_descriptor`
    /// followed by its re-parse of the text form, which only allows single-stream inputs).
    pub fn decode(payload: &[u8]) -> Result<Self, ScriptErrorKind> {
        let bytes: [u8; 20] = payload
            .try_into()
            .map_err(|_| ScriptErrorKind::WrongLength {
                what: "an AddNode payload",
                expected: Self::LEN,
                found: payload.len(),
            })?;
        let field16 = |at| u16_at(&bytes, at).unwrap_or(NO_INPUT);
        let field32 = |at| u32_at(&bytes, at).unwrap_or(0);
        let [.., processor, trigger_a, trigger_b, combiner, _, _] = bytes;
        let output_code = field16(8);
        let output =
            DataStream::from_code(output_code).map_err(|_| ScriptErrorKind::UnknownStreamType {
                what: "node stream",
                code: output_code,
            })?;
        let a_code = field16(10);
        if a_code == NO_INPUT {
            return Err(ScriptErrorKind::NodeMissingInputA);
        }
        let input_a = decode_input(a_code, trigger_a, field32(0))?;
        let b_code = field16(12);
        let input_b = if b_code == NO_INPUT {
            None
        } else {
            Some(decode_input(b_code, trigger_b, field32(4))?)
        };
        let combiner = match combiner {
            0 => Combiner::And,
            1 => Combiner::Or,
            found => return Err(ScriptErrorKind::BadCombiner { found }),
        };
        let processor = Processor::from_code(processor)
            .ok_or(ScriptErrorKind::UnknownProcessor { found: processor })?;
        Ok(NodeDescriptor {
            bytes,
            output,
            input_a,
            input_b,
            combiner,
            processor,
        })
    }

    pub fn to_bytes(&self) -> [u8; 20] {
        self.bytes
    }

    pub fn output(&self) -> DataStream {
        self.output
    }

    pub fn input_a(&self) -> NodeInput {
        self.input_a
    }

    pub fn input_b(&self) -> Option<NodeInput> {
        self.input_b
    }

    pub fn combiner(&self) -> Combiner {
        self.combiner
    }

    pub fn processor(&self) -> Processor {
        self.processor
    }
}

fn decode_input(code: u16, trigger: u8, reference: u32) -> Result<NodeInput, ScriptErrorKind> {
    let selector = StreamSelector::from_code(code);
    if selector.kind().is_err() {
        return Err(ScriptErrorKind::UnknownStreamType {
            what: "node input selector",
            code,
        });
    }
    if selector.single_id().is_none() {
        return Err(ScriptErrorKind::NodeWildcardInput {
            selector: selector.to_string(),
        });
    }
    let source = if trigger & 1 == 0 {
        TriggerSource::Value
    } else {
        TriggerSource::Count
    };
    let op = match trigger >> 1 {
        0 => TriggerOp::Gt,
        1 => TriggerOp::Lt,
        2 => TriggerOp::Ge,
        3 => TriggerOp::Le,
        4 => TriggerOp::Eq,
        ALWAYS => {
            return Ok(NodeInput {
                selector,
                trigger: Trigger::Always,
            })
        }
        _ => return Err(ScriptErrorKind::BadTrigger { found: trigger }),
    };
    Ok(NodeInput {
        selector,
        trigger: Trigger::When {
            source,
            op,
            reference,
        },
    })
}

impl Trigger {
    fn code(self) -> u8 {
        match self {
            Trigger::Always => ALWAYS << 1,
            Trigger::When { source, op, .. } => ((op as u8) << 1) | source as u8,
        }
    }

    fn reference(self) -> u32 {
        match self {
            Trigger::Always => 0,
            Trigger::When { reference, .. } => reference,
        }
    }
}

impl Processor {
    pub const ALL: [Processor; 8] = [
        Processor::CopyLatestA,
        Processor::AverageA,
        Processor::CopyAllA,
        Processor::SumA,
        Processor::CopyCountA,
        Processor::TriggerStreamer,
        Processor::CallRpc,
        Processor::SubtractAFromB,
    ];

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The function name used by sensor-graph text.
    pub fn name(self) -> &'static str {
        match self {
            Processor::CopyLatestA => "copy_latest_a",
            Processor::AverageA => "average_a",
            Processor::CopyAllA => "copy_all_a",
            Processor::SumA => "sum_a",
            Processor::CopyCountA => "copy_count_a",
            Processor::TriggerStreamer => "trigger_streamer",
            Processor::CallRpc => "call_rpc",
            Processor::SubtractAFromB => "subtract_afromb",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fields: (u32, u32, u16, u16, u16, u8, u8, u8, u8)) -> Vec<u8> {
        let (ra, rb, out, a, b, proc_, ta, tb, comb) = fields;
        let mut v = Vec::new();
        v.extend_from_slice(&ra.to_le_bytes());
        v.extend_from_slice(&rb.to_le_bytes());
        for x in [out, a, b] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&[proc_, ta, tb, comb, 0, 0]);
        v
    }

    #[test]
    fn reads_and_prints_like_the_reference() {
        let one = NodeDescriptor::decode(&raw((0, 0, 0x5001, 0x3001, 0xFFFF, 2, 10, 10, 0)))
            .expect("valid");
        assert_eq!(
            one.to_string(),
            "(input 1 always) => output 1 using copy_all_a"
        );
        let two = NodeDescriptor::decode(&raw((7, 9, 0x5C01, 0x3801, 0x0002, 7, 5, 8, 1)))
            .expect("valid");
        assert_eq!(
            two.to_string(),
            "(system input 1 when count >= 7 || buffered 2 when value == 9) => system output 1025 using subtract_afromb"
        );
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        let bad = |fields| NodeDescriptor::decode(&raw(fields)).err();
        assert_eq!(
            bad((0, 0, 0x5001, 0xFFFF, 0xFFFF, 2, 10, 10, 0)),
            Some(ScriptErrorKind::NodeMissingInputA)
        );
        assert!(matches!(
            bad((0, 0, 0x5001, 0xD7FF, 0xFFFF, 2, 10, 10, 0)),
            Some(ScriptErrorKind::NodeWildcardInput { .. })
        ));
        assert!(matches!(
            bad((0, 0, 0x6001, 0x3001, 0xFFFF, 2, 10, 10, 0)),
            Some(ScriptErrorKind::UnknownStreamType { .. })
        ));
        assert!(matches!(
            bad((0, 0, 0x5001, 0x3001, 0x7001, 2, 10, 10, 0)),
            Some(ScriptErrorKind::UnknownStreamType { .. })
        ));
        assert_eq!(
            bad((0, 0, 0x5001, 0x3001, 0xFFFF, 2, 12, 10, 0)),
            Some(ScriptErrorKind::BadTrigger { found: 12 })
        );
        assert_eq!(
            bad((0, 0, 0x5001, 0x3001, 0xFFFF, 2, 10, 99, 2)),
            Some(ScriptErrorKind::BadCombiner { found: 2 })
        );
        assert_eq!(
            bad((0, 0, 0x5001, 0x3001, 0xFFFF, 8, 10, 10, 0)),
            Some(ScriptErrorKind::UnknownProcessor { found: 8 })
        );
        assert!(NodeDescriptor::decode(&[0; 19]).is_err());
    }

    #[test]
    fn built_nodes_are_canonical() {
        let input = |code| NodeInput {
            selector: StreamSelector::from_code(code),
            trigger: Trigger::Always,
        };
        let output = DataStream::from_code(0x5001).expect("valid");
        let node =
            NodeDescriptor::new(output, input(0x3001), None, Processor::CopyAllA).expect("valid");
        assert_eq!(
            node.to_bytes().to_vec(),
            raw((0, 0, 0x5001, 0x3001, 0xFFFF, 2, 10, 10, 0))
        );
        assert_eq!(NodeDescriptor::decode(&node.to_bytes()), Ok(node));
        assert!(NodeDescriptor::new(output, input(0xD7FF), None, Processor::CopyAllA).is_err());
    }
}
