//! The simplified sensor-graph engine: nodes with input walkers, triggers and processors,
//! driven by graph inputs (see the module documentation of [`super`] for what runs).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sync_protocol::rpc::{codes, RpcOutcome};
use sync_protocol::script::{
    Combiner, NodeDescriptor, Processor, Trigger, TriggerOp, TriggerSource,
};
use sync_protocol::stream::{DataStream, StreamSelector, StreamType};
use sync_protocol::Reading;

use super::log::Area;
use super::{PersistedGraph, PodModel};

/// Resource limits of a POD's graph.
pub const MAX_NODES: usize = 32;
pub const MAX_ROOT_NODES: usize = 8;
/// A buffered node input keeps at most this many unprocessed readings.
const MAX_QUEUED: usize = 4096;
/// Node evaluations per graph input, against cycles.
const MAX_EVALUATIONS: usize = 1024;

/// Sensor-graph error codes (subsystem `0x8003`).
pub mod errors {
    pub const NO_NODE_SPACE_AVAILABLE: u32 = 0x8003_800C;
    pub const INVALID_NODE_STREAM: u32 = 0x8003_800D;
    pub const TOO_MANY_ROOT_NODES: u32 = 0x8003_801D;
}

/// The running graph (RAM).
#[derive(Default)]
pub(super) struct Graph {
    pub nodes: Vec<Node>,
    /// Current values of constant streams.
    pub constants: BTreeMap<u16, u32>,
    /// Latest reading of every stream written since boot (for `0x200B` and broadcasts).
    pub last_values: BTreeMap<u16, Reading>,
    pub online: bool,
    /// Streamers marked by `0x2010` or `trigger_streamer` nodes, not yet checked.
    pub marked: BTreeSet<u8>,
    pending: VecDeque<Reading>,
    processing: bool,
}

pub(super) struct Node {
    pub descriptor: NodeDescriptor,
    inputs: Vec<Input>,
}

struct Input {
    selector: StreamSelector,
    trigger: Trigger,
    walker: Walker,
}

/// What a node input holds, by the type of stream it reads.
enum Walker {
    /// Buffered and output streams: readings pushed since the node was added.
    Queue(VecDeque<Reading>),
    /// Unbuffered and input streams: the latest reading, consumed when read.
    Latest(Option<Reading>),
    /// Constant streams: inexhaustible.
    Constant(u16),
    /// Counter streams: how many readings arrived, and the latest.
    Counter { count: u32, latest: Option<Reading> },
}

impl Walker {
    fn for_selector(selector: StreamSelector) -> Walker {
        match selector.kind() {
            Ok(StreamType::Buffered | StreamType::Output) => Walker::Queue(VecDeque::new()),
            Ok(StreamType::Constant) => Walker::Constant(selector.code()),
            Ok(StreamType::Counter) => Walker::Counter {
                count: 0,
                latest: None,
            },
            _ => Walker::Latest(None),
        }
    }

    fn count(&self) -> u32 {
        match self {
            Walker::Queue(queue) => queue.len() as u32,
            Walker::Latest(latest) => u32::from(latest.is_some()),
            Walker::Constant(_) => u32::MAX,
            Walker::Counter { count, .. } => *count,
        }
    }

    fn peek(&self, constants: &BTreeMap<u16, u32>) -> Option<Reading> {
        match self {
            Walker::Queue(queue) => queue.front().copied(),
            Walker::Latest(latest) => *latest,
            Walker::Constant(stream) => Some(constant_reading(*stream, constants)),
            Walker::Counter { latest, .. } => *latest,
        }
    }

    fn pop(&mut self, constants: &BTreeMap<u16, u32>) -> Option<Reading> {
        match self {
            Walker::Queue(queue) => queue.pop_front(),
            Walker::Latest(latest) => latest.take(),
            Walker::Constant(stream) => Some(constant_reading(*stream, constants)),
            Walker::Counter { count, latest } => {
                if *count == 0 {
                    return None;
                }
                *count -= 1;
                *latest
            }
        }
    }

    fn skip_all(&mut self) {
        match self {
            Walker::Queue(queue) => queue.clear(),
            Walker::Latest(latest) => *latest = None,
            Walker::Constant(_) => {}
            Walker::Counter { count, .. } => *count = 0,
        }
    }

