//! Why a script could not be read, and why a record could not be built.

/// A script that cannot be decoded, with the byte offset (from the start of the script) of
/// the header field or record where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte offset {offset}: {kind}")]
pub struct ScriptError {
    pub offset: usize,
    pub kind: ScriptErrorKind,
}

impl ScriptError {
    /// Callers report a bad hash as "invalid" (the bytes were altered) rather than
    /// "unparsable", so it gets its own check.
    pub fn is_hash_mismatch(&self) -> bool {
        self.kind.is_hash_mismatch()
    }
}

/// What is wrong with a script, and what was expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptErrorKind {
    #[error("the script is {len} bytes long, shorter than its 24-byte header")]
    TooShort { len: usize },
    #[error("the script magic is 0x{found:08X}, expected 0x1F2E3D4C")]
    BadMagic { found: u32 },
    #[error("the header says the script is {declared} bytes long but it is {actual} bytes")]
    LengthMismatch { declared: u32, actual: usize },
    #[error(
        "the embedded hash does not match the SHA-256 of the script: it was corrupted or altered"
    )]
    HashMismatch,
    #[error(
        "the script ended with a partial record: {remaining} bytes left, a record header needs 8"
    )]
    PartialRecord { remaining: usize },
    #[error("record length {length} is shorter than the 8-byte record header")]
    RecordLengthTooSmall { length: u32 },
    #[error("record length {length} runs past the end of the script ({remaining} bytes left)")]
    RecordPastEnd { length: u32, remaining: usize },
    #[error("the reserved bytes of the record header are {found:02x?}, expected zeros")]
    ReservedNotZero { found: [u8; 3] },
    #[error("{what} is {found} bytes long, expected exactly {expected}")]
    WrongLength {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{what} is {found} bytes long, expected at least {min}")]
    Truncated {
        what: &'static str,
        min: usize,
        found: usize,
    },
    #[error("{what} must be empty, found {len} bytes")]
    NotEmpty { what: &'static str, len: usize },
    #[error("{what} declares a {declared}-byte image but carries {actual} bytes")]
    ImageLengthMismatch {
        what: &'static str,
        declared: u32,
        actual: usize,
    },
    #[error("the ReflashTile padding bytes are {found:02x?}, expected zeros")]
    PaddingNotZero { found: [u8; 3] },
    #[error(
        "a ReflashTile record cannot target the controller (that is a ReflashController record)"
    )]
    ReflashTargetsController,
    #[error("tile target match operation {match_op} is not supported (expected 1 = by slot or 2 = controller)")]
    UnsupportedTargetMatch { match_op: u8 },
    #[error("slot {slot} is out of range (expected 1 to 31)")]
    SlotOutOfRange { slot: u8 },
    #[error("an error-checking RPC record must expect a fixed 4-byte response (byte 0x08), found 0x{found:02X}")]
    NotErrorCheckingResponse { found: u8 },
    #[error("SetDeviceTag (RPC 0x100B) updates neither the OS nor the app tag: both flags are 0")]
    NoTagUpdated,
    #[error("ClearConfigVariables (RPC 0x2A0C) must go to the controller at address 8, found address {address}")]
    ClearConfigNotController { address: u8 },
    #[error("{what} 0x{code:04X} has stream type {}, expected 0 to 5", code >> 12)]
    UnknownStreamType { what: &'static str, code: u16 },
    #[error("the node descriptor has no first input (selector 0xFFFF)")]
    NodeMissingInputA,
    #[error(
        "node input selector `{selector}` is a wildcard; a graph node input must name one stream"
    )]
    NodeWildcardInput { selector: String },
    #[error("node trigger byte 0x{found:02X} has comparison {}, expected 0 to 5", found >> 1)]
    BadTrigger { found: u8 },
    #[error("node trigger combiner is {found}, expected 0 (&&) or 1 (||)")]
    BadCombiner { found: u8 },
    #[error("node processor is {found}, expected 0 to 7")]
    UnknownProcessor { found: u8 },
    #[error(
        "streamer trigger is 0x{found:02X}, expected 0 (manual), 1 (automatic) or 0x80 + streamer"
    )]
    BadStreamerTrigger { found: u8 },
    #[error("streamer report format is {found}, expected 0 to 3")]
    BadReportFormat { found: u8 },
    #[error(
        "streamer report type is {found}, expected 1 (broadcast), 2 (telegram) or 4 (synchronous)"
    )]
    BadReportType { found: u8 },
    #[error(
        "the config group is broken: the record at byte {at} (RPC 0x{rpc_id:04X} at address {address}) \
         is neither a push (0x2A08) nor an end (0x2A09) at address 8"
    )]
    ConfigGroupBroken { at: usize, rpc_id: u16, address: u8 },
    #[error("the config group is broken: the record at byte {at} has type {record_type}, expected 4 (error-checking RPC)")]
    ConfigGroupWrongType { at: usize, record_type: u8 },
    #[error(
        "the config group begun by RPC 0x2A07 has no end RPC 0x2A09 before the end of the script"
    )]
    ConfigGroupUnterminated,
}

impl ScriptErrorKind {
    pub fn is_hash_mismatch(&self) -> bool {
        matches!(self, ScriptErrorKind::HashMismatch)
    }

    pub(crate) fn at(self, offset: usize) -> ScriptError {
        ScriptError { offset, kind: self }
    }
}

/// Why a record could not be built from the given values: it would encode to bytes the
/// device or the reference tools refuse, or that decode as a different record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("RPC payload is {len} bytes, at most 20 fit in an RPC")]
    PayloadTooLong { len: usize },
    #[error("RPC 0x{rpc_id:04X} at address {address} is read back as a sensor-graph or tag record; use its own builder")]
    ReservedRpc { rpc_id: u16, address: u8 },
    #[error("a fixed response size must be below 128 bytes, got {size}")]
    ResponseTooLarge { size: u8 },
    #[error("set_device_tag needs an OS tag, an app tag or both")]
    NoTagUpdated,
    #[error("tag {tag} v{major}.{minor} does not fit (tag < 2^20, major and minor < 64)")]
    TagOutOfRange { tag: u32, major: u8, minor: u8 },
    #[error("slot {slot} is out of range (expected 1 to 31)")]
    SlotOutOfRange { slot: u8 },
    #[error("image of {len} bytes is too large for a script record")]
    ImageTooLarge { len: usize },
    #[error("selector `{selector}` cannot be used here: {why}")]
    BadSelector { selector: String, why: &'static str },
    #[error("streamer index {index} does not fit in 7 bits")]
    StreamerIndexTooLarge { index: u8 },
}
