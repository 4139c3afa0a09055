//! The `logtide` binary: parses the command line, loads the configuration, starts the daemon and
//! stops it on SIGTERM or SIGINT. Everything else lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use logtide::config::{Config, Overrides};
use logtide::logging::LogFormat;

#[derive(Parser)]
#[command(name = "logtide", version, about = "A log-ingestion daemon speaking the SLS API, storing into RocksDB")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr as `text` or `json` (one object per line); default: $LOGTIDE_LOG_FORMAT,
    /// else text. The level filter is $LOGTIDE_LOG (default info).
    #[arg(long, global = true)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (defaults: 127.0.0.1:7480, data in ./logtide-data).
    Serve {
        /// TOML configuration file (see dist/logtide.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, overriding the file.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory, overriding the file.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Accept unsigned requests on a non-loopback address (no access keys configured).
        #[arg(long)]
        allow_anonymous: bool,
    },
    /// Check a configuration file and list every problem in it.
    CheckConfig { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format {
        Some(f) => f,
        None => match std::env::var("LOGTIDE_LOG_FORMAT").map(|v| v.parse::<LogFormat>()) {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                eprintln!("logtide: LOGTIDE_LOG_FORMAT: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => LogFormat::Text,
        },
    };
    logtide::logging::init(format);
    let result = match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve { config, listen, data_dir, allow_anonymous } => {
            let overrides = Overrides { listen, data_dir, allow_anonymous };
            serve(config, overrides)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logtide: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::from_file(file)?;
    let problems = config.problems();
    if problems.is_empty() {
        println!("{}: ok", file.display());
        Ok(())
    } else {
        anyhow::bail!("{} has {} problem(s):\n  {}", file.display(), problems.len(), problems.join("\n  "))
    }
}

fn serve(file: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<()> {
    let mut config = match &file {
        Some(f) => Config::from_file(f)?,
        None => Config::default(),
    };
    config.apply(&overrides);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("logtide-io").build()?;
    runtime.block_on(async move {
        let daemon = logtide::Daemon::start(config).await?;
        // The one line on stdout: scripts and tests wait for it.
        println!("logtide listening on {}", daemon.addr());
        tracing::info!(addr = %daemon.addr(), "accepting writes");
        logtide::systemd::ready(daemon.addr());
        let _watchdog = logtide::systemd::spawn_watchdog(daemon.health_check());
        wait_for_signal().await?;
        tracing::info!("shutting down");
        logtide::systemd::stopping();
        daemon.shutdown().await
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