    fn push(&mut self, reading: Reading) {
        match self {
            Walker::Queue(queue) => {
                if queue.len() >= MAX_QUEUED {
                    queue.pop_front();
                }
                queue.push_back(reading);
            }
            Walker::Latest(latest) => *latest = Some(reading),
            Walker::Constant(_) => {}
            Walker::Counter { count, latest } => {
                *count = count.saturating_add(1);
                *latest = Some(reading);
            }
        }
    }

    fn is_constant(&self) -> bool {
        matches!(self, Walker::Constant(_))
    }
}

fn constant_reading(stream: u16, constants: &BTreeMap<u16, u32>) -> Reading {
    Reading {
        stream,
        reading_id: 0,
        raw_time: u32::MAX,
        value: constants.get(&stream).copied().unwrap_or(0),
    }
}

impl Input {
    fn triggered(&self, constants: &BTreeMap<u16, u32>) -> bool {
        let Trigger::When {
            source,
            op,
            reference,
        } = self.trigger
        else {
            return true;
        };
        let value = match source {
            TriggerSource::Count => self.walker.count(),
            TriggerSource::Value => {
                if self.walker.count() == 0 {
                    return false;
                }
                match self.walker.peek(constants) {
                    Some(reading) => reading.value,
                    None => return false,
                }
            }
        };
        match op {
            TriggerOp::Gt => value > reference,
            TriggerOp::Lt => value < reference,
            TriggerOp::Ge => value >= reference,
            TriggerOp::Le => value <= reference,
            TriggerOp::Eq => value == reference,
        }
    }
}

impl Node {
    fn new(descriptor: NodeDescriptor) -> Node {
        let mut inputs = vec![descriptor.input_a()];
        inputs.extend(descriptor.input_b());
        let inputs = inputs
            .into_iter()
            .map(|input| Input {
                selector: input.selector,
                trigger: input.trigger,
                walker: Walker::for_selector(input.selector),
            })
            .collect();
        Node { descriptor, inputs }
    }

    /// A root node reads a graph input stream.
    fn is_root(&self) -> bool {
        self.inputs
            .iter()
            .any(|i| i.selector.kind() == Ok(StreamType::Input))
    }

    fn reads(&self, stream: DataStream) -> bool {
        self.inputs.iter().any(|i| i.selector.matches(stream))
    }

    fn triggered(&self, constants: &BTreeMap<u16, u32>) -> bool {
        let a = self.inputs.first().is_some_and(|i| i.triggered(constants));
        // A missing second input counts as always triggered, as in iotile-sensorgraph.
        let b = self.inputs.get(1).is_none_or(|i| i.triggered(constants));
        match self.descriptor.combiner() {
            Combiner::And => a && b,
            Combiner::Or => a || b,
        }
    }

    fn skip_all(&mut self) {
        for input in &mut self.inputs {
            input.walker.skip_all();
        }
    }
}

/// What running a node asks the model to do besides storing its outputs.
enum SideEffect {
    None,
    Mark(u32),
    Rpc { address: u8, rpc_id: u16 },
}

