//! `iotile-fw`: inspect (and, later, build and sign) IOTile reports and update scripts.
//!
//! Exit status: 0 when the file decodes (and verifies, when signed); 1 when it decodes but a
//! signature or hash does not verify, or cannot be checked without a key; 2 when it cannot be
//! read or decoded at all.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use firmware_tools::inspect::report::{Keys, ReportView};
use firmware_tools::inspect::script::ScriptView;
use firmware_tools::inspect::Outcome;
use sync_protocol::auth::RootKey;
use sync_protocol::Report;

#[derive(Parser)]
#[command(
    name = "iotile-fw",
    version,
    about = "Inspect IOTile device reports and update scripts",
    after_help = "Exit status: 0 decoded (and verified, when signed); 1 decoded but not \
                  verified (bad signature or hash, or no key given); 2 not readable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Device reports (signed list, individual, broadcast, flexible dictionary)
    #[command(subcommand)]
    Report(ReportCommand),
    /// Update scripts (.trub)
    #[command(subcommand)]
    Script(ScriptCommand),
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Decode a report, verify its signature and list its readings
    Inspect(ReportInspect),
}

#[derive(Subcommand)]
enum ScriptCommand {
    /// Decode an update script, check its header hash and list its records
    Inspect(ScriptInspect),
}

#[derive(Args)]
struct ReportInspect {
    /// The report file (`-` for standard input)
    file: PathBuf,
    /// The device's user key, 64 hex digits; defaults to $USER_KEY_<uuid as 8 upper-case hex>
    #[arg(long, value_name = "HEX")]
    user_key: Option<String>,
    /// The device key, 64 hex digits, for reports signed with it
    #[arg(long, value_name = "HEX")]
    device_key: Option<String>,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ScriptInspect {
    /// The script file (`-` for standard input)
    file: PathBuf,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(ReportCommand::Inspect(args)) => inspect_report(&args),
        Command::Script(ScriptCommand::Inspect(args)) => inspect_script(&args),
    };
    match result {
        Ok(Outcome::Good) => ExitCode::SUCCESS,
        Ok(Outcome::NotVerified) => ExitCode::from(1),
        Err(error) => {
            eprintln!("iotile-fw: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn inspect_report(args: &ReportInspect) -> Result<Outcome> {
    let bytes = read_input(&args.file)?;
    let report = Report::decode(&bytes)
        .with_context(|| format!("{} is not a valid report", args.file.display()))?;
    let env_key = std::env::var(format!("USER_KEY_{:08X}", report.device_id())).ok();
    let keys = Keys {
        user_key: parse_key(
            args.user_key.as_deref().or(env_key.as_deref()),
            "--user-key",
        )?,
        device_key: parse_key(args.device_key.as_deref(), "--device-key")?,
    };
    let view = ReportView::new(&bytes, &report, &keys);
    print_view(&view, args.json, || view.table())?;
    if view.outcome == Outcome::NotVerified {
        eprintln!(
            "iotile-fw: {}: the report is not verified",
            args.file.display()
        );
    }
    Ok(view.outcome)
}

fn inspect_script(args: &ScriptInspect) -> Result<Outcome> {
    let bytes = read_input(&args.file)?;
    let view = ScriptView::new(&bytes)
        .with_context(|| format!("{} is not a valid update script", args.file.display()))?;
    print_view(&view, args.json, || view.table())?;
    Ok(view.outcome)
}

fn print_view(
    view: &impl serde::Serialize,
    json: bool,
    table: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
    } else {
        print!("{}", table());
    }
    Ok(())
}

fn parse_key(hex: Option<&str>, flag: &str) -> Result<Option<RootKey>> {
    hex.map(|text| RootKey::from_hex(text).with_context(|| format!("bad {flag}")))
        .transpose()
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
