//! bt-ctl: control a running `bt-seed --control` daemon, one command per action.
use bt::cli;
use bt::daemon::{client::Target, Command};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Control a running `bt-seed --control` daemon: add, list, pause, resume, remove torrents,
/// set rate limits, watch.
///
/// Each command sends one JSON command on the daemon's Unix socket and writes the answer: JSON
/// records on a pipe (`status`, `limits`, then `ok`, or an `error` record), a table on a
/// terminal. Torrents are named by info hash, a prefix of one (4 hex digits at least), or name.
/// Exit 1 when no torrent matches.
#[derive(Parser, Debug)]
#[command(name = "bt-ctl", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The daemon's control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else
    /// /tmp/bt-UID/bt-seed.sock).
    #[arg(short = 'c', long, global = true, value_name = "SOCKET")]
    control: Option<PathBuf>,
    /// Talk to the daemon's TCP control address instead (bt-seed --control-tcp).
    #[arg(long, global = true, value_name = "ADDR:PORT", requires = "token_file")]
    connect: Option<std::net::SocketAddr>,
    /// The file holding the daemon's token (with --connect).
    #[arg(long, global = true, value_name = "FILE", requires = "connect")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    output: cli::Output,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what
    /// is there). A magnet's metadata comes from its x.pe peers, its trackers and --peer.
    Add {
        /// The .torrent file, or a magnet link (`magnet:?xt=...`).
        torrent: String,
        /// Directory holding DIR/NAME.
        #[arg(short, long)]
        dir: PathBuf,
        /// Serve what is on disk, never download.
        #[arg(long)]
        seed_only: bool,
        /// A peer to dial (repeatable), besides those the trackers name.
        #[arg(long = "peer", value_name = "ADDR:PORT", value_parser = cli::parse_peer)]
        peers: Vec<std::net::SocketAddr>,
        /// Add it paused.
        #[arg(long)]
        paused: bool,
    },
    /// List the torrents (one `status` record each).
    #[command(visible_alias = "list")]
    Ls {
        /// Only this torrent.
        torrent: Option<String>,
        /// Include the files and connected peers.
        #[arg(long)]
        detail: bool,
    },
    /// Stop a torrent's transfers; it stays listed, its data stays on disk.
    Pause {
        /// The torrent.
        torrent: String,
    },
    /// Start a paused torrent again (what is on disk is verified, not fetched again).
    Resume {
        /// The torrent.
        torrent: String,
    },
    /// Stop a torrent and forget it; its files stay on disk.
    #[command(visible_alias = "remove")]
    Rm {
        /// The torrent.
        torrent: String,
    },
    /// Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes).
    Limit {
        /// Download limit in bytes per second.
        #[arg(long, value_parser = cli::parse_size, value_name = "RATE")]
        down: Option<u64>,
        /// Upload limit in bytes per second.
        #[arg(long, value_parser = cli::parse_size, value_name = "RATE")]
        up: Option<u64>,
        /// The torrent (default: the global limits).
        torrent: Option<String>,
    },
    /// Stream every torrent's `status` each interval until interrupted.
    Watch {
        /// Seconds between two rounds.
        #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
        interval: f64,
    },
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-ctl");
    cli::run("bt-ctl", || {
        let args = Args::parse();
        let target = Target::choose(args.control, args.connect, args.token_file)
            .map_err(anyhow::Error::msg)?;
        let abs = |p: PathBuf| std::path::absolute(&p).map(|a| a.to_string_lossy().into_owned());
        let cmd = match args.cmd {
            Cmd::Add {
                torrent,
                dir,
                seed_only,
                peers,
                paused,
            } => Command::Add {
                torrent: match torrent.starts_with("magnet:") {
                    true => torrent,
                    false => abs(torrent.into())?,
                },
                dir: Some(abs(dir)?),
                seed_only,
                peers: peers.iter().map(|p| p.to_string()).collect(),
                paused,
            },
            Cmd::Ls { torrent, detail } => Command::List { torrent, detail },
            Cmd::Pause { torrent } => Command::Pause { torrent },
            Cmd::Resume { torrent } => Command::Resume { torrent },
            Cmd::Rm { torrent } => Command::Remove { torrent },
            Cmd::Limit { down, up, torrent } => Command::Limit { torrent, down, up },
            Cmd::Watch { interval } => Command::Watch {
                interval: Some(interval),
            },
        };
        cli::ctl::run(&target, cmd, args.output.mode())
    })
}
