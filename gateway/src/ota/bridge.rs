//! The POD side of an update: the remote bridge RPCs (`0x2100`–`0x2105`, spec 3.8), the
//! identity RPC `0x1008`, and the controller reset `0x0001`, over any [`Connection`].

use std::time::Duration;

use sync_protocol::ota::LiveVersions;

use crate::transport::{Connection, RpcAnswer, TransportError, CONTROLLER};

const BEGIN: u16 = 0x2100;
const CHUNK: u16 = 0x2101;
const END: u16 = 0x2102;
const TRIGGER: u16 = 0x2103;
const STATUS: u16 = 0x2104;
const CLEAR: u16 = 0x2105;
const IDENTITY: u16 = 0x1008;
const RESET: u16 = 0x0001;
/// A busy tile is asked again after this wait, a few times.
const BUSY_BACKOFF: Duration = Duration::from_millis(50);
const BUSY_RETRIES: usize = 5;

/// Remote bridge states as `0x2104` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeState {
    Idle,
    Waiting,
    Receiving,
    Received,
    Validated,
    Executing,
    Unknown(u32),
}

impl BridgeState {
    fn from_word(word: u32) -> BridgeState {
        match word {
            0 => BridgeState::Idle,
            1 => BridgeState::Waiting,
            2 => BridgeState::Receiving,
            3 => BridgeState::Received,
            4 => BridgeState::Validated,
            5 => BridgeState::Executing,
            other => BridgeState::Unknown(other),
        }
    }
}

/// What went wrong talking to the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("RPC {rpc_id:#06x} answered {answer:?}")]
    Rpc { rpc_id: u16, answer: RpcAnswer },
    #[error("RPC {rpc_id:#06x} returned error {code:#x}")]
    Code { rpc_id: u16, code: u32 },
    #[error("RPC {rpc_id:#06x} answered {len} bytes, expected {expected}")]
    Short {
        rpc_id: u16,
        len: usize,
        expected: usize,
    },
}

impl BridgeError {
    /// The link went away (the POD reset, or walked out of range).
    pub fn is_link_lost(&self) -> bool {
        matches!(
            self,
            BridgeError::Transport(TransportError::Disconnected | TransportError::Timeout(..))
        )
    }
}

/// Calls a controller RPC, asking a busy tile again a few times.
async fn call<C: Connection>(
    c: &mut C,
    rpc_id: u16,
    payload: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, BridgeError> {
    let mut busy = 0;
    loop {
        match c.rpc(CONTROLLER, rpc_id, payload, timeout).await? {
            RpcAnswer::Ok(answer) => return Ok(answer),
            RpcAnswer::Busy if busy < BUSY_RETRIES => {
                busy += 1;
                tokio::time::sleep(BUSY_BACKOFF).await;
            }
            answer => return Err(BridgeError::Rpc { rpc_id, answer }),
        }
    }
}

fn word(rpc_id: u16, answer: &[u8], at: usize) -> Result<u32, BridgeError> {
    answer
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(BridgeError::Short {
            rpc_id,
            len: answer.len(),
            expected: at + 4,
        })
}

/// An RPC whose answer is a 4-byte error code that must be 0.
async fn checked<C: Connection>(
    c: &mut C,
    rpc_id: u16,
    payload: &[u8],
    timeout: Duration,
) -> Result<(), BridgeError> {
    let answer = call(c, rpc_id, payload, timeout).await?;
    match word(rpc_id, &answer, 0)? {
        0 => Ok(()),
        code => Err(BridgeError::Code { rpc_id, code }),
    }
}

/// `(state, error)` from `0x2104`.
pub async fn status<C: Connection>(
    c: &mut C,
    timeout: Duration,
) -> Result<(BridgeState, u32), BridgeError> {
    let answer = call(c, STATUS, &[], timeout).await?;
    Ok((
        BridgeState::from_word(word(STATUS, &answer, 0)?),
        word(STATUS, &answer, 4)?,
    ))
}

/// Drops a partial script the bridge holds (`0x2105`).
pub async fn clear<C: Connection>(c: &mut C, timeout: Duration) -> Result<(), BridgeError> {
    checked(c, CLEAR, &[], timeout).await
}

/// How many script bytes go over the high-speed channel between two progress reports: a
/// whole number of 20-byte writes, so the writes on the air are the same as in one go.
const SENT_STEP: usize = 8 * sync_protocol::rpc::MAX_PAYLOAD;

/// Sends the whole script between `0x2100` and `0x2102`: over the high-speed channel when
/// the POD has one, else as `0x2101` chunks of at most 20 bytes. `sent` is told how many
/// bytes the POD has taken so far, as they go. Returns how it went.
pub async fn send<C: Connection>(
    c: &mut C,
    script: &[u8],
    timeout: Duration,
    sent: &mut (dyn FnMut(usize) + Send),
) -> Result<&'static str, BridgeError> {
    checked(c, BEGIN, &[], timeout).await?;
    let channel = c.has_script_channel();
    let (step, how) = if channel {
        (SENT_STEP, "the high-speed channel")
    } else {
        (sync_protocol::rpc::MAX_PAYLOAD, "RPC chunks")
    };
    let mut done = 0;
    for piece in script.chunks(step) {
        if channel {
            c.send_script(piece).await?;
        } else {
            checked(c, CHUNK, piece, timeout).await?;
        }
        done += piece.len();
        sent(done);
    }
    checked(c, END, &[], timeout).await?;
    Ok(how)
}

/// `0x2103`: validate, then run.
pub async fn trigger<C: Connection>(c: &mut C, timeout: Duration) -> Result<(), BridgeError> {
    checked(c, TRIGGER, &[], timeout).await
}

/// The POD's OS and app tags and versions (`0x1008`).
pub async fn versions<C: Connection>(
    c: &mut C,
    timeout: Duration,
) -> Result<LiveVersions, BridgeError> {
    let answer = call(c, IDENTITY, &[], timeout).await?;
    Ok(LiveVersions::from_words(
        word(IDENTITY, &answer, 12)?,
        word(IDENTITY, &answer, 16)?,
    ))
}

/// Resets the controller (`0x0001`). The POD drops the link as it resets, so a lost link
/// is the expected answer.
pub async fn reset<C: Connection>(c: &mut C, timeout: Duration) -> Result<(), BridgeError> {
    match c.rpc(CONTROLLER, RESET, &[], timeout).await {
        Ok(_) | Err(TransportError::Disconnected) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Words for a bridge error code (spec 3.8 and the POD's documented codes).
pub fn describe(code: u32) -> String {
    let what = match code {
        3 => "script larger than the POD's buffer",
        17 => "bad script length",
        22 => "bad script magic",
        23 => "bad script hash",
        0x8005_8001 => "a record the POD cannot parse",
        0x8005_8002 => "an RPC answered with the wrong size",
        0x8005_8003 => "a record type the POD does not know",
        0x8005_8004 => "a tile slot that cannot exist",
        c if c & 0xFFFF_0000 == 0x8005_0000 => "an RPC of the script did not succeed",
        _ => "an error-checking RPC of the script failed",
    };
    format!("{code:#x} ({what})")
}
