//! Object storage for what does not belong in a database row: raw report files, event
//! documents, scripts. Local disk under `<data dir>/objects` by default, or any S3-compatible
//! store (AWS S3, MinIO, Ceph, …) by configuration.
//!
//! Keys are `/`-separated paths such as
//! `t--0000-0000-0000-00d2--0001/2026/11/25/13/<uuid>.bin`; empty segments, `.` and `..` are
//! refused.
//!
//! `put` is durable when it returns. An S3 store acknowledges a PUT only once it has stored
//! the object. On local disk `object_store` renames its temporary file into place without
//! fsync, so local writes go through `write_durably` here instead: temporary file, fsync,
//! rename, fsync of the directories whose entries changed. Reads, deletes and existence checks
//! use `object_store` for both.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use crate::config::{ObjectStoreSettings, S3Settings, Settings};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no object {0:?}")]
    NotFound(String),
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object store: {0}")]
    Store(#[source] object_store::Error),
    #[error("object store I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where objects live; cheap to clone.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Set for local disk: `put` writes there itself so that it can fsync.
    local: Option<Arc<LocalFileSystem>>,
    describe: String,
}

impl fmt::Debug for Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blobs({})", self.describe)
    }
}

impl Blobs {
    /// Objects as files under `root`, which is created (mode 0700) when missing.
    pub fn local(root: &FsPath) -> Result<Blobs, BlobError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|source| BlobError::Io {
                path: root.to_path_buf(),
                source,
            })?;
        let store = Arc::new(LocalFileSystem::new_with_prefix(root).map_err(BlobError::Store)?);
        Ok(Blobs {
            store: store.clone(),
            local: Some(store),
            describe: format!("local disk {}", root.display()),
        })
    }

    /// An S3-compatible store, addressed path-style (`endpoint/bucket/key`) as MinIO, Ceph and
    /// other S3-compatible servers expect. The bucket must exist.
    pub fn s3(settings: &S3Settings) -> Result<Blobs, BlobError> {
        let secret = std::str::from_utf8(settings.secret_access_key.expose())
            .map_err(|_| BlobError::Config("the S3 secret access key is not UTF-8".into()))?;
        let store = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_endpoint(&settings.endpoint)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(secret)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(Blobs {
            store: Arc::new(store),
            local: None,
            describe: format!(
                "S3 bucket {:?} at {} ({})",
                settings.bucket, settings.endpoint, settings.region
            ),
        })
    }

    pub fn from_settings(settings: &Settings) -> Result<Blobs, BlobError> {
        match &settings.object_store {
            ObjectStoreSettings::Local => Blobs::local(&settings.data_dir.join("objects")),
            ObjectStoreSettings::S3(s3) => Blobs::s3(s3),
        }
    }

    /// Where the objects are, for logs (never includes credentials).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Stores `bytes` under `key`, replacing any object there; durable when it returns.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let path = parse_key(key)?;
        match &self.local {
            Some(local) => {
                let file = local.path_to_filesystem(&path).map_err(BlobError::Store)?;
                tokio::task::spawn_blocking(move || write_durably(&file, &bytes))
                    .await
                    .map_err(|e| BlobError::Io {
                        path: PathBuf::from(key),
                        source: std::io::Error::other(e),
                    })?
            }
            None => self
                .store
                .put(&path, PutPayload::from_bytes(bytes))
                .await
                .map(|_| ())
                .map_err(|e| store_error(key, e)),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let path = parse_key(key)?;
        let found = self
            .store
            .get(&path)
            .await
            .map_err(|e| store_error(key, e))?;
        found.bytes().await.map_err(|e| store_error(key, e))
    }

    /// Removes the object; removing a missing one is not an error (S3 behaves so too).
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = parse_key(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Store(e)),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        let path = parse_key(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(BlobError::Store(e)),
        }
    }
}

fn parse_key(key: &str) -> Result<Path, BlobError> {
    let invalid = |reason: String| BlobError::InvalidKey {
        key: key.to_string(),
        reason,
    };
    if key.is_empty() || key.starts_with('/') || key.ends_with('/') {
        return Err(invalid("a key names an object, not a directory".into()));
    }
    // `Path::parse` accepts `#` but the local backend hides `name#123` files (its temporary
    // files); refusing `#` keeps both backends alike.
    if key.contains('#') {
        return Err(invalid("'#' is not allowed".into()));
    }
    Path::parse(key).map_err(|e| invalid(e.to_string()))
}

fn store_error(key: &str, e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_string()),
        e => BlobError::Store(e),
    }
}

/// Writes `bytes` to `file` so that after a crash the file holds either its old content or
/// all of `bytes`: temporary sibling, fsync, rename over, fsync of the changed directories.
fn write_durably(file: &FsPath, bytes: &[u8]) -> Result<(), BlobError> {
    let io = |path: &FsPath| {
        let path = path.to_path_buf();
        move |source| BlobError::Io { path, source }
    };
    let parent = file
        .parent()
        .ok_or_else(|| BlobError::Config(format!("{} has no directory", file.display())))?;
    // Directories made for this key must reach the disk too, and so must the entry for the
    // topmost of them in the directory that already existed.
    let mut existing = parent;
    while !existing.exists() {
        match existing.parent() {
            Some(up) => existing = up,
            None => break,
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(io(parent))?;

    // A `#<digits>` suffix: the local backend's listing skips such files.
    let mut temp = file.as_os_str().to_owned();
    temp.push(format!("#{}", u64::from_le_bytes(random8())));
    let temp = PathBuf::from(temp);
    let written = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, file)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(BlobError::Io {
            path: file.to_path_buf(),
            source,
        });
    }
    let mut dir = parent;
    loop {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        if dir == existing {
            break;
        }
        match dir.parent() {
            Some(up) => dir = up,
            None => break,
        }
    }
    Ok(())
}

fn random8() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    // Only uniqueness among concurrent writers matters; the pid and time back up a failure.
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(parse_key("t--0000-0000-0000-00d2--0001/2026/11/25/13/a.bin").is_ok());
        for bad in ["", "a//b", "a/../b", "a/", "a#1", "/a"] {
            assert!(
                matches!(parse_key(bad), Err(BlobError::InvalidKey { .. })),
                "{bad:?} was accepted"
            );
        }
    }
}
