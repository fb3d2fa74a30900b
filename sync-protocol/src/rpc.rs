//! RPCs: how a host calls a tile on a POD, and the status it gets back.
//!
//! Every RPC targets `(address, rpc id)`: the controller is address 8, peripheral tiles
//! `10 + slot`. Payload and response are each at most 20 bytes. Over BLE a call is a 5-byte
//! header `[len, 0, id low, id high, address]` (payload written first, padded to 20 bytes)
//! and the answer a 4-byte header `[status, 0, 0, len]` followed by the payload.
//!
//! Status byte: `0x00` busy (retry), `0x02` no such RPC, `0x03` handler failure, `0x40`/`0xC0`
//! success without/with payload (bit 7 = payload follows), `0x40 + c` application status `c`,
//! `0xFF` no such tile or no answer (also what a reset or a dropped link looks like).

use std::fmt;

/// The controller tile's address.
pub const CONTROLLER: u8 = 8;
/// Largest payload of a call or an answer.
pub const MAX_PAYLOAD: usize = 20;

/// Error codes carried inside responses (`subsystem << 16 | code`) that hosts act on.
pub mod codes {
    /// Acknowledgement not above the stored one: harmless.
    pub const OLD_ACKNOWLEDGE_UPDATE: u32 = 0x8003_801E;
    /// Trigger with nothing new to send: harmless.
    pub const STREAMER_HAS_NO_NEW_DATA: u32 = 0x8003_801F;
    pub const STREAM_ALREADY_IN_PROGRESS: u32 = 0x8003_8011;
    pub const STREAMER_NOT_ALLOCATED: u32 = 0x8003_8018;
    pub const NO_MORE_STREAMER_RESOURCES: u32 = 0x8003_8013;
    /// Sensor log: no more readings (also a seek past the end).
    pub const NO_MORE_READINGS: u32 = 0x8002_8000;
    pub const ID_FOUND_FOR_ANOTHER_STREAM: u32 = 0x8002_8007;
    /// Sensor log full with fill-stop configured.
    pub const RING_BUFFER_FULL: u32 = 0x8002_8008;
    pub const INPUT_TOO_LONG: u32 = 3;
    pub const STATE_CHANGE_AT_INVALID_TIME: u32 = 9;
    pub const UNIMPLEMENTED: u32 = 11;
    pub const UNKNOWN_ERROR: u32 = 12;
    pub const WRONG_INPUT_SIZE: u32 = 17;
    pub const BAD_MAGIC: u32 = 22;
    pub const BAD_HASH: u32 = 23;
}

/// An RPC call could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("an RPC payload is at most 20 bytes, got {0}")]
    PayloadTooLong(usize),
    #[error("an RPC header is {expected} bytes, got {found}")]
    BadHeader { expected: usize, found: usize },
    #[error("the header declares {declared} payload bytes but {available} arrived")]
    ShortPayload { declared: usize, available: usize },
}

/// A call to one RPC of one tile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpcRequest {
    pub address: u8,
    pub rpc_id: u16,
    payload: Vec<u8>,
}

impl RpcRequest {
    pub const HEADER_LEN: usize = 5;

    pub fn new(address: u8, rpc_id: u16, payload: impl Into<Vec<u8>>) -> Result<Self, RpcError> {
        let payload = payload.into();
        if payload.len() > MAX_PAYLOAD {
            return Err(RpcError::PayloadTooLong(payload.len()));
        }
        Ok(RpcRequest {
            address,
            rpc_id,
            payload,
        })
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The Send Header bytes: `[len, 0, id low, id high, address]`.
    pub fn header(&self) -> [u8; Self::HEADER_LEN] {
        let [low, high] = self.rpc_id.to_le_bytes();
        // The constructor keeps the length ≤ 20.
        [self.payload.len() as u8, 0, low, high, self.address]
    }

    /// The Send Payload bytes, zero-padded to 20 as hosts write them.
    pub fn padded_payload(&self) -> [u8; MAX_PAYLOAD] {
        let mut out = [0u8; MAX_PAYLOAD];
        out[..self.payload.len()].copy_from_slice(&self.payload);
        out
    }

    /// Rebuilds a call from a Send Header and the last Send Payload written (which may be
    /// padded; the header's length is what counts).
    pub fn from_header(header: &[u8], payload: &[u8]) -> Result<Self, RpcError> {
        let &[len, _, low, high, address] = header else {
            return Err(RpcError::BadHeader {
                expected: Self::HEADER_LEN,
                found: header.len(),
            });
        };
        let len = usize::from(len);
        if len > MAX_PAYLOAD {
            return Err(RpcError::PayloadTooLong(len));
        }
        let payload = payload.get(..len).ok_or(RpcError::ShortPayload {
            declared: len,
            available: payload.len(),
        })?;
        RpcRequest::new(address, u16::from_le_bytes([low, high]), payload)
    }
}

/// What an answer means to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RpcOutcome {
    /// Success, with the response payload (possibly empty).
    Ok(Vec<u8>),
    /// The tile is busy: retry after a short wait.
    Busy,
    /// The tile has no such RPC.
    NotFound,
    /// The tile did not answer (no such tile, a reset, or the link dropped).
    TileNotFound,
    /// The handler returned an application status (3 = failure inside the handler).
    AppError(u8),
}

/// An answer as it travels: status byte and payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpcResponse {
    pub status: u8,
    payload: Vec<u8>,
}

impl RpcResponse {
    pub const HEADER_LEN: usize = 4;
    const HAS_PAYLOAD: u8 = 0x80;
    const APP_RUNNING: u8 = 0x40;

