//! The remote bridge (`0x2100`–`0x2105`) and the update-script runner.
//!
//! ```text
//! IDLE ─0x2100→ WAITING ─chunk→ RECEIVING ─0x2102→ RECEIVED ─0x2103→ VALIDATED ─service→
//! EXECUTING ─service × records→ IDLE (error 0, or the failing record's error)
//! ```
//!
//! `0x2103` checks the script header (length, magic, hash) and parses every record before any
//! runs; a bad script goes straight back to IDLE with its error. Records then run one per
//! [`PodModel::service`] call, each for real: RPC records call the POD's own RPC table
//! (error-checking ones need a 4-byte 0), ResetDevice resets and the script resumes at the
//! next record, reflash records install the image (remembered by its SHA-256) and restart.
//!
//! Errors (`0x2104` second word): 17 bad length, 22 bad magic, 23 bad hash, `0x80058001` a
//! record that does not parse, `0x8005xxss` an RPC that answered status `ss` (e.g.
//! `0x800500FF`: no such tile), the RPC's own non-zero error code for an error-checking
//! record, `0x80058002` a response of the wrong size, `0x80058003` an unknown record type,
//! `0x80058004` a tile slot that cannot exist, 3 a script larger than the buffer.

use sha2::{Digest, Sha256};
use sync_protocol::rpc::{codes, RpcOutcome, RpcResponse};
use sync_protocol::script::{Record, ScriptErrorKind, ScriptRpc, UpdateScript};

use super::rpc::{none, words, Answer};
use super::{PodModel, ResetCause};

/// The largest script the POD accepts.
pub const MAX_SCRIPT_LEN: usize = 16 << 20;

pub mod errors {
    pub const MALFORMED_RECORD: u32 = 0x8005_8001;
    pub const RESPONSE_SIZE_MISMATCH: u32 = 0x8005_8002;
    pub const UNSUPPORTED_RECORD: u32 = 0x8005_8003;
    pub const BAD_TILE_SLOT: u32 = 0x8005_8004;
    /// Or-ed with the status byte of an RPC that did not succeed.
    pub const RPC_STATUS: u32 = 0x8005_0000;
}

/// Remote bridge states as `0x2104` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BridgeStatus {
    #[default]
    Idle = 0,
    Waiting = 1,
    Receiving = 2,
    Received = 3,
    Validated = 4,
    Executing = 5,
}

#[derive(Default)]
pub(super) struct Bridge {
    status: BridgeStatus,
    error: u32,
    buffer: Vec<u8>,
    script: Vec<Record>,
    next: usize,
    /// SHA-256 (hex) of the script being run.
    sha256: String,
}

impl PodModel {
    pub(super) fn bridge_rpc(&mut self, rpc_id: u16, p: &[u8]) -> Answer {
        let bridge = &mut self.ram.bridge;
        let code = match rpc_id {
            0x2100 => {
                none(p)?;
                if matches!(
                    bridge.status,
                    BridgeStatus::Received | BridgeStatus::Validated | BridgeStatus::Executing
                ) {
                    codes::STATE_CHANGE_AT_INVALID_TIME
                } else {
                    *bridge = Bridge {
                        status: BridgeStatus::Waiting,
                        ..Bridge::default()
                    };
                    0
                }
            }
            0x2101 => self.append_script(p),
            0x2102 => {
                none(p)?;
                if matches!(
                    bridge.status,
                    BridgeStatus::Waiting | BridgeStatus::Receiving | BridgeStatus::Received
                ) {
                    bridge.status = BridgeStatus::Received;
                    0
                } else {
                    codes::STATE_CHANGE_AT_INVALID_TIME
                }
            }
            0x2103 => {
                none(p)?;
                if bridge.status == BridgeStatus::Received {
                    self.validate_script();
                    0
                } else {
                    codes::STATE_CHANGE_AT_INVALID_TIME
                }
            }
            0x2104 => {
                none(p)?;
                return Ok(words(&[bridge.status as u32, bridge.error]));
            }
            0x2105 => {
                none(p)?;
                *bridge = Bridge::default();
                0
            }
            _ => return Ok(RpcResponse::not_found()),
        };
        Ok(RpcResponse::code(code))
    }

    fn append_script(&mut self, bytes: &[u8]) -> u32 {
        let bridge = &mut self.ram.bridge;
        if !matches!(
            bridge.status,
            BridgeStatus::Waiting | BridgeStatus::Receiving
        ) {
            return codes::STATE_CHANGE_AT_INVALID_TIME;
        }
        if bridge.buffer.len() + bytes.len() > MAX_SCRIPT_LEN {
            bridge.error = codes::INPUT_TOO_LONG;
            return codes::INPUT_TOO_LONG;
        }
        bridge.buffer.extend_from_slice(bytes);
        bridge.status = BridgeStatus::Receiving;
        0
    }

    /// Script bytes from the high-speed channel (BLE characteristic `0x2006`). Accepted
    /// between `0x2100` and `0x2102`; returns whether they were.
    pub fn script_chunk(&mut self, bytes: &[u8]) -> bool {
        self.touch();
        self.append_script(bytes) == 0
    }

