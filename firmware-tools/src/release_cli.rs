//! `iotile-fw script sign`, `iotile-fw script verify` and `iotile-fw keys gen --release`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use firmware_tools::inspect::Outcome;
use firmware_tools::release;
use sync_protocol::ota::ScriptTarget;

#[derive(Args)]
pub struct ScriptSign {
    /// The script (.trub); it is not changed
    pub script: PathBuf,
    /// The release key file (from `iotile-fw keys gen --release --out FILE`)
    #[arg(long)]
    pub key: PathBuf,
    /// The org slug the script is released under
    #[arg(long)]
    pub org: String,
    /// The script's name in the cloud
    #[arg(long)]
    pub name: String,
    /// The script's version (1.2.3 or v1.2.3)
    #[arg(long)]
    pub version: String,
    /// Where to write the signature (default: <script>.sig)
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct ScriptVerify {
    /// The script (.trub)
    pub script: PathBuf,
    /// The signature (default: <script>.sig)
    #[arg(long)]
    pub sig: Option<PathBuf>,
    /// A trusted release key: an id (rk--…) or a .pub file (repeatable)
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// The org slug the script must be released under (default: as signed)
    #[arg(long)]
    pub org: Option<String>,
    /// The name it must be released under (default: as signed)
    #[arg(long)]
    pub name: Option<String>,
    /// The version it must be released as (default: as signed)
    #[arg(long)]
    pub version: Option<String>,
}

pub fn sign(args: &ScriptSign) -> Result<Outcome> {
    let secret = release::read_secret(&args.key)?;
    let target = ScriptTarget::new(&args.org, &args.name, &args.version)?;
    let signature = release::sign(&secret, &args.script, &target)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| release::signature_path(&args.script));
    release::write_signature(&out, &signature)?;
    eprintln!(
        "signed {} as {target} with {}; wrote {}",
        args.script.display(),
        signature.key,
        out.display()
    );
    Ok(Outcome::Good)
}

pub fn verify(args: &ScriptVerify) -> Result<Outcome> {
    let bytes = std::fs::read(&args.script)
        .with_context(|| format!("cannot read {}", args.script.display()))?;
    let sig_path = args
        .sig
        .clone()
        .unwrap_or_else(|| release::signature_path(&args.script));
    let signature = release::read_signature(&sig_path)?;
    let trusted = args
        .keys
        .iter()
        .map(|k| release::read_public(k))
        .collect::<Result<Vec<_>, _>>()?;
    let signed = &signature.target;
    let expected = ScriptTarget::new(
        args.org.as_deref().unwrap_or(&signed.org),
        args.name.as_deref().unwrap_or(&signed.name),
        args.version.as_deref().unwrap_or(&signed.version),
    )?;
    match signature.verify(&bytes, &expected, &trusted) {
        Ok(()) => {
            println!(
                "verified: {} is {expected}, signed by {}",
                name(&args.script),
                signature.key
            );
            Ok(Outcome::Good)
        }
        Err(reason) => {
            println!("NOT verified: {}: {reason}", name(&args.script));
            Ok(Outcome::NotVerified)
        }
    }
}

pub fn generate(out: Option<&Path>) -> Result<Outcome> {
    let path = out.context("a release key is kept in a file: give --out FILE")?;
    let public = release::generate(path)?;
    eprintln!(
        "wrote a new release key to {} (mode 0600) and its public id to {}",
        path.display(),
        release::public_path(path).display()
    );
    println!("{public}");
    Ok(Outcome::Good)
}

fn name(path: &Path) -> String {
    path.display().to_string()
}
