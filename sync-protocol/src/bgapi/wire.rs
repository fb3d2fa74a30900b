//! Reading and writing BGAPI payload fields: little-endian integers, `bd_addr` (reversed on
//! the wire) and `uint8array` (a `u8` length, then the bytes).

use super::{BdAddr, BgapiError};

/// Reads the fields of one message's payload, in order, then insists nothing is left.
pub(crate) struct Fields<'a> {
    message: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(message: &'static str, bytes: &'a [u8]) -> Self {
        Fields {
            message,
            bytes,
            at: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BgapiError> {
        let end = self.at.saturating_add(n);
        let slice = self.bytes.get(self.at..end).ok_or(BgapiError::Truncated {
            message: self.message,
            need: end,
            have: self.bytes.len(),
        })?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BgapiError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BgapiError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i8(&mut self) -> Result<i8, BgapiError> {
        Ok(i8::from_le_bytes(self.array::<1>()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, BgapiError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn addr(&mut self) -> Result<BdAddr, BgapiError> {
        Ok(BdAddr::from_wire(self.array()?))
    }

    /// A `uint8array`: its declared length must be there.
    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, BgapiError> {
        let len = self.u8()?;
        Ok(self.take(usize::from(len))?.to_vec())
    }

    /// Ends the message: bytes beyond the last field are an error.
    pub(crate) fn finish(self) -> Result<(), BgapiError> {
        if self.at == self.bytes.len() {
            return Ok(());
        }
        Err(BgapiError::TrailingBytes {
            message: self.message,
            expected: self.at,
            found: self.bytes.len(),
        })
    }
}

/// Appends payload fields.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(mut self, value: u8) -> Self {
        self.0.push(value);
        self
    }

    pub(crate) fn i8(self, value: i8) -> Self {
        self.u8(value.to_le_bytes()[0])
    }

    pub(crate) fn u16(mut self, value: u16) -> Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn addr(mut self, value: BdAddr) -> Self {
        self.0.extend_from_slice(&value.to_wire());
        self
    }

    /// A `uint8array`; longer than 255 bytes cannot be said.
    pub(crate) fn bytes(mut self, field: &'static str, value: &[u8]) -> Result<Self, BgapiError> {
        let len = u8::try_from(value.len()).map_err(|_| BgapiError::ArrayTooLong {
            field,
            len: value.len(),
        })?;
        self.0.push(len);
        self.0.extend_from_slice(value);
        Ok(self)
    }
}
