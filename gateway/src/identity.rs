//! The gateway's identity: its ed25519 secret key in one file, created on first start.
//!
//! The file holds the 32-byte secret as 64 hex digits and a newline. It is created with
//! mode 0600 (its directory with 0700 when this creates it), written to a temporary name,
//! synced and renamed, so a crash never leaves half a key. A key file that group or others
//! can read is refused: a leaked key lets anyone upload as this gateway.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sync_protocol::gateway::GatewaySecret;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "key file {path} has mode {mode:o}: group or others can access it; run `chmod 600 {path}`"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("key file {path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// The key and whether it was created by this call.
#[derive(Debug)]
pub struct Identity {
    pub secret: GatewaySecret,
    pub created: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Loads the key at `path`, creating it (and its directory) if the file does not exist.
pub fn load_or_create(path: &Path) -> Result<Identity, IdentityError> {
    match load(path) {
        Ok(secret) => Ok(Identity {
            secret,
            created: false,
        }),
        Err(IdentityError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            create(path).map(|secret| Identity {
                secret,
                created: true,
            })
        }
        Err(e) => Err(e),
    }
}

/// Loads an existing key, refusing one that others can read or that is malformed.
pub fn load(path: &Path) -> Result<GatewaySecret, IdentityError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let malformed = |reason: &str| IdentityError::Malformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !meta.is_file() {
        return Err(malformed("not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.len() > 256 {
        return Err(malformed("longer than a key"));
    }
    let text = std::fs::read_to_string(path).map_err(|_| malformed("not text"))?;
    let hex_key = text.trim();
    let mut bytes = [0u8; GatewaySecret::LEN];
    if hex_key.len() != 2 * GatewaySecret::LEN || hex::decode_to_slice(hex_key, &mut bytes).is_err()
    {
        return Err(malformed("expected 64 hex digits"));
    }
    Ok(GatewaySecret::from_bytes(&bytes))
}

fn create(path: &Path) -> Result<GatewaySecret, IdentityError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let mut bytes = [0u8; GatewaySecret::LEN];
    getrandom::getrandom(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    let secret = GatewaySecret::from_bytes(&bytes);
    bytes.fill(0);

    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    // A leftover from a crash during creation holds no key anyone was told about.
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    writeln!(file, "{}", hex::encode(secret.to_bytes())).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    tracing::info!(path = %path.display(), key = %secret.public(), "created the gateway key");
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/keys/gateway.key");
        let first = load_or_create(&path).expect("creates");
        assert!(first.created);
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        assert!(!path.with_extension("key.tmp").exists());
        let second = load_or_create(&path).expect("loads");
        assert!(!second.created);
        assert_eq!(second.secret.public(), first.secret.public());
        let other = load_or_create(&dir.path().join("other.key")).expect("creates");
        assert_ne!(
            other.secret.public(),
            first.secret.public(),
            "fresh randomness"
        );
    }

    #[test]
    fn readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gateway.key");
        load_or_create(&path).expect("creates");
        for mode in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = load_or_create(&path).expect_err("refused");
            assert!(
                matches!(err, IdentityError::Exposed { mode: m, .. } if m == mode),
                "{err}"
            );
            assert!(err.to_string().contains("chmod 600"));
        }
    }

    #[test]
    fn malformed_files_are_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gateway.key");
        for content in [&b"not a key\n"[..], b"", &[0xff; 64], &[b'a'; 2000]] {
            std::fs::write(&path, content).expect("writes");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            assert!(matches!(
                load_or_create(&path),
                Err(IdentityError::Malformed { .. })
            ));
            assert_eq!(
                std::fs::read(&path).expect("kept"),
                content,
                "never overwritten"
            );
        }
        let key = "07".repeat(32);
        std::fs::write(&path, format!("{key}\n")).expect("writes");
        assert_eq!(
            load(&path).expect("loads").public(),
            GatewaySecret::from_bytes(&[7; 32]).public()
        );
        assert!(matches!(
            load(dir.path()),
            Err(IdentityError::Malformed { .. })
        ));
    }
}
