//! The bytes of device scripts in the object store.
//!
//! Every file is decoded as an update script before it is stored, so nothing that a POD
//! would refuse (a bad header hash, an unknown framing) is ever offered for release. Each
//! upload gets a key of its own (`ota/scripts/<z-- slug>/<uuid>.trub`): replacing a file
//! writes a new object and never overwrites the bytes a signature or a link was made for.
//! Reading checks the bytes against the SHA-256 recorded when they were attached, so bytes
//! changed in the store behind our back are never served or released.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use sync_protocol::script::{ScriptError, UpdateScript};

use crate::blobs::{BlobError, Blobs};
use crate::store::ota_scripts::ScriptFile;

/// Longest file name kept for a script.
const MAX_NAME_CHARS: usize = 200;

/// Why stored bytes cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the script's file is missing from the object store")]
    Missing,
    #[error("the script's stored bytes are not the ones uploaded (SHA-256 differs)")]
    Altered,
    #[error(transparent)]
    Store(BlobError),
}

/// A new object key for a file of the script.
pub fn new_key(script_slug: &str) -> String {
    format!("ota/scripts/{script_slug}/{}.trub", uuid::Uuid::new_v4())
}

/// A client's file name as we keep it: the last path segment, printable characters only,
/// at most 200 characters; `fallback` when nothing is left.
pub fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(MAX_NAME_CHARS)
        .collect();
    let kept = kept.trim();
    if kept.is_empty() || kept == "." || kept == ".." {
        fallback.to_string()
    } else {
        kept.to_string()
    }
}

/// Checks that `bytes` are an update script; the file record to attach them under `key`.
pub fn describe(key: &str, name: &str, bytes: &[u8]) -> Result<ScriptFile, ScriptError> {
    UpdateScript::decode(bytes)?;
    Ok(ScriptFile {
        key: key.to_string(),
        name: name.to_string(),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        sha256: sha256_hex(bytes),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bytes of a script's file, checked against the SHA-256 recorded for them.
pub async fn read(blobs: &Blobs, file: &ScriptFile) -> Result<Bytes, FileError> {
    let bytes = blobs.get(&file.key).await.map_err(|e| match e {
        BlobError::NotFound(_) => FileError::Missing,
        e => FileError::Store(e),
    })?;
    if !sha256_hex(&bytes).eq_ignore_ascii_case(&file.sha256) {
        return Err(FileError::Altered);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::script::Record;

    #[test]
    fn names_are_cleaned_and_scripts_checked() {
        assert_eq!(clean_name("../../x/update.trub", "f"), "update.trub");
        assert_eq!(clean_name("C:\\tmp\\a\"b.trub", "f"), "ab.trub");
        assert_eq!(clean_name("..", "z.trub"), "z.trub");
        assert_eq!(clean_name(" \n", "z.trub"), "z.trub");
        let script = UpdateScript::new(vec![Record::ResetDevice]).encode();
        let file = describe("k", "n", &script).unwrap();
        assert_eq!(file.size as usize, script.len());
        assert_eq!(file.sha256.len(), 64);
        let mut broken = script.clone();
        broken[0] ^= 1;
        assert!(describe("k", "n", &broken).is_err());
        assert!(new_key("z--0000-0001").starts_with("ota/scripts/z--0000-0001/"));
    }
}
