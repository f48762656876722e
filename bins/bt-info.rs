//! `bt-info`: show what a torrent file or a magnet link contains.

use std::io::IsTerminal;

use anyhow::Context;
use bt::cli::{self, Common, Mode, Out};
use bt::metainfo::Magnet;
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
            let t = cli::read_torrent(input)?;
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
