//! Report bytes arrive as ≤ 20-byte notifications with no per-chunk header; the report
//! formats' own headers say where each report ends.

use std::collections::VecDeque;

use sync_protocol::report::ReportFramer;

use super::TransportError;

/// Collects streaming notifications into whole reports for one connection.
#[derive(Debug, Default)]
pub struct Reassembler {
    framer: ReportFramer,
    ready: VecDeque<Vec<u8>>,
    failed: Option<String>,
    received: u64,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one notification's bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.received += chunk.len() as u64;
        self.framer.push(chunk);
        while let Some(next) = self.framer.next_report() {
            match next {
                Ok(report) => self.ready.push_back(report),
                Err(error) => {
                    // The stream is no longer aligned: nothing after this can be trusted.
                    self.failed = Some(error.to_string());
                    return;
                }
            }
        }
    }

    /// A complete report, if one is ready; an error once the stream is misaligned.
    pub fn pop(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        if let Some(report) = self.ready.pop_front() {
            return Ok(Some(report));
        }
        match &self.failed {
            Some(error) => Err(TransportError::Protocol(format!(
                "the report stream is not framed: {error}"
            ))),
            None => Ok(None),
        }
    }

    /// Every report byte taken so far: whole reports and the one still arriving.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes of a report still incomplete (dropped if the link goes).
    pub fn partial_bytes(&self) -> usize {
        self.framer.pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_back_to_back_reports_and_refuses_garbage() {
        let mut r = Reassembler::new();
        // Two 20-byte individual reports split at odd places.
        let bytes = [0u8; 40];
        r.push(&bytes[..7]);
        assert_eq!(r.pop().expect("framed"), None);
        assert_eq!(r.partial_bytes(), 7);
        r.push(&bytes[7..33]);
        assert_eq!(r.pop().expect("framed").map(|b| b.len()), Some(20));
        assert_eq!(r.pop().expect("framed"), None);
        assert_eq!(r.received(), 33);
        r.push(&bytes[33..]);
        assert_eq!(r.pop().expect("framed").map(|b| b.len()), Some(20));
        assert_eq!(r.received(), 40);
        r.push(&[0x7E, 1, 2]);
        assert!(matches!(r.pop(), Err(TransportError::Protocol(_))));
    }
}
