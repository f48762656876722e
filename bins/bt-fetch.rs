//! bt-fetch: download a torrent from peers into DIR/NAME, verifying every piece.
use anyhow::{bail, Context};
use bt::cli::{self, Common};
use bt::record::{FetchSummaryRecord, ProgressRecord};
use bt::swarm::{self, Outcome};
use clap::Parser;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Download a torrent from peers into DIR/NAME, verifying every piece.
///
/// Peers come from --peer, else from standard input when it is a pipe (bt-announce's `peer`
/// records, or `ip:port` lines, IPv6 as `[addr]:port`), else from the torrent's trackers.
/// Existing data in DIR/NAME is verified first and only missing pieces are fetched, so an
/// interrupted download resumes where it stopped.
#[derive(Parser, Debug)]
#[command(name = "bt-fetch", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The .torrent file (`-` for stdin is not supported: stdin carries peers).
    torrent: String,
    /// Download directory; the data goes to DIR/NAME.
    #[arg(short, long, default_value = ".")]
    dir: PathBuf,
    /// A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`.
    #[arg(long = "peer", value_name = "ADDR:PORT")]
    peers: Vec<String>,
    /// Do not announce to the torrent's trackers.
    #[arg(long)]
    no_announce: bool,
    /// Most simultaneous connections.
    #[arg(long, default_value_t = 30, value_name = "N")]
    max_peers: usize,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Keep running as a seeder after the download completes (until SIGINT/SIGTERM).
    #[arg(long)]
    seed: bool,
    /// Write a `progress` record about once per second.
    #[arg(long)]
    progress_json: bool,
    /// Write `peer` connect/disconnect records.
    #[arg(long)]
    peer_records: bool,
    /// Port to accept connections on (0: any free port).
    #[arg(long, default_value_t = 0, value_name = "N")]
    port: u16,
    /// Address to accept connections on.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    bind: std::net::IpAddr,
    /// Peers unchoked at once when uploading.
    #[arg(long, default_value_t = 4, value_name = "N")]
    upload_slots: usize,
    /// Upload cap in bytes per second (accepts K/M/G suffixes).
    #[arg(long, value_parser = cli::parse_size, value_name = "RATE")]
    max_upload_rate: Option<u64>,
    /// Drop a peer that sends no requested block for this many seconds.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    snub_timeout: u64,
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

fn parse_peer(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("--peer {s:?} is not ADDR:PORT"))
}

