//! bt-seed: serve one or more torrents from DIR/NAME to peers.
use bt::cli::{self, Common};
use bt::swarm::session::{self, Event, SeedOptions, SessionError};
use clap::Parser;
use indicatif::HumanBytes;
use std::path::PathBuf;
use std::time::Duration;

/// Serve torrents from DIR/NAME to peers until SIGINT or SIGTERM.
///
/// The data is verified first (or trusted with --skip-verify); only verified pieces are served.
/// Each torrent is announced to its trackers and, unless private or --no-dht, into the DHT.
/// Writes a `listening` record per torrent as soon as the port is bound, then `peer`
/// connect/disconnect records and periodic `stats` records. On a terminal, stderr shows one live
/// status line per torrent. The first SIGINT/SIGTERM announces `stopped` (waiting at most about
/// 3 s) and exits 0; a second exits at once. With --control it is a daemon (see bt-ctl), with
/// one DHT node for all its torrents.
#[derive(Parser, Debug)]
#[command(name = "bt-seed", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The .torrent files (`-`: one from stdin).
    #[arg(required_unless_present = "control")]
    torrents: Vec<String>,
    /// Directory holding DIR/NAME for each torrent.
    #[arg(short, long, default_value_os_t = SeedOptions::default().dir)]
    dir: PathBuf,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = SeedOptions::default().port, value_name = "N")]
    port: u16,
    /// Address to listen on (and to connect from).
    #[arg(long, default_value_t = SeedOptions::default().bind, value_name = "ADDR")]
    bind: std::net::IpAddr,
    /// Trust the data without verifying it first.
    #[arg(long)]
    skip_verify: bool,
    /// Do not announce to the torrents' trackers.
    #[arg(long)]
    no_announce: bool,
    /// Most simultaneous connections per torrent (at least 1).
    #[arg(long, default_value_t = SeedOptions::default().max_peers as u32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    max_peers: u32,
    /// Peers unchoked at once, per torrent (plus one optimistic unchoke).
    #[arg(long, default_value_t = SeedOptions::default().upload_slots, value_name = "N")]
    upload_slots: usize,
    #[command(flatten)]
    upload_rate: cli::UploadRate,
    /// A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`: bt-seed dials it, as it
    /// dials the peers its trackers name, while it may lack pieces.
    #[arg(long = "peer", value_name = "ADDR:PORT")]
    peers: Vec<std::net::SocketAddr>,
    /// Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only).
    #[arg(long, default_value_t = SeedOptions::default().encryption, value_name = "MODE")]
    encryption: bt::peer::mse::Policy,
    /// Seconds between `stats` records.
    #[arg(long, default_value_t = SeedOptions::default().stats_interval.as_secs_f64(), value_name = "SECONDS")]
    stats_interval: f64,
    /// Print a line on stderr for each peer that connects or disconnects.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    dht: bt::cli::dht::DhtArgs,
    #[command(flatten)]
    daemon: cli::DaemonArgs,
    #[command(flatten)]
    common: Common,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-seed");
    cli::run("bt-seed", || {
        let args = Args::parse();
        args.common.init_jobs();
        seed(args)
    })
}

fn seed(args: Args) -> anyhow::Result<u8> {
    let quiet = args.common.quiet;
    let stop = cli::stop_on_signals("bt-seed", quiet);
    let torrents = args.torrents.iter().map(|p| cli::read_torrent(p));
    let torrents = torrents.collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(socket) = args.daemon.socket() {
        let engine = bt::daemon::Engine {
            bind: args.bind,
            announce: !args.no_announce,
            max_peers: args.max_peers as usize,
            upload_slots: args.upload_slots,
            encryption: args.encryption,
            skip_verify: args.skip_verify,
            dht: args.dht.start("bt-seed", args.bind, args.port, false),
        };
        let paths = args.torrents.iter().map(PathBuf::from);
        let torrents = paths.zip(torrents).collect();
        let (dir, peers) = (args.dir, args.peers);
        let mut opts = bt::daemon::DaemonOptions::new(dir, torrents, peers, engine, stop);
        opts.upload_limit = args.upload_rate.max_upload_rate;
        return args.daemon.run(socket, opts, quiet);
    }
    let opts = SeedOptions {
        dir: args.dir.clone(),
        bind: args.bind,
        port: args.port,
        skip_verify: args.skip_verify,
        announce: !args.no_announce,
        max_peers: args.max_peers as usize,
        upload_slots: args.upload_slots,
        upload_limit: args.upload_rate.limit(),
        stats_interval: Duration::from_secs_f64(args.stats_interval.clamp(0.1, 1e9)),
        encryption: args.encryption,
        peers: args.peers.clone(),
        dht: args.dht.for_seed(args.bind, args.port, &torrents),
        stop,
        ..SeedOptions::default()
    };
    let mut view = cli::EngineView::new("bt-seed", &args.common, &torrents);
    view.peer_lines = args.verbose;
    let result = session::seed(&torrents, opts, &mut |e| match view.show(e) {
        Some(Event::Verified {
            torrent,
            have,
            pieces,
        }) if have < pieces && (have > 0 || torrents.len() > 1) => view.note(&format!(
            "{}: serving {have} of {pieces} pieces (the rest is missing or bad)",
            view.name(torrent)
        )),
        Some(Event::Listening { torrent, addr }) => {
            let hash = torrents[torrent].swarm_hash().hex();
            let line = format!("listening on {addr} for {} ({hash})", view.name(torrent));
            view.write(|o| o.line(&line));
        }
        Some(Event::Progress {
            torrent,
            stats,
            up_rate,
            ..
        }) => {
            let ratio = stats.uploaded as f64 / torrents[torrent].total_length.max(1) as f64;
            let (up, total) = (HumanBytes(up_rate), HumanBytes(stats.uploaded));
            let line = format!(
                "{}: {} peers, up {up}/s, uploaded {total}, ratio {ratio:.2}",
                view.name(torrent),
                stats.peers
            );
            view.status(torrent, line);
        }
        _ => {}
    });
    view.finish()?;
    match result {
        Ok(()) => Ok(cli::EXIT_OK),
        Err(SessionError::NothingToServe) => {
            let dir = args.dir.display();
            eprintln!("bt-seed: no piece is present and intact in {dir}: nothing to serve");
            Ok(cli::EXIT_NEGATIVE)
        }
        Err(e) => Err(e.into()),
    }
}
