//! bt-fetch: download a torrent from peers into DIR/NAME, verifying every piece.
use bt::cli::{self, Common};
use bt::peer::mse::Policy;
use bt::record::ProgressRecord;
use bt::swarm::metadata;
use bt::swarm::session::{self, Event, FetchOptions, SessionError};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Download a torrent from peers (and web seeds) into DIR/NAME, verifying every piece.
///
/// Peers come from --peer, else from standard input when it is a pipe (bt-announce's `peer`
/// records, or `ip:port` lines, IPv6 as `[addr]:port`), else from the torrent's trackers; more
/// come through peer exchange (PEX) and the DHT (both never for private torrents). A magnet link's info
/// dictionary is first fetched from peers (its `x.pe` peers, --peer, stdin, its `tr=` trackers).
/// Existing data in DIR/NAME is verified first and only missing pieces are fetched, so an
/// interrupted download resumes where it stopped. Writes a `listening` record once the port is
/// bound and a `summary` record at the end.
#[derive(Parser, Debug)]
#[command(name = "bt-fetch", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// A .torrent, a magnet link, or `-` for one on stdin (stdin then carries no peers).
    torrent: String,
    /// Download directory; the data goes to DIR/NAME.
    #[arg(short, long, default_value_os_t = FetchOptions::default().dir)]
    dir: PathBuf,
    /// A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`.
    #[arg(long = "peer", value_name = "ADDR:PORT", value_parser = cli::parse_peer)]
    peers: Vec<std::net::SocketAddr>,
    /// Do not announce to the torrent's trackers.
    #[arg(long)]
    no_announce: bool,
    /// Most simultaneous connections (at least 1).
    #[arg(long, default_value_t = FetchOptions::default().max_peers as u32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    max_peers: u32,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = cli::parse_seconds)]
    timeout: Option<Duration>,
    /// Keep running as a seeder after the download completes (until SIGINT/SIGTERM).
    #[arg(long)]
    seed: bool,
    /// Write `peer` connect/disconnect records.
    #[arg(long)]
    peer_records: bool,
    /// Port to accept connections on (0: any free port).
    #[arg(long, default_value_t = FetchOptions::default().port, value_name = "N")]
    port: u16,
    /// Address to accept connections on (and to connect from).
    #[arg(long, default_value_t = FetchOptions::default().bind, value_name = "ADDR")]
    bind: std::net::IpAddr,
    /// Peers unchoked at once when uploading.
    #[arg(long, default_value_t = FetchOptions::default().upload_slots, value_name = "N")]
    upload_slots: usize,
    #[command(flatten)]
    rates: cli::RateArgs,
    #[command(flatten)]
    web: cli::WebSeedArgs,
    /// Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only).
    #[arg(long, default_value_t = FetchOptions::default().encryption, value_name = "MODE")]
    encryption: Policy,
    /// Drop a peer that sends no requested block for this many seconds.
    #[arg(long, default_value_t = FetchOptions::default().snub_timeout.as_secs(), value_name = "SECONDS")]
    snub_timeout: u64,
    #[command(flatten)]
    stream: cli::StreamArgs,
    #[command(flatten)]
    magnet: cli::MagnetArgs,
    #[command(flatten)]
    dht: cli::dht::DhtArgs,
    #[command(flatten)]
    common: Common,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-fetch");
    cli::run("bt-fetch", || {
        let args = Args::parse();
        args.common.init_jobs();
        fetch(args)
    })
}

fn fetch(args: Args) -> anyhow::Result<u8> {
    cli::ignore_file_size_signal();
    let quiet = args.common.quiet;
    let stop = cli::stop_on_signals("bt-fetch", quiet);
    let t = (!args.torrent.starts_with("magnet:"))
        .then(|| cli::read_torrent(&args.torrent))
        .transpose()?;
    let m = &args.magnet;
    if t.is_some() {
        m.torrent_only()?;
    }
    let private = t.as_ref().is_some_and(|t| t.private);
    let mut opts = FetchOptions {
        dht: args.dht.start("bt-fetch", args.bind, args.port, private),
        dir: args.dir,
        peer_lines: cli::stdin_peer_lines(args.peers.is_empty() && args.torrent != "-"),
        peers: args.peers,
        announce: !args.no_announce,
        web_seeds: args.web.web_seeds,
        timeout: args.timeout,
        seed: args.seed,
        bind: args.bind,
        port: args.port,
        max_peers: args.max_peers as usize,
        upload_slots: args.upload_slots,
        upload_limit: args.rates.upload.limit(),
        download_limit: args.rates.download_limit(),
        snub_timeout: Duration::from_secs(args.snub_timeout),
        encryption: args.encryption,
        stop,
        ..FetchOptions::default()
    };
    let note = |e: &dyn std::fmt::Display| (args.common.note("bt-fetch", &e.to_string()), 1).1;
    let t = match t.ok_or(()).or_else(|_| {
        let out = m.torrent_out.as_deref();
        metadata::magnet_torrent(&args.torrent, &mut opts, out, m.force, &mut |e| {
            _ = note(&e)
        })
    }) {
        Ok(_) if m.metadata_only => return Ok(cli::EXIT_OK),
        Ok(t) => t,
        Err(e @ SessionError::NoMetadata(_)) => return Ok(note(&e)),
        Err(e) => return Err(e.into()),
    };
    args.stream.apply(&t, &mut opts)?;
    let mut view = cli::EngineView::new("bt-fetch", &args.common, std::slice::from_ref(&t));
    view.peer_records = args.peer_records;
    args.stream.route(&mut view);
    let (json, progress_json) = (view.json(), args.stream.progress_json);
    let report = session::fetch(&t, opts, &mut |e| match view.show(e) {
        Some(Event::Listening { addr, .. }) if args.seed => {
            view.note(&format!("listening on {addr}"))
        }
        Some(Event::Progress {
            stats,
            down_rate,
            elapsed,
            ..
        }) => {
            let msg = format!("fetching, {} peers", stats.peers);
            view.bar(stats.have_bytes, t.total_length, msg);
            if json && progress_json {
                let r = ProgressRecord::new(&stats, t.total_length, down_rate, elapsed);
                view.write(|o| o.json(&r));
            }
        }
        Some(Event::Seeding) => view.note("complete; seeding until interrupted"),
        _ => {}
    });
    let mut out = view.finish()?;
    cli::finish_fetch(&mut out, &report?, &t.name_lossy(), quiet)
}