impl Graph {
    /// Runs a node's processor over its inputs; returns output values and what else to do.
    fn process(&mut self, index: usize) -> (Vec<u32>, SideEffect) {
        let constants = &self.constants;
        let Some(node) = self.nodes.get_mut(index) else {
            return (Vec::new(), SideEffect::None);
        };
        let processor = node.descriptor.processor();
        let (first, rest) = node.inputs.split_at_mut(1);
        let a = &mut first[0].walker;
        let skip_rest = |rest: &mut [Input]| rest.iter_mut().for_each(|i| i.walker.skip_all());
        let drain = |a: &mut Walker| {
            let mut all = Vec::new();
            while a.count() > 0 {
                match a.pop(constants) {
                    Some(r) => all.push(r.value),
                    None => break,
                }
                if a.is_constant() {
                    break;
                }
            }
            all
        };
        let result = match processor {
            Processor::CopyLatestA => {
                let all = drain(a);
                skip_rest(rest);
                all.last().map(|v| vec![*v]).unwrap_or_default()
            }
            Processor::CopyAllA => {
                let all = drain(a);
                skip_rest(rest);
                all
            }
            Processor::AverageA => {
                let all = drain(a);
                skip_rest(rest);
                if all.is_empty() {
                    Vec::new()
                } else {
                    let sum: u64 = all.iter().map(|v| u64::from(*v)).sum();
                    vec![(sum / all.len() as u64) as u32]
                }
            }
            Processor::SumA => {
                let all = drain(a);
                skip_rest(rest);
                if all.is_empty() {
                    Vec::new()
                } else {
                    vec![all.iter().fold(0u32, |s, v| s.wrapping_add(*v))]
                }
            }
            Processor::CopyCountA => {
                let count = a.count();
                a.skip_all();
                skip_rest(rest);
                vec![count]
            }
            Processor::TriggerStreamer => {
                let b = rest.first_mut().and_then(|i| i.walker.pop(constants));
                a.skip_all();
                skip_rest(rest);
                return match b {
                    Some(reading) => (vec![0], SideEffect::Mark(reading.value)),
                    None => (Vec::new(), SideEffect::None),
                };
            }
            Processor::CallRpc => {
                let b = rest.first_mut().and_then(|i| i.walker.pop(constants));
                a.skip_all();
                skip_rest(rest);
                return match b {
                    Some(reading) => (
                        Vec::new(),
                        SideEffect::Rpc {
                            address: (reading.value >> 16) as u8,
                            rpc_id: reading.value as u16,
                        },
                    ),
                    None => (Vec::new(), SideEffect::None),
                };
            }
            Processor::SubtractAFromB => {
                let first = a.pop(constants);
                let second = rest.first_mut().and_then(|i| i.walker.pop(constants));
                match (first, second) {
                    (Some(a), Some(b)) => vec![b.value.wrapping_sub(a.value)],
                    _ => Vec::new(),
                }
            }
        };
        (result, SideEffect::None)
    }
}

impl PodModel {
    /// Loads the persisted graph into RAM (at boot). No persisted graph: empty and offline.
    pub(super) fn load_graph(&mut self) {
        self.ram.graph = Graph::default();
        self.ram.streaming.streamers.clear();
        let Some(persisted) = self.flash.graph.clone() else {
            return;
        };
        for (stream, value) in &persisted.constants {
            self.ram.graph.constants.insert(*stream, *value);
        }
        for bytes in &persisted.nodes {
            let _ = self.add_node(bytes);
        }
        for bytes in &persisted.streamers {
            let _ = self.add_streamer(bytes);
        }
        self.ram.graph.online = true;
    }

    /// RPC `0x2003`.
    pub(super) fn add_node(&mut self, bytes: &[u8]) -> u32 {
        let Ok(descriptor) = NodeDescriptor::decode(bytes) else {
            return errors::INVALID_NODE_STREAM;
        };
        if self.ram.graph.nodes.len() >= MAX_NODES {
            return errors::NO_NODE_SPACE_AVAILABLE;
        }
        let node = Node::new(descriptor);
        if node.is_root()
            && self.ram.graph.nodes.iter().filter(|n| n.is_root()).count() >= MAX_ROOT_NODES
        {
            return errors::TOO_MANY_ROOT_NODES;
        }
        self.ram.graph.nodes.push(node);
        0
    }

    /// RPC `0x200E`: what loads at every reset from now on.
    pub(super) fn persist_graph(&mut self) {
        self.flash.graph = Some(PersistedGraph {
            nodes: self
                .ram
                .graph
                .nodes
                .iter()
                .map(|n| n.descriptor.to_bytes())
                .collect(),
            streamers: self
                .ram
                .streaming
                .streamers
                .iter()
                .map(|s| s.descriptor.to_bytes())
                .collect(),
            constants: self
                .ram
                .graph
                .constants
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect(),
        });
    }

    /// RPC `0x200D`: clears the running and persisted graph and the stored acks.
    pub(super) fn reset_graph(&mut self) {
        self.abort_streaming();
        let online = self.ram.graph.online;
        self.ram.graph.nodes.clear();
        self.ram.graph.constants.clear();
        self.ram.graph.marked.clear();
        self.ram.graph.online = online;
        self.ram.streaming.streamers.clear();
        self.flash.graph = None;
        self.flash.acks.clear();
    }

