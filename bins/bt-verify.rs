//! bt-verify: check data on disk against a torrent, piece by piece, with a per-file report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;

use bt::cli::{self, Common, Mode, Out};
use bt::record::{SummaryRecord, VerifyExtra, VerifyFile};
use bt::storage::{Io, Storage};
use bt::verify;

/// Check that the data in `DIR/<name>` (or at `--content`) is exactly what a torrent describes:
/// every piece is hashed in parallel and each file gets a verdict (complete, incomplete,
/// missing, wrong_size, unreadable). Exit 0 only when every piece matches and every file has
/// its exact length.
#[derive(Debug, Parser)]
#[command(name = "bt-verify", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The torrent file, or `-` for standard input.
    #[arg(value_name = "TORRENT|-")]
    torrent: String,
    /// Directory holding the torrent's content as `DIR/<name>`.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The content itself (the file of a single-file torrent, or the directory of a
    /// multi-file one), instead of `DIR/<name>`.
    #[arg(long, value_name = "PATH", conflicts_with = "dir")]
    content: Option<PathBuf>,
    /// List the bad piece indices (in file records and the summary).
    #[arg(long)]
    bad_pieces: bool,
    /// Also report files in the content directory that the torrent does not list.
    #[arg(long)]
    extra: bool,
    /// Read with pread instead of memory maps (same results).
    #[arg(long)]
    no_mmap: bool,
    #[command(flatten)]
    common: Common,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-verify");
    cli::run("bt-verify", || {
        let args = Args::parse();
        args.common.init_jobs();
        let t = cli::read_torrent(&args.torrent)?;
        let io = if args.no_mmap { Io::Plain } else { Io::Mmap };
        let (storage, root, base) = match &args.content {
            Some(c) => {
                let base = c.parent().map(Path::to_path_buf).unwrap_or_default();
                (Storage::open_content(&t, c, io), c.clone(), base)
            }
            None => (
                Storage::open(&t, &args.dir, io),
                args.dir
                    .join(t.file_path(&t.files[0]).iter().next().unwrap_or_default()),
                args.dir.clone(),
            ),
        };
        let bar = cli::Progress::bytes(
            args.common.progress_allowed(),
            t.total_length,
            &format!("verifying {}", cli::escape_controls(&t.name_lossy())),
        );
        let start = Instant::now();
        let report = verify::verify(&t, &storage, &bar.callback())?;
        let seconds = start.elapsed().as_secs_f64();
        bar.finish();

        let mut out = Out::new(args.common.mode());
        let files: Vec<VerifyFile> = report
            .files
            .iter()
            .map(|f| VerifyFile::from_report(&t, f, args.bad_pieces))
            .collect();
        let extras: Vec<VerifyExtra> = if args.extra && !t.single_file {
            verify::extra_files(&storage, &root, 100_000)
                .into_iter()
                .map(|(p, bytes)| VerifyExtra::new(p.strip_prefix(&base).unwrap_or(&p), bytes))
                .collect()
        } else {
            Vec::new()
        };
        let summary = SummaryRecord::from_verify(
            &t,
            &report,
            seconds,
            args.extra.then_some(extras.len()),
            args.bad_pieces,
        );
        match out.mode {
            Mode::Json => {
                for f in &files {
                    out.json(f)?;
                }
                for e in &extras {
                    out.json(e)?;
                }
                out.json(&summary)?;
            }
            Mode::Human => human(&mut out, &files, &extras, &summary)?,
        }
        Ok(if summary.ok {
            cli::EXIT_OK
        } else {
            cli::EXIT_NEGATIVE
        })
    })
}

fn human(
    out: &mut Out,
    files: &[VerifyFile],
    extras: &[VerifyExtra],
    s: &SummaryRecord,
) -> std::io::Result<()> {
    out.line(&format!(
        "{:<11} {:>13} {:>15}  {}",
        "STATUS", "BAD/PIECES", "BYTES", "PATH"
    ))?;
    for f in files {
        let mut line = format!(
            "{:<11} {:>13} {:>15}  {}",
            f.status,
            format!("{}/{}", f.bad_pieces, f.pieces),
            f.length,
            cli::escape_controls(&f.path)
        );
        if f.status == "wrong_size" {
            line.push_str(&format!(" ({} on disk)", f.bytes_on_disk));
        }
        if f.shared_bad_pieces > 0 {
            line.push_str(&format!(
                " ({} bad pieces shared with other files)",
                f.shared_bad_pieces
            ));
        }
        if let Some(list) = &f.bad_piece_indices {
            if !list.is_empty() {
                line.push_str(&format!(" bad: {list:?}"));
            }
        }
        if let Some(e) = &f.error {
            line.push_str(&format!(" [{}]", cli::escape_controls(e)));
        }
        out.line(&line)?;
    }
    for e in extras {
        out.line(&format!(
            "{:<11} {:>13} {:>15}  {}",
            "extra",
            "-",
            e.bytes,
            cli::escape_controls(&e.path)
        ))?;
    }
    let rate = s.bytes_checked.unwrap_or(0) as f64 / s.seconds.max(1e-9) / 1e9;
    out.line(&format!(
        "{}: {}/{} pieces good, {} of {} files bad, {} bytes checked in {:.2} s ({rate:.2} GB/s)",
        if s.ok { "OK" } else { "FAILED" },
        s.good_pieces.unwrap_or(0),
        s.pieces,
        s.bad_files.unwrap_or(0),
        s.files.unwrap_or(0),
        s.bytes_checked.unwrap_or(0),
        s.seconds
    ))
}
