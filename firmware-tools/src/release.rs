//! Release keys and script signatures for OTA (`iotile-fw keys gen --release`,
//! `iotile-fw script sign`, `iotile-fw script verify`).
//!
//! A release key is a secret kept in a 0600 file (64 hex digits) with its public id
//! (`rk--…`) in `<file>.pub`, the line an admin registers with the cloud. A signature is a
//! JSON file beside the script (`<script>.sig`); the script itself stays byte-identical, so
//! agents that know nothing of signatures still run it.

use std::io::Write;
use std::path::{Path, PathBuf};

use sync_protocol::ota::{ReleasePublicKey, ReleaseSecret, ReleaseSignature, ScriptTarget};
use sync_protocol::script::UpdateScript;

/// What went wrong making, reading or checking keys and signatures.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseToolError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    #[error("the operating system gave no randomness: {0}")]
    Random(getrandom::Error),
    #[error("{0}")]
    Target(sync_protocol::ota::ReleaseError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseToolError + '_ {
    move |source| ReleaseToolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, reason: impl ToString) -> ReleaseToolError {
    ReleaseToolError::Bad {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The public key file beside a secret key file.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// The signature file beside a script.
pub fn signature_path(script: &Path) -> PathBuf {
    let mut name = script.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Makes a key: the secret into a new 0600 file, the public id into `<file>.pub`. Neither
/// file may exist already.
pub fn generate(path: &Path) -> Result<ReleasePublicKey, ReleaseToolError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(ReleaseToolError::Random)?;
    let secret = ReleaseSecret::from_bytes(&bytes);
    let public = secret.public();
    let pub_path = public_path(path);
    if pub_path.exists() {
        return Err(bad(&pub_path, "already exists; not overwritten"));
    }
    write_new(path, 0o600, &secret.to_hex())?;
    write_new(&pub_path, 0o644, &public.key_id())?;
    Ok(public)
}

fn write_new(path: &Path, mode: u32, line: &str) -> Result<(), ReleaseToolError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options.open(path).map_err(io(path))?;
    writeln!(file, "{line}").map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a secret key file, refusing one that others can read.
pub fn read_secret(path: &Path) -> Result<ReleaseSecret, ReleaseToolError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(
                path,
                format!(
                    "mode {:o} lets others read the key; chmod 600 it",
                    mode & 0o777
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    ReleaseSecret::from_hex(&text).map_err(|e| bad(path, e))
}

/// A public key given as an id (`rk--…`) or as a file holding one.
pub fn read_public(text_or_path: &str) -> Result<ReleasePublicKey, ReleaseToolError> {
    if let Ok(key) = ReleasePublicKey::parse(text_or_path) {
        return Ok(key);
    }
    let path = Path::new(text_or_path);
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    ReleasePublicKey::parse(&text).map_err(|e| bad(path, e))
}

/// Checks that the file is an update script and signs it as released under `target`.
pub fn sign(
    secret: &ReleaseSecret,
    script_path: &Path,
    target: &ScriptTarget,
) -> Result<ReleaseSignature, ReleaseToolError> {
    let bytes = std::fs::read(script_path).map_err(io(script_path))?;
    UpdateScript::decode(&bytes).map_err(|e| bad(script_path, e))?;
    Ok(secret.sign(target, &bytes))
}

/// Reads a signature file.
pub fn read_signature(path: &Path) -> Result<ReleaseSignature, ReleaseToolError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("not a release signature: {e}")))
}

/// Writes a signature file (pretty JSON), replacing an older one.
pub fn write_signature(path: &Path, signature: &ReleaseSignature) -> Result<(), ReleaseToolError> {
    let mut text = serde_json::to_string_pretty(signature)
        .map_err(|e| bad(path, format!("cannot encode: {e}")))?;
    text.push('\n');
    std::fs::write(path, text).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_and_signs_what_it_verifies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("release.key");
        let public = generate(&key).expect("generated");
        assert!(generate(&key).is_err(), "never overwrites a key");
        let secret = read_secret(&key).expect("read back");
        assert_eq!(secret.public(), public);
        let pub_text = std::fs::read_to_string(public_path(&key)).expect("pub file");
        assert_eq!(read_public(pub_text.trim()).expect("an id"), public);
        let pub_file = public_path(&key);
        assert_eq!(
            read_public(pub_file.to_str().unwrap()).expect("a file"),
            public
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let loose = std::fs::Permissions::from_mode(0o644);
            std::fs::set_permissions(&key, loose).expect("chmod");
            let refused = read_secret(&key).expect_err("a readable key is refused");
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
        }
    }
}
