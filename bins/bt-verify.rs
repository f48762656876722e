//! bt-verify: check data on disk against a torrent, piece by piece, with a per-file report.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;

use bt::cli::{self, Common, Mode, Out};
use bt::metainfo::hex;
use bt::record::{VerifyExtra, VerifyFile, VerifySummary};
use bt::storage::{Io, Storage};
use bt::verify::{self, FileStatus};

/// Check that the data in `DIR/<name>` (or at `--content`) is exactly what a torrent describes:
/// every piece is hashed in parallel and each file gets a verdict (complete, incomplete,
/// missing, wrong_size, unreadable). Exit 0 only when every piece matches and every file has
/// its exact length. A DIR or PATH that does not exist, or is of the wrong kind (a file for a
/// multi-file torrent), is an error (exit 2).
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

/// `path` as text, plus its raw bytes in hex when it is not UTF-8.
fn path_text(p: &Path) -> (String, Option<String>) {
    match p.to_str() {
        Some(s) => (s.to_string(), None),
        None => (
            p.to_string_lossy().into_owned(),
            Some(hex(p.as_os_str().as_bytes())),
        ),
    }
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-verify");
    cli::run("bt-verify", || {
        let args = Args::parse();
        args.common.init_jobs();
        let t = cli::read_torrent(&args.torrent)?;
        check_paths(&t, &args)?;
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
            .map(|f| {
                let (path, path_hex) = path_text(&t.file_path(&t.files[f.file]));
                VerifyFile {
                    kind: "file".into(),
                    path,
                    path_hex,
                    length: f.length,
                    status: f.status.as_str().into(),
                    bad_pieces: f.bad_pieces.len(),
                    shared_bad_pieces: f.shared_bad_pieces,
                    pieces: f.pieces.len(),
                    bytes_on_disk: f.bytes_on_disk,
                    bad_piece_indices: args.bad_pieces.then(|| f.bad_pieces.clone()),
                    error: f.error.clone(),
                }
            })
            .collect();
        let extras: Vec<VerifyExtra> = if args.extra && !t.single_file {
            verify::extra_files(&storage, &root, 100_000)
                .into_iter()
                .map(|(p, bytes)| {
                    let rel = p.strip_prefix(&base).unwrap_or(&p);
                    let (path, path_hex) = path_text(rel);
                    VerifyExtra {
                        kind: "extra".into(),
                        path,
                        path_hex,
                        bytes,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let bad = report.bad_pieces();
        let summary = VerifySummary {
            kind: "summary".into(),
            ok: report.ok(),
            pieces: report.have.len(),
            good_pieces: report.good_pieces(),
            bad_pieces: bad.len(),
            bytes_checked: report.bytes_checked,
            seconds,
            files: report.files.len(),
            bad_files: report
                .files
                .iter()
                .filter(|f| f.status != FileStatus::Complete)
                .count(),
            extra_files: args.extra.then_some(extras.len()),
            info_hash: t.info_hash.map(|h| h.hex()),
            bad_piece_indices: args.bad_pieces.then_some(bad),
        };
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

/// Refuse paths that cannot hold the content (exit 2, one line): a `-d DIR` or `--content PATH`
/// that does not exist (most likely a typo: a report of every file missing would bury it), a
/// DIR that is not a directory, a multi-file torrent's content that is a file, a single-file
/// torrent's content that is a directory. When DIR exists but `DIR/<name>` of a multi-file
/// torrent does not, the check goes on (every file is missing: exit 1) with a note that says so.
fn check_paths(t: &bt::metainfo::Torrent, args: &Args) -> anyhow::Result<()> {
    let shown = |p: &Path| cli::escape_controls(&p.display().to_string());
    let kind = |p: &Path, is_dir: bool| -> anyhow::Result<()> {
        if t.single_file && is_dir {
            anyhow::bail!(
                "{}: is a directory, but the torrent is one file: --content takes that file",
                shown(p)
            );
        }
        if !t.single_file && !is_dir {
            anyhow::bail!(
                "{}: not a directory, but the torrent has {} files: give the directory that holds them",
                shown(p),
                t.files.len()
            );
        }
        Ok(())
    };
    if let Some(c) = &args.content {
        return match std::fs::metadata(c) {
            Ok(m) => kind(c, m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!("--content {}: no such file or directory", shown(c))
            }
            Err(e) => anyhow::bail!("--content {}: {e}", shown(c)),
        };
    }
    match std::fs::metadata(&args.dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => anyhow::bail!("-d {}: not a directory", shown(&args.dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("-d {}: no such directory", shown(&args.dir))
        }
        Err(e) => anyhow::bail!("-d {}: {e}", shown(&args.dir)),
    }
    if t.single_file {
        return Ok(());
    }
    let root = args
        .dir
        .join(t.file_path(&t.files[0]).iter().next().unwrap_or_default());
    match std::fs::metadata(&root) {
        Ok(m) => kind(&root, m.is_dir()),
        Err(_) => {
            args.common.note(
                "bt-verify",
                &format!("{}: no such directory: every file is missing", shown(&root)),
            );
            Ok(())
        }
    }
}

fn human(
    out: &mut Out,
    files: &[VerifyFile],
    extras: &[VerifyExtra],
    s: &VerifySummary,
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
    let rate = s.bytes_checked as f64 / s.seconds.max(1e-9) / 1e9;
    out.line(&format!(
        "{}: {}/{} pieces good, {} of {} files bad, {} bytes checked in {:.2} s ({rate:.2} GB/s)",
        if s.ok { "OK" } else { "FAILED" },
        s.good_pieces,
        s.pieces,
        s.bad_files,
        s.files,
        s.bytes_checked,
        s.seconds
    ))
}
