//! BGAPI result codes (the `u16 result` of responses and of event 4/1, and the `reason` of
//! event 3/4). The high byte is the error family: `0x01` BGAPI, `0x02` Bluetooth controller,
//! `0x03` security manager, `0x04` attribute protocol.

pub const SUCCESS: u16 = 0x0000;

pub const INVALID_PARAMETER: u16 = 0x0180;
/// The dongle is in the wrong state for the command (already scanning, nothing to stop,
/// a connect already pending).
pub const WRONG_STATE: u16 = 0x0181;
/// Out of memory; for writes and notifications it means the buffers are full: wait 20–100 ms
/// and send the same chunk again.
pub const OUT_OF_MEMORY: u16 = 0x0182;
pub const NOT_IMPLEMENTED: u16 = 0x0183;
pub const COMMAND_NOT_RECOGNIZED: u16 = 0x0184;
pub const TIMEOUT: u16 = 0x0185;
/// No such connection handle.
pub const NOT_CONNECTED: u16 = 0x0186;
pub const FLOW: u16 = 0x0187;
pub const USER_ATTRIBUTE: u16 = 0x0188;
pub const INVALID_LICENSE_KEY: u16 = 0x0189;
pub const COMMAND_TOO_LONG: u16 = 0x018A;
pub const OUT_OF_BONDS: u16 = 0x018B;

pub const AUTHENTICATION_FAILURE: u16 = 0x0205;
pub const PIN_OR_KEY_MISSING: u16 = 0x0206;
pub const MEMORY_CAPACITY_EXCEEDED: u16 = 0x0207;
pub const CONNECTION_TIMEOUT: u16 = 0x0208;
pub const CONNECTION_LIMIT_EXCEEDED: u16 = 0x0209;
pub const COMMAND_DISALLOWED: u16 = 0x020C;
pub const INVALID_COMMAND_PARAMETERS: u16 = 0x0212;
pub const REMOTE_USER_TERMINATED: u16 = 0x0213;
pub const LOCAL_HOST_TERMINATED: u16 = 0x0216;
pub const LL_RESPONSE_TIMEOUT: u16 = 0x0222;
pub const LL_INSTANT_PASSED: u16 = 0x0228;
pub const CONTROLLER_BUSY: u16 = 0x023A;
pub const UNACCEPTABLE_CONNECTION_INTERVAL: u16 = 0x023B;
pub const DIRECTED_ADVERTISING_TIMEOUT: u16 = 0x023C;
pub const MIC_FAILURE: u16 = 0x023D;
/// The link dropped while being set up; coretools retries the connect up to 4 times.
pub const CONNECTION_FAILED_TO_BE_ESTABLISHED: u16 = 0x023E;

pub const SM_PASSKEY_ENTRY_FAILED: u16 = 0x0301;
pub const SM_OOB_NOT_AVAILABLE: u16 = 0x0302;
pub const SM_AUTHENTICATION_REQUIREMENTS: u16 = 0x0303;
pub const SM_CONFIRM_VALUE_FAILED: u16 = 0x0304;
pub const SM_PAIRING_NOT_SUPPORTED: u16 = 0x0305;
pub const SM_ENCRYPTION_KEY_SIZE: u16 = 0x0306;
pub const SM_COMMAND_NOT_SUPPORTED: u16 = 0x0307;
pub const SM_UNSPECIFIED_REASON: u16 = 0x0308;
pub const SM_REPEATED_ATTEMPTS: u16 = 0x0309;
pub const SM_INVALID_PARAMETERS: u16 = 0x030A;

/// The handle does not exist; coretools' emulator also fails a write with it.
pub const ATT_INVALID_HANDLE: u16 = 0x0401;
pub const ATT_READ_NOT_PERMITTED: u16 = 0x0402;
pub const ATT_WRITE_NOT_PERMITTED: u16 = 0x0403;
pub const ATT_INVALID_PDU: u16 = 0x0404;
pub const ATT_INSUFFICIENT_AUTHENTICATION: u16 = 0x0405;
pub const ATT_REQUEST_NOT_SUPPORTED: u16 = 0x0406;
pub const ATT_INVALID_OFFSET: u16 = 0x0407;
pub const ATT_INSUFFICIENT_AUTHORIZATION: u16 = 0x0408;
pub const ATT_PREPARE_QUEUE_FULL: u16 = 0x0409;
pub const ATT_ATTRIBUTE_NOT_FOUND: u16 = 0x040A;
pub const ATT_ATTRIBUTE_NOT_LONG: u16 = 0x040B;
pub const ATT_INSUFFICIENT_ENCRYPTION_KEY_SIZE: u16 = 0x040C;
pub const ATT_INVALID_ATTRIBUTE_VALUE_LENGTH: u16 = 0x040D;
pub const ATT_UNLIKELY_ERROR: u16 = 0x040E;
pub const ATT_INSUFFICIENT_ENCRYPTION: u16 = 0x040F;
pub const ATT_UNSUPPORTED_GROUP_TYPE: u16 = 0x0410;
pub const ATT_INSUFFICIENT_RESOURCES: u16 = 0x0411;