    fn validate_script(&mut self) {
        let bridge = &mut self.ram.bridge;
        let bytes = std::mem::take(&mut bridge.buffer);
        match UpdateScript::decode(&bytes) {
            Ok(script) => {
                bridge.sha256 = hex::encode(Sha256::digest(&bytes));
                bridge.script = script.records;
                bridge.next = 0;
                bridge.status = BridgeStatus::Validated;
                bridge.error = 0;
            }
            Err(error) => {
                bridge.status = BridgeStatus::Idle;
                bridge.error = match error.kind {
                    ScriptErrorKind::TooShort { .. } | ScriptErrorKind::LengthMismatch { .. } => {
                        codes::WRONG_INPUT_SIZE
                    }
                    ScriptErrorKind::BadMagic { .. } => codes::BAD_MAGIC,
                    ScriptErrorKind::HashMismatch => codes::BAD_HASH,
                    _ => errors::MALFORMED_RECORD,
                };
            }
        }
    }

    /// `(status, error)` as `0x2104` answers.
    pub fn bridge_status(&self) -> (BridgeStatus, u32) {
        (self.ram.bridge.status, self.ram.bridge.error)
    }

    /// Does one step of deferred work: a validated script starts executing, an executing one
    /// runs its next record (or finishes). Returns whether anything happened.
    pub fn service(&mut self) -> bool {
        match self.ram.bridge.status {
            BridgeStatus::Validated => {
                self.ram.bridge.status = BridgeStatus::Executing;
                self.touch();
                true
            }
            BridgeStatus::Executing => {
                self.run_next_record();
                self.touch();
                true
            }
            _ => false,
        }
    }

    /// Runs a triggered script to the end (for tests and tools without a background task).
    pub fn run_script(&mut self) -> (BridgeStatus, u32) {
        while self.service() {}
        self.bridge_status()
    }

    fn run_next_record(&mut self) {
        let bridge = &mut self.ram.bridge;
        let Some(record) = bridge.script.get(bridge.next).cloned() else {
            self.script_completed();
            return;
        };
        bridge.next += 1;
        let result = self.execute_record(&record);
        let bridge = &mut self.ram.bridge;
        if bridge.status != BridgeStatus::Executing {
            // A reset the script did not ask for (an RPC `0x0001`) dropped it.
            return;
        }
        match result {
            Err(error) => {
                *bridge = Bridge {
                    error,
                    ..Bridge::default()
                };
            }
            Ok(()) if bridge.next >= bridge.script.len() => self.script_completed(),
            Ok(()) => {}
        }
    }

    fn script_completed(&mut self) {
        let done = std::mem::take(&mut self.ram.bridge);
        self.flash.scripts_completed.push(done.sha256);
    }

    /// SHA-256 (hex) of every script that ran to its end without error, oldest first.
    pub fn scripts_completed(&self) -> &[String] {
        &self.flash.scripts_completed
    }

    fn execute_record(&mut self, record: &Record) -> Result<(), u32> {
        match record {
            Record::ResetDevice => {
                self.reset(ResetCause::Script);
                Ok(())
            }
            Record::ReflashController(r) => {
                self.install_controller_image("controller", r.offset, &r.image);
                self.reset(ResetCause::Firmware);
                Ok(())
            }
            Record::EnhancedReflashController(r) => {
                self.install_controller_image("enhanced controller", r.base_address, &r.image);
                self.reset(ResetCause::Firmware);
                Ok(())
            }
            Record::ReflashTile(r) => {
                let slot = r.target.reflash_slot().map_err(|_| errors::BAD_TILE_SLOT)?;
                if !(1..=31).contains(&slot) {
                    return Err(errors::BAD_TILE_SLOT);
                }
                self.install_tile_image(slot, r.offset, &r.image);
                Ok(())
            }
            Record::Unknown { .. } => Err(errors::UNSUPPORTED_RECORD),
            other => {
                for call in other.rpcs() {
                    self.run_script_rpc(&call)?;
                    if self.ram.bridge.status != BridgeStatus::Executing {
                        return Ok(());
                    }
                }
                Ok(())
            }
        }
    }

    fn run_script_rpc(&mut self, call: &ScriptRpc) -> Result<(), u32> {
        let response = self.dispatch_rpc(call.address, call.rpc_id, &call.payload);
        if call.check_error {
            return match response.outcome() {
                RpcOutcome::Ok(payload) if payload.len() == 4 => {
                    match u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) {
                        0 => Ok(()),
                        code => Err(code),
                    }
                }
                RpcOutcome::Ok(_) => Err(errors::RESPONSE_SIZE_MISMATCH),
                _ => Err(errors::RPC_STATUS | u32::from(response.status)),
            };
        }
        match call.response_size {
            Some(size) if response.payload().len() != usize::from(size) => {
                Err(errors::RESPONSE_SIZE_MISMATCH)
            }
            _ => Ok(()),
        }
    }
}