    /// Success; payloads longer than 20 bytes are cut (a handler bug, not input).
    pub fn ok(payload: impl Into<Vec<u8>>) -> Self {
        let mut payload = payload.into();
        payload.truncate(MAX_PAYLOAD);
        let status = if payload.is_empty() {
            Self::APP_RUNNING
        } else {
            Self::APP_RUNNING | Self::HAS_PAYLOAD
        };
        RpcResponse { status, payload }
    }

    /// Success carrying one little-endian u32, the usual error-code answer.
    pub fn code(code: u32) -> Self {
        Self::ok(code.to_le_bytes().to_vec())
    }

    pub fn busy() -> Self {
        RpcResponse {
            status: 0x00,
            payload: Vec::new(),
        }
    }

    pub fn not_found() -> Self {
        RpcResponse {
            status: 0x02,
            payload: Vec::new(),
        }
    }

    pub fn tile_not_found() -> Self {
        RpcResponse {
            status: 0xFF,
            payload: Vec::new(),
        }
    }

    /// Application status `code` (1..=63).
    pub fn app_error(code: u8) -> Self {
        RpcResponse {
            status: Self::APP_RUNNING | (code & 0x3F),
            payload: Vec::new(),
        }
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The Receive Header bytes: `[status, 0, 0, len]`.
    pub fn header(&self) -> [u8; Self::HEADER_LEN] {
        [self.status, 0, 0, self.payload.len() as u8]
    }

    /// Rebuilds an answer from a Receive Header and the Receive Payload that followed it.
    pub fn from_header(header: &[u8], payload: &[u8]) -> Result<Self, RpcError> {
        let &[status, _, _, len] = header else {
            return Err(RpcError::BadHeader {
                expected: Self::HEADER_LEN,
                found: header.len(),
            });
        };
        let len = usize::from(len);
        if len > MAX_PAYLOAD {
            return Err(RpcError::PayloadTooLong(len));
        }
        let payload = if status & Self::HAS_PAYLOAD != 0 && status != 0xFF {
            payload
                .get(..len)
                .ok_or(RpcError::ShortPayload {
                    declared: len,
                    available: payload.len(),
                })?
                .to_vec()
        } else {
            Vec::new()
        };
        Ok(RpcResponse { status, payload })
    }

    /// Whether a Receive Payload notification follows the header.
    pub fn expects_payload(header: &[u8; Self::HEADER_LEN]) -> bool {
        header[0] != 0xFF && header[0] & Self::HAS_PAYLOAD != 0 && header[3] > 0
    }

    pub fn outcome(&self) -> RpcOutcome {
        if self.status == 0xFF {
            return RpcOutcome::TileNotFound;
        }
        match self.status & 0x3F {
            0 if self.status & Self::APP_RUNNING == 0 => RpcOutcome::Busy,
            0 => RpcOutcome::Ok(self.payload.clone()),
            2 => RpcOutcome::NotFound,
            code => RpcOutcome::AppError(code),
        }
    }
}

impl fmt::Display for RpcOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcOutcome::Ok(payload) => write!(f, "ok ({} bytes)", payload.len()),
            RpcOutcome::Busy => f.write_str("busy"),
            RpcOutcome::NotFound => f.write_str("no such RPC"),
            RpcOutcome::TileNotFound => f.write_str("no answer from the tile"),
            RpcOutcome::AppError(code) => write!(f, "application status {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_frames_round_trip() {
        let call = RpcRequest::new(CONTROLLER, 0x200F, vec![1, 0, 0, 0, 7, 0, 0, 0]).expect("fits");
        assert_eq!(call.header(), [8, 0, 0x0F, 0x20, 8]);
        let padded = call.padded_payload();
        assert_eq!(RpcRequest::from_header(&call.header(), &padded), Ok(call));
        assert!(RpcRequest::new(8, 1, vec![0; 21]).is_err());
        assert!(RpcRequest::from_header(&[21, 0, 0, 0, 8], &[0; 21]).is_err());
        assert!(RpcRequest::from_header(&[4, 0, 0, 0, 8], &[0; 2]).is_err());
        assert!(RpcRequest::from_header(&[0, 0, 0], &[]).is_err());
    }

    #[test]
    fn statuses_mean_what_coretools_says() {
        assert_eq!(RpcResponse::ok(vec![1, 2]).status, 0xC0);
        assert_eq!(RpcResponse::ok(Vec::new()).status, 0x40);
        assert_eq!(
            RpcResponse::ok(vec![1, 2]).outcome(),
            RpcOutcome::Ok(vec![1, 2])
        );
        assert_eq!(RpcResponse::busy().outcome(), RpcOutcome::Busy);
        assert_eq!(RpcResponse::not_found().outcome(), RpcOutcome::NotFound);
        assert_eq!(
            RpcResponse::tile_not_found().outcome(),
            RpcOutcome::TileNotFound
        );
        assert_eq!(RpcResponse::app_error(5).outcome(), RpcOutcome::AppError(5));
        assert_eq!(
            RpcResponse {
                status: 0x03,
                payload: Vec::new()
            }
            .outcome(),
            RpcOutcome::AppError(3)
        );
        let answer = RpcResponse::code(codes::OLD_ACKNOWLEDGE_UPDATE);
        let mut padded = answer.payload().to_vec();
        padded.resize(20, 0);
        assert_eq!(
            RpcResponse::from_header(&answer.header(), &padded),
            Ok(answer.clone())
        );
        assert!(RpcResponse::expects_payload(&answer.header()));
        assert!(!RpcResponse::expects_payload(
            &RpcResponse::tile_not_found().header()
        ));
    }
}