/// A short English description of a result code, for logs.
pub fn result_text(code: u16) -> &'static str {
    match code {
        SUCCESS => "success",
        INVALID_PARAMETER => "invalid parameter",
        WRONG_STATE => "device in wrong state",
        OUT_OF_MEMORY => "out of memory (buffers full)",
        NOT_IMPLEMENTED => "feature not implemented",
        COMMAND_NOT_RECOGNIZED => "command not recognized",
        TIMEOUT => "timeout",
        NOT_CONNECTED => "not connected",
        FLOW => "flow control",
        USER_ATTRIBUTE => "user attribute",
        INVALID_LICENSE_KEY => "invalid license key",
        COMMAND_TOO_LONG => "command too long",
        OUT_OF_BONDS => "out of bonds",
        AUTHENTICATION_FAILURE => "authentication failure",
        PIN_OR_KEY_MISSING => "PIN or key missing",
        MEMORY_CAPACITY_EXCEEDED => "memory capacity exceeded",
        CONNECTION_TIMEOUT => "connection timeout",
        CONNECTION_LIMIT_EXCEEDED => "connection limit exceeded",
        COMMAND_DISALLOWED => "command disallowed",
        INVALID_COMMAND_PARAMETERS => "invalid command parameters",
        REMOTE_USER_TERMINATED => "remote user terminated connection",
        LOCAL_HOST_TERMINATED => "connection terminated by local host",
        LL_RESPONSE_TIMEOUT => "link layer response timeout",
        LL_INSTANT_PASSED => "link layer instant passed",
        CONTROLLER_BUSY => "controller busy",
        UNACCEPTABLE_CONNECTION_INTERVAL => "unacceptable connection interval",
        DIRECTED_ADVERTISING_TIMEOUT => "directed advertising timeout",
        MIC_FAILURE => "MIC failure",
        CONNECTION_FAILED_TO_BE_ESTABLISHED => "connection failed to be established",
        SM_PASSKEY_ENTRY_FAILED => "passkey entry failed",
        SM_OOB_NOT_AVAILABLE => "out-of-band data not available",
        SM_AUTHENTICATION_REQUIREMENTS => "authentication requirements not met",
        SM_CONFIRM_VALUE_FAILED => "confirm value failed",
        SM_PAIRING_NOT_SUPPORTED => "pairing not supported",
        SM_ENCRYPTION_KEY_SIZE => "encryption key size",
        SM_COMMAND_NOT_SUPPORTED => "security manager command not supported",
        SM_UNSPECIFIED_REASON => "pairing failed, unspecified reason",
        SM_REPEATED_ATTEMPTS => "repeated pairing attempts",
        SM_INVALID_PARAMETERS => "invalid pairing parameters",
        ATT_INVALID_HANDLE => "ATT: invalid handle",
        ATT_READ_NOT_PERMITTED => "ATT: read not permitted",
        ATT_WRITE_NOT_PERMITTED => "ATT: write not permitted",
        ATT_INVALID_PDU => "ATT: invalid PDU",
        ATT_INSUFFICIENT_AUTHENTICATION => "ATT: insufficient authentication",
        ATT_REQUEST_NOT_SUPPORTED => "ATT: request not supported",
        ATT_INVALID_OFFSET => "ATT: invalid offset",
        ATT_INSUFFICIENT_AUTHORIZATION => "ATT: insufficient authorization",
        ATT_PREPARE_QUEUE_FULL => "ATT: prepare queue full",
        ATT_ATTRIBUTE_NOT_FOUND => "ATT: attribute not found",
        ATT_ATTRIBUTE_NOT_LONG => "ATT: attribute not long",
        ATT_INSUFFICIENT_ENCRYPTION_KEY_SIZE => "ATT: insufficient encryption key size",
        ATT_INVALID_ATTRIBUTE_VALUE_LENGTH => "ATT: invalid attribute value length",
        ATT_UNLIKELY_ERROR => "ATT: unlikely error",
        ATT_INSUFFICIENT_ENCRYPTION => "ATT: insufficient encryption",
        ATT_UNSUPPORTED_GROUP_TYPE => "ATT: unsupported group type",
        ATT_INSUFFICIENT_RESOURCES => "ATT: insufficient resources",
        0x0480..=0x04FF => "ATT: application error",
        _ => "unknown result code",
    }
}
