//! `iotile-demo`: a cloud, a gateway and three virtual PODs in one process, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use system_tests::demo::{self, Options};

#[derive(Parser)]
#[command(
    name = "iotile-demo",
    version,
    about = "The whole IOTile edge system in one process: a cloud, a gateway and three virtual PODs"
)]
struct Cli {
    /// Where the cloud listens (127.0.0.1:0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    /// Keep the cloud's database, the gateway's buffer and the PODs here, and continue from
    /// them next time [default: a temporary directory removed at exit]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Every POD behind the virtual BLED112: no BlueZ, no D-Bus daemon needed
    #[arg(long)]
    bled112_only: bool,
}

fn main() -> anyhow::Result<()> {
    gateway::transport::bluez_panics::quiet_stream_cleanup_panics();
    let runtime = tokio::runtime::Runtime::new()?;
    let remains = runtime.block_on(demo_until_stopped())?;
    // The private bus outlives every task of the runtime (see `demo::pods::Remains`).
    drop(runtime);
    drop(remains);
    println!("stopped");
    Ok(())
}

async fn demo_until_stopped() -> anyhow::Result<demo::pods::Remains> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,iotile_demo=info,system_tests=info".into()),
        )
        .init();
    // Both handlers are in place before anything starts, so a Ctrl-C during startup is not
    // lost: the demo stops cleanly as soon as it is up.
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    };
    demo::run(
        Options {
            bind: cli.bind,
            data_dir: cli.data_dir,
            bluez: !cli.bled112_only,
        },
        shutdown,
    )
    .await
}
