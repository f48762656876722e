//! `bt-info`: show what a torrent file or a magnet link contains.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use bt::bencode::Limits;
use bt::cli::{self, Common, Mode, Out};
use bt::metainfo::{Magnet, Torrent};
use bt::record::TorrentRecord;
use clap::Parser;

/// Show what a .torrent file or a magnet link contains: info hashes, files, trackers, magnet.
///
/// Writes one JSON object (`"type": "torrent"`, see lib/record.rs) when stdout is not a
/// terminal, an aligned view when it is. The file is validated first (strict bencode, piece
/// geometry, safe paths, v2 merkle layers); an invalid torrent is an error (exit 2).
#[derive(Parser, Debug)]
#[command(name = "bt-info", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// A .torrent file, a magnet link, or - for stdin (the default when stdin is a pipe).
    #[arg(value_name = "TORRENT|MAGNET|-")]
    input: Option<String>,
    /// Also list the v1 piece hashes (hex).
    #[arg(long)]
    pieces: bool,
    #[command(flatten)]
    common: Common,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-info");
    cli::run("bt-info", || {
        let args = Args::parse();
        let input = match args.input.as_deref() {
            Some(i) => i,
            None if std::io::stdin().is_terminal() => {
                anyhow::bail!("no torrent given: pass a .torrent path, a magnet link, or pipe a torrent into stdin (see --help)")
            }
            None => "-",
        };
        let record = if input
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            let m = Magnet::parse(input).context("magnet link")?;
            TorrentRecord::from_magnet(&m)
        } else {
            let label = if input == "-" { "<stdin>" } else { input };
            let bytes = read_limited(input).with_context(|| label.to_string())?;
            let t = Torrent::from_bytes(&bytes).with_context(|| label.to_string())?;
            TorrentRecord::from_torrent(&t, args.pieces)
        };
        let mut out = Out::new(args.common.mode());
        match out.mode {
            Mode::Json => out.json(&record)?,
            Mode::Human => out.line(&record.human())?,
        }
        Ok(cli::EXIT_OK)
    })
}

/// Read a torrent from a path or `-`, never more than the bencode size limit (plus one byte, so
/// an oversized input is refused by the decoder instead of filling memory: `/dev/zero` included).
fn read_limited(input: &str) -> anyhow::Result<Vec<u8>> {
    let limit = Limits::default().max_size as u64 + 1;
    let mut buf = Vec::new();
    if input == "-" {
        if std::io::stdin().is_terminal() {
            anyhow::bail!("stdin is a terminal: pipe a torrent into it, or pass a path");
        }
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(input)?
            .take(limit)
            .read_to_end(&mut buf)?;
    }
    Ok(buf)
}
