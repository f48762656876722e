//! bt-seed: serve one or more torrents from DIR/NAME to peers.
use anyhow::{bail, Context};
use bt::cli::{self, Common};
use bt::record::{ListeningRecord, StatsRecord};
use bt::swarm;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serve torrents from DIR/NAME to peers until SIGINT or SIGTERM.
///
/// The data is verified first (or trusted with --skip-verify); only verified pieces are served.
/// Writes a `listening` record per torrent as soon as the port is bound, then `peer`
/// connect/disconnect records and periodic `stats` records.
#[derive(Parser, Debug)]
#[command(name = "bt-seed", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The .torrent files.
    #[arg(required = true)]
    torrents: Vec<String>,
    /// Directory holding DIR/NAME for each torrent.
    #[arg(short, long, default_value = ".")]
    dir: PathBuf,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 6881, value_name = "N")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    bind: std::net::IpAddr,
    /// Trust the data without verifying it first.
    #[arg(long)]
    skip_verify: bool,
    /// Do not announce to the torrents' trackers.
    #[arg(long)]
    no_announce: bool,
    /// Most simultaneous connections per torrent.
    #[arg(long, default_value_t = 200, value_name = "N")]
    max_peers: usize,
    /// Peers unchoked at once, per torrent (plus one optimistic unchoke).
    #[arg(long, default_value_t = 4, value_name = "N")]
    upload_slots: usize,
    /// Upload cap in bytes per second, per torrent (accepts K/M/G suffixes).
    #[arg(long, value_parser = cli::parse_size, value_name = "RATE")]
    max_upload_rate: Option<u64>,
    /// Seconds between `stats` records.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    stats_interval: f64,
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

struct Served {
    torrent: bt::metainfo::Torrent,
    swarm: Arc<swarm::Swarm>,
    hash_hex: String,
}

fn seed(args: Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    let stop = swarm::stop_on_signals();
    let mode = args.common.mode();
    let json = mode == cli::Mode::Json;
    let out = Arc::new(Mutex::new(cli::Out::new(mode)));
    let opts = swarm::Options {
        max_peers: args.max_peers.max(1),
        upload_slots: args.upload_slots.max(1),
        max_upload_rate: args.max_upload_rate,
        download: false,
        ..swarm::Options::default()
    };
    let listener = swarm::Listener::bind(SocketAddr::new(args.bind, args.port))
        .with_context(|| format!("listening on {}:{}", args.bind, args.port))?;
    let local = listener.local_addr()?;
    let opts = swarm::Options {
        listen_port: local.port(),
        ..opts
    };

    let mut served = Vec::new();
    for path in &args.torrents {
        let bytes = std::fs::read(path).with_context(|| path.clone())?;
        let t = bt::metainfo::Torrent::from_bytes(&bytes).with_context(|| path.clone())?;
        let Some(info_hash) = t.info_hash else {
            bail!("{path}: v2-only torrents cannot be seeded yet");
        };
        if served
            .iter()
            .any(|s: &Served| s.torrent.info_hash == t.info_hash)
        {
            continue;
        }
        let have = if args.skip_verify {
            vec![true; t.pieces.len()]
        } else {
            let bar = cli::Progress::bytes(
                args.common.progress_allowed(),
                t.total_length,
                &format!("verifying {}", cli::escape_controls(&t.name_lossy())),
            );
            let storage = bt::storage::Storage::open(&t, &args.dir, bt::storage::Io::Mmap);
            let report =
                bt::verify::verify(&t, &storage, &bar.callback()).with_context(|| path.clone())?;
            bar.finish();
            report.have
        };
        let count = have.iter().filter(|h| **h).count();
        if count < have.len() && !args.common.quiet {
            eprintln!(
                "bt-seed: {}: serving {count} of {} pieces (the rest is missing or bad)",
                cli::escape_controls(&t.name_lossy()),
                have.len()
            );
        }
        let hash_hex = info_hash.hex();
        let events = {
            let out = out.clone();
            let hash_hex = hash_hex.clone();
            Box::new(move |e: swarm::Event| {
                if !json {
                    return;
                }
                if let Some(r) = swarm::event_record(&e, &hash_hex) {
                    let _ = out.lock().map(|mut o| o.json(&r));
                }
            })
        };
        let s = swarm::Swarm::new(
            info_hash.0,
            bt::peer::Limits::for_torrent(&t),
            t.pieces.clone(),
            &have,
            // Blocks are small: pread beats mapping a window per block.
            Arc::new(bt::storage::Storage::open(
                &t,
                &args.dir,
                bt::storage::Io::Plain,
            )),
            opts.clone(),
            events,
        )
        .context("no random peer id")?;
        served.push(Served {
            torrent: t,
            swarm: s,
            hash_hex,
        });
    }

    {
        let mut o = out.lock().map_err(|_| anyhow::anyhow!("output"))?;
        for s in &served {
            let r = ListeningRecord {
                addr: local.ip().to_string(),
                port: local.port(),
                info_hash: s.hash_hex.clone(),
                name: s.torrent.name_lossy(),
            };
            if json {
                o.json(&r)?;
            } else {
                o.line(&format!(
                    "listening on {} for {} ({})",
                    local,
                    cli::escape_controls(&r.name),
                    r.info_hash
                ))?;
            }
        }
    }
    let lstop = Arc::new(AtomicBool::new(false));
    let swarms: Vec<_> = served.iter().map(|s| s.swarm.clone()).collect();
    // Handshakes in progress are capped separately from working connections.
    listener.spawn(swarms, 128, opts.handshake_timeout, lstop.clone())?;
    let mut announcers = Vec::new();
    for s in &served {
        s.swarm.start();
        if args.no_announce {
            continue;
        }
        let tiers = bt::tracker::Tiers::from_torrent(&s.torrent);
        if tiers.is_empty() {
            continue;
        }
        let quiet = args.common.quiet;
        let name = cli::escape_controls(&s.torrent.name_lossy());
        announcers.push(swarm::announce::spawn(
            s.swarm.clone(),
            tiers,
            local.port(),
            bt::tracker::Options {
                bind: (!args.bind.is_unspecified()).then_some(args.bind),
                ..bt::tracker::Options::default()
            },
            lstop.clone(),
            Box::new(move |a| {
                if let (false, Some(e)) = (quiet, &a.error) {
                    eprintln!("bt-seed: {name}: announce {}: {e}", a.event);
                }
            }),
        ));
    }

    let every = Duration::from_secs_f64(args.stats_interval.max(0.1));
    let mut next = Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if Instant::now() < next {
            continue;
        }
        next += every;
        let mut o = out.lock().map_err(|_| anyhow::anyhow!("output"))?;
        for s in &served {
            let st = s.swarm.stats();
            let r = StatsRecord {
                info_hash: s.hash_hex.clone(),
                uploaded: st.uploaded,
                peers: st.peers,
                pieces: st.have,
                seconds: started.elapsed().as_secs_f64(),
            };
            if json {
                o.json(&r)?;
            } else {
                o.line(&format!(
                    "{}: {} peers, {} bytes uploaded",
                    cli::escape_controls(&s.torrent.name_lossy()),
                    st.peers,
                    st.uploaded
                ))?;
            }
        }
    }
    // Stopped by a signal: say goodbye to the trackers, then exit 0.
    lstop.store(true, Ordering::Relaxed);
    for s in &served {
        s.swarm.shutdown();
    }
    for a in announcers {
        let _ = a.join();
    }
    Ok(cli::EXIT_OK)
}