    /// Stores a reading in `stream`: stored streams get the next id (making room first),
    /// constants change value, virtual streams keep it as their latest. Node inputs and
    /// streamers reading the stream see it.
    pub(super) fn store_reading(
        &mut self,
        stream: u16,
        raw_time: u32,
        value: u32,
    ) -> Result<Option<Reading>, u32> {
        let Ok(data_stream) = DataStream::from_code(stream) else {
            return Err(codes::UNKNOWN_ERROR);
        };
        let mut reading = Reading {
            stream,
            reading_id: 0,
            raw_time,
            value,
        };
        let stored = match Area::of_stream(stream) {
            Some(area) => {
                self.make_room(area)?;
                reading.reading_id = self.flash.log.allocate_id();
                self.flash.log.append(area, reading);
                true
            }
            None => {
                if data_stream.kind == StreamType::Constant {
                    self.ram.graph.constants.insert(stream, value);
                }
                false
            }
        };
        for node in &mut self.ram.graph.nodes {
            for input in &mut node.inputs {
                if input.selector.matches(data_stream) {
                    input.walker.push(reading);
                }
            }
        }
        self.ram.graph.last_values.insert(stream, reading);
        self.note_realtime(data_stream, reading);
        self.touch();
        Ok(stored.then_some(reading))
    }

    /// Presents a graph input: queued and processed unless the graph is offline.
    pub(super) fn present_input(&mut self, stream: u16, value: u32) {
        if !self.ram.graph.online {
            return;
        }
        let reading = Reading {
            stream,
            reading_id: 0,
            raw_time: self.current_time(),
            value,
        };
        self.ram.graph.pending.push_back(reading);
        if self.ram.graph.processing {
            return;
        }
        self.ram.graph.processing = true;
        while let Some(input) = self.ram.graph.pending.pop_front() {
            self.run_input(input);
        }
        self.ram.graph.processing = false;
        self.process_streamers();
    }

    fn run_input(&mut self, input: Reading) {
        let _ = self.store_reading(input.stream, input.raw_time, input.value);
        if let Some(copy) = DataStream::from_code(input.stream)
            .ok()
            .and_then(DataStream::important_copy)
        {
            let _ = self.store_reading(copy.code(), input.raw_time, input.value);
        }
        let mut to_check: VecDeque<usize> = (0..self.ram.graph.nodes.len())
            .filter(|i| self.ram.graph.nodes[*i].is_root())
            .collect();
        let mut evaluations = 0;
        while let Some(index) = to_check.pop_front() {
            evaluations += 1;
            if evaluations > MAX_EVALUATIONS {
                break;
            }
            let graph = &self.ram.graph;
            if !graph.nodes[index].triggered(&graph.constants) {
                continue;
            }
            let (mut values, effect) = self.ram.graph.process(index);
            match effect {
                SideEffect::None => {}
                SideEffect::Mark(streamer) => {
                    if (streamer as usize) < self.ram.streaming.streamers.len() {
                        self.ram.graph.marked.insert(streamer as u8);
                    } else {
                        values.clear();
                    }
                }
                SideEffect::Rpc { address, rpc_id } => {
                    let response = self.dispatch_rpc(address, rpc_id, &[]);
                    if let RpcOutcome::Ok(payload) = response.outcome() {
                        if let Some(word) = payload.get(..4) {
                            values.push(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
                        }
                    }
                }
            }
            if values.is_empty() {
                continue;
            }
            let output = self.ram.graph.nodes[index].descriptor.output();
            for value in values {
                let _ = self.store_reading(output.code(), input.raw_time, value);
            }
            for (i, node) in self.ram.graph.nodes.iter().enumerate() {
                if node.reads(output) {
                    to_check.push_back(i);
                }
            }
        }
    }

    /// `0x200C`: every node input forgets what it held.
    pub(super) fn skip_all_inputs(&mut self) {
        for node in &mut self.ram.graph.nodes {
            node.skip_all();
        }
    }

    /// Whether any node reads this virtual stream (`0x200B` needs an allocated walker).
    pub(super) fn stream_allocated(&self, stream: DataStream) -> bool {
        self.ram.graph.nodes.iter().any(|n| n.reads(stream))
            || self.ram.graph.constants.contains_key(&stream.code())
    }
}