fn fetch(args: Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    let stop = swarm::stop_on_signals();
    let bytes = std::fs::read(&args.torrent).with_context(|| args.torrent.clone())?;
    let t = bt::metainfo::Torrent::from_bytes(&bytes).with_context(|| args.torrent.clone())?;
    let Some(info_hash) = t.info_hash else {
        bail!(
            "{}: v2-only torrents cannot be downloaded yet",
            args.torrent
        );
    };
    let direct: Vec<SocketAddr> = args
        .peers
        .iter()
        .map(|p| parse_peer(p))
        .collect::<anyhow::Result<_>>()?;
    let mode = args.common.mode();
    let out = Arc::new(Mutex::new(cli::Out::new(mode)));
    let json = mode == cli::Mode::Json;

    // Resume: verify what is already there (only if something is).
    let existed = t
        .files
        .iter()
        .any(|f| !f.pad && args.dir.join(t.file_path(f)).exists());
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let storage = bt::storage::Storage::create(&t, &args.dir, bt::storage::Io::Mmap)
        .with_context(|| format!("preparing {}", args.dir.join(t.name_lossy()).display()))?;
    let mut have = vec![false; t.pieces.len()];
    if existed {
        let bar = cli::Progress::bytes(args.common.progress_allowed(), t.total_length, "verifying");
        let report = bt::verify::verify(&t, &storage, &bar.callback())
            .with_context(|| format!("verifying {}", args.dir.display()))?;
        bar.finish();
        have = report.have;
    }
    let at_start = have.iter().filter(|h| **h).count() as u32;

    let limits = bt::peer::Limits::for_torrent(&t);
    let listener = swarm::Listener::bind(SocketAddr::new(args.bind, args.port))
        .with_context(|| format!("listening on {}:{}", args.bind, args.port))?;
    let port = listener.local_addr()?.port();
    let opts = swarm::Options {
        max_peers: args.max_peers.max(1),
        upload_slots: args.upload_slots,
        max_upload_rate: args.max_upload_rate,
        snub_timeout: Duration::from_secs(args.snub_timeout.max(1)),
        listen_port: port,
        // Outgoing connections leave from the --bind address too (one address per client).
        bind: (!args.bind.is_unspecified()).then_some(args.bind),
        ..swarm::Options::default()
    };
    let hash_hex = info_hash.hex();
    let events = {
        let out = out.clone();
        let hash_hex = hash_hex.clone();
        let peer_records = args.peer_records && json;
        let quiet = args.common.quiet;
        Box::new(move |e: swarm::Event| {
            if let swarm::Event::Banned { addr } = &e {
                if !quiet {
                    eprintln!("bt-fetch: banned {addr}: it sent bad data twice");
                }
            }
            if peer_records {
                if let Some(r) = swarm::event_record(&e, &hash_hex) {
                    let _ = out.lock().map(|mut o| o.json(&r));
                }
            }
        })
    };
    // Blocks are small: pread/pwrite beat mapping a window per block.
    let store = Arc::new(storage.with_io(bt::storage::Io::Plain));
    let s = swarm::Swarm::new(
        info_hash.0,
        limits,
        t.pieces.clone(),
        &have,
        store,
        opts.clone(),
        events,
    )
    .context("no random peer id")?;
    let lstop = Arc::new(AtomicBool::new(false));
    listener.spawn(vec![s.clone()], 64, opts.handshake_timeout, lstop.clone())?;

    // Peer sources, in order of precedence: --peer, stdin, trackers. Standard input that
    // ends without naming any peer (such as /dev/null) falls through to the trackers.
    let tiers = bt::tracker::Tiers::from_torrent(&t);
    let announce = !args.no_announce && !tiers.is_empty();
    let quiet = args.common.quiet;
    let start_announcer = {
        let (s, lstop) = (s.clone(), lstop.clone());
        move || {
            swarm::announce::spawn(
                s,
                tiers,
                port,
                bt::tracker::Options {
                    bind: (!args.bind.is_unspecified()).then_some(args.bind),
                    ..bt::tracker::Options::default()
                },
                lstop,
                Box::new(move |a| {
                    if let (false, Some(e)) = (quiet, &a.error) {
                        eprintln!("bt-fetch: announce: {e}");
                    }
                }),
            )
        }
    };
    let announcer = Arc::new(Mutex::new(None));
    if !direct.is_empty() {
        s.add_peers(&direct);
    } else if !std::io::stdin().is_terminal() {
        s.source_opened();
        let (s2, announcer) = (s.clone(), announcer.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                match bt::record::peer_from_line(&line) {
                    Ok(Some(a)) => {
                        n += 1;
                        s2.add_peers(&[a]);
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("bt-fetch: skipping input: {e}"),
                }
            }
            if n == 0 && announce {
                if let Ok(mut a) = announcer.lock() {
                    *a = Some(start_announcer());
                }
            }
            s2.source_closed();
        });
    } else if announce {
        *announcer.lock().map_err(|_| anyhow::anyhow!("announcer"))? = Some(start_announcer());
    } else if at_start as usize == t.pieces.len() {
        // Nothing to fetch: no peer needed.
    } else if args.no_announce {
        bail!("no peers: give --peer ADDR:PORT or pipe peers into stdin (--no-announce is set)");
    } else {
        bail!(
            "no peers: the torrent has no trackers; give --peer ADDR:PORT or pipe peers into stdin"
        );
    }
    s.start();

    let bar = cli::Progress::bytes(args.common.progress_allowed(), t.total_length, "fetching");
    let deadline = args
        .timeout
        .map(|secs| started + Duration::from_secs_f64(secs.max(0.0)));
    let mut last = (Instant::now(), 0u64);
    let mut shown = s.stats().have_bytes;
    bar.inc(shown);
    let outcome = loop {
        let slice = Instant::now() + Duration::from_secs(1);
        let until = deadline.map_or(slice, |d| d.min(slice));
        match s.wait(Some(until), stop) {
            Outcome::TimedOut if deadline.is_none_or(|d| Instant::now() < d) => {}
            other => break other,
        }
        let st = s.stats();
        bar.inc(st.have_bytes.saturating_sub(shown));
        shown = st.have_bytes;
        bar.message(format!("fetching, {} peers", st.peers));
        let rate = (st.downloaded - last.1) as f64 / last.0.elapsed().as_secs_f64().max(0.001);
        last = (Instant::now(), st.downloaded);
        if args.progress_json && json {
            let r = ProgressRecord {
                pieces_have: st.have,
                pieces: st.pieces,
                bytes_have: st.have_bytes,
                bytes_total: t.total_length,
                bytes_downloaded: st.downloaded,
                rate: rate as u64,
                peers: st.peers,
                seconds: started.elapsed().as_secs_f64(),
            };
            out.lock()
                .map_err(|_| anyhow::anyhow!("output"))?
                .json(&r)?;
        }
    };
    bar.finish();
    if outcome == Outcome::Complete && args.seed {
        if !args.common.quiet {
            eprintln!("bt-fetch: complete; seeding until interrupted");
        }
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let st = s.stats();
    s.shutdown();
    lstop.store(true, Ordering::Relaxed);
    let handle = announcer.lock().ok().and_then(|mut a| a.take());
    if let Some(a) = handle {
        let _ = a.join();
    }
    let reason = match &outcome {
        Outcome::Complete => None,
        Outcome::TimedOut => Some("timeout reached".to_string()),
        Outcome::NoPeers => Some("no peers left".to_string()),
        Outcome::Stopped => Some("interrupted".to_string()),
        Outcome::Error(e) => Some(e.clone()),
    };
    let summary = FetchSummaryRecord {
        complete: outcome == Outcome::Complete,
        bytes_downloaded: st.downloaded,
        bytes_uploaded: st.uploaded,
        seconds: started.elapsed().as_secs_f64(),
        peers_used: st.peers_used,
        bad_pieces: st.bad_pieces,
        pieces: st.pieces,
        pieces_at_start: at_start,
        pieces_fetched: st.have - at_start,
        reason: reason.clone(),
    };
    {
        let mut o = out.lock().map_err(|_| anyhow::anyhow!("output"))?;
        if json {
            o.json(&summary)?;
        } else {
            o.line(&format!(
                "{}: {} of {} pieces ({} fetched, {} at start), {} bytes downloaded in {:.1} s from {} peers, {} bad pieces{}",
                cli::escape_controls(&t.name_lossy()),
                st.have,
                st.pieces,
                summary.pieces_fetched,
                at_start,
                st.downloaded,
                summary.seconds,
                st.peers_used,
                st.bad_pieces,
                reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ))?;
        }
    }
    match outcome {
        Outcome::Complete => Ok(cli::EXIT_OK),
        Outcome::Error(e) => bail!("{e}"),
        _ => {
            if !args.common.quiet {
                eprintln!(
                    "bt-fetch: gave up with {} of {} pieces: {}",
                    st.have,
                    st.pieces,
                    reason.unwrap_or_default()
                );
            }
            Ok(cli::EXIT_NEGATIVE)
        }
    }
}
