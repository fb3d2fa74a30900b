//! Reading graph nodes and streamers from the sensor-graph text that describes them, the
//! inverse of their `Display`:
//!
//! ```text
//! (input 1 always) => output 1 using copy_all_a
//! (system input 1 when count >= 7 || buffered 2 when value == 9) => output 3 using sum_a
//! manual signed streamer on all outputs to slot 2 with streamer 0
//! ```
//!
//! The streamer text does not say whether a streamer is synchronous or signed with the
//! device key; [`StreamerDescriptor::from_text`] takes those from its caller.

use std::str::FromStr;

use super::node::{
    Combiner, NodeDescriptor, NodeInput, Processor, Trigger, TriggerOp, TriggerSource,
};
use super::slot::Tile;
use super::streamer::{ReportFormat, ReportType, StreamerDescriptor, StreamerTrigger};
use crate::stream::{DataStream, StreamSelector};

/// Text that does not describe a node or a streamer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {text:?}: {why}")]
pub struct TextError {
    pub text: String,
    pub why: String,
}

fn error(text: &str, why: impl Into<String>) -> TextError {
    TextError {
        text: text.to_string(),
        why: why.into(),
    }
}

impl FromStr for NodeDescriptor {
    type Err = TextError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape =
            "expected `(<input> <trigger> [&&|| <input> <trigger>]) => <stream> using <function>`";
        let (inputs, rest) = text
            .trim()
            .strip_prefix('(')
            .and_then(|t| t.split_once(')'))
            .ok_or_else(|| error(text, shape))?;
        let (output, processor) = rest
            .trim()
            .strip_prefix("=>")
            .and_then(|t| t.split_once(" using "))
            .ok_or_else(|| error(text, shape))?;
        let output: DataStream = output
            .trim()
            .parse()
            .map_err(|e| error(text, format!("{e}")))?;
        let processor = Processor::ALL
            .into_iter()
            .find(|p| p.name() == processor.trim())
            .ok_or_else(|| error(text, format!("unknown function `{}`", processor.trim())))?;
        let (input_a, input_b) = match split_combiner(inputs) {
            Some((a, combiner, b)) => (input(text, a)?, Some((combiner, input(text, b)?))),
            None => (input(text, inputs)?, None),
        };
        NodeDescriptor::new(output, input_a, input_b, processor)
            .map_err(|e| error(text, e.to_string()))
    }
}

fn split_combiner(inputs: &str) -> Option<(&str, Combiner, &str)> {
    if let Some((a, b)) = inputs.split_once("&&") {
        return Some((a, Combiner::And, b));
    }
    inputs.split_once("||").map(|(a, b)| (a, Combiner::Or, b))
}

/// `<stream> always` or `<stream> when value|count <op> <number>`.
fn input(text: &str, part: &str) -> Result<NodeInput, TextError> {
    let part = part.trim();
    let (stream, trigger) = if let Some(stream) = part.strip_suffix(" always") {
        (stream, Trigger::Always)
    } else {
        let (stream, condition) = part.split_once(" when ").ok_or_else(|| {
            error(
                text,
                format!("`{part}` needs a trigger: `always` or `when value >= 5`"),
            )
        })?;
        (stream, trigger(text, condition)?)
    };
    let selector: StreamSelector = stream
        .trim()
        .parse()
        .map_err(|e| error(text, format!("{e}")))?;
    Ok(NodeInput { selector, trigger })
}

fn trigger(text: &str, condition: &str) -> Result<Trigger, TextError> {
    let words: Vec<&str> = condition.split_whitespace().collect();
    let [source, op, reference] = words[..] else {
        return Err(error(
            text,
            format!("`when {condition}` is not `when value|count <op> <number>`"),
        ));
    };
    let source = match source {
        "value" => TriggerSource::Value,
        "count" => TriggerSource::Count,
        other => {
            return Err(error(
                text,
                format!("trigger source `{other}` is not `value` or `count`"),
            ))
        }
    };
    let op = match op {
        ">" => TriggerOp::Gt,
        "<" => TriggerOp::Lt,
        ">=" => TriggerOp::Ge,
        "<=" => TriggerOp::Le,
        "==" => TriggerOp::Eq,
        other => {
            return Err(error(
                text,
                format!("comparison `{other}` is not one of > < >= <= =="),
            ))
        }
    };
    let reference = number(reference)
        .ok_or_else(|| error(text, format!("`{reference}` is not a 32-bit number")))?;
    Ok(Trigger::When {
        source,
        op,
        reference,
    })
}

fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl StreamerDescriptor {
    /// Reads `[manual ][signed ][broadcast |realtime ]streamer on <selector>[ to slot N]
    /// [ with streamer N]`. `device_key` turns a signed streamer into a device-key one and
    /// `synchronous` picks the synchronous report type, which the text cannot say.
    pub fn from_text(text: &str, device_key: bool, synchronous: bool) -> Result<Self, TextError> {
        let (flags, rest) = text.trim().split_once("streamer on ").ok_or_else(|| {
            error(
                text,
                "expected `[manual] [signed] [realtime|broadcast] streamer on <selector>`",
            )
        })?;
        let flags: Vec<&str> = flags.split_whitespace().collect();
        for flag in &flags {
            if !matches!(*flag, "manual" | "signed" | "realtime" | "broadcast") {
                return Err(error(text, format!("unknown streamer word `{flag}`")));
            }
        }
        let has = |word: &str| flags.contains(&word);
        let (rest, with) = match rest.split_once(" with streamer ") {
            Some((rest, index)) => {
                let index = index
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| error(text, format!("`{index}` is not a streamer index")))?;
                (rest, Some(index))
            }
            None => (rest, None),
        };
        let (selector, dest) = match rest.split_once(" to ") {
            Some((selector, tile)) => {
                let slot = tile
                    .trim()
                    .strip_prefix("slot ")
                    .and_then(|n| n.trim().parse::<u8>().ok())
                    .ok_or_else(|| error(text, format!("`to {tile}` is not `to slot N`")))?;
                (selector, Tile::Slot(slot))
            }
            None => (rest, Tile::Controller),
        };
        let selector: StreamSelector = selector
            .trim()
            .parse()
            .map_err(|e| error(text, format!("{e}")))?;
        let trigger = match (with, has("manual")) {
            (Some(index), _) => StreamerTrigger::WithStreamer(index),
            (None, true) => StreamerTrigger::Manual,
            (None, false) => StreamerTrigger::Automatic,
        };
        let (format, report_type) = match (has("broadcast"), has("realtime"), has("signed")) {
            (true, _, false) => (ReportFormat::Individual, ReportType::Broadcast),
            (false, true, false) => (ReportFormat::Individual, ReportType::Telegram),
            (false, false, true) if device_key => {
                (ReportFormat::SignedListDeviceKey, ReportType::Telegram)
            }
            (false, false, true) => (ReportFormat::SignedListUserKey, ReportType::Telegram),
            (false, false, false) => (ReportFormat::HashedList, ReportType::Telegram),
            _ => {
                return Err(error(
                    text,
                    "a signed streamer cannot be realtime or broadcast",
                ))
            }
        };
        let report_type = if synchronous {
            ReportType::Synchronous
        } else {
            report_type
        };
        StreamerDescriptor::new(dest, selector, trigger, format, report_type)
            .map_err(|e| error(text, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_text_round_trips() {
        for text in [
            "(input 1 always) => output 1 using copy_all_a",
            "(system input 1 when count >= 7 || buffered 2 when value == 9) => system output 1025 using subtract_afromb",
            "(input 5 when value < 4294967295 && counter 3 always) => unbuffered 11 using average_a",
        ] {
            let node: NodeDescriptor = text.parse().expect(text);
            assert_eq!(node.to_string(), text);
            assert_eq!(NodeDescriptor::decode(&node.to_bytes()).map(|n| n.to_string()), Ok(text.to_string()));
        }
    }

    #[test]
    fn bad_node_text_says_why() {
        for (text, needle) in [
            ("input 1 always => output 1 using copy_all_a", "expected"),
            ("(input 1) => output 1 using copy_all_a", "needs a trigger"),
            (
                "(input 1 always) => output 1 using frobnicate",
                "unknown function",
            ),
            (
                "(all outputs always) => output 1 using copy_all_a",
                "one stream",
            ),
            (
                "(input 1 when value ~ 3) => output 1 using copy_all_a",
                "comparison",
            ),
        ] {
            let error = text.parse::<NodeDescriptor>().expect_err(text);
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn streamer_text_round_trips() {
        for text in [
            "manual streamer on all outputs",
            "manual streamer on all system outputs with streamer 0",
            "manual signed streamer on all outputs to slot 2",
            "realtime streamer on unbuffered 11",
            "manual broadcast streamer on output 1",
        ] {
            let streamer = StreamerDescriptor::from_text(text, false, false).expect(text);
            assert_eq!(streamer.to_string(), text);
        }
        let device = StreamerDescriptor::from_text("signed streamer on all outputs", true, false)
            .expect("valid");
        assert_eq!(device.format(), ReportFormat::SignedListDeviceKey);
        assert!(StreamerDescriptor::from_text(
            "signed realtime streamer on output 1",
            false,
            false
        )
        .is_err());
        assert!(StreamerDescriptor::from_text("fast streamer on output 1", false, false).is_err());
    }
}
