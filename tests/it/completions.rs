//! Integration tests: the committed shell completions match the clap definitions.

use crate::common::*;

const TOOLS: [&str; 8] = [
    "bt-make",
    "bt-info",
    "bt-announce",
    "bt-fetch",
    "bt-verify",
    "bt-seed",
    "bt-ctl",
    "bt-top",
];

/// (shell name for `--completions`, file name pattern in completions/)
const SHELLS: [(&str, &str); 5] = [
    ("bash", "{}.bash"),
    ("zsh", "_{}"),
    ("fish", "{}.fish"),
    ("elvish", "{}.elv"),
    ("powershell", "_{}.ps1"),
];

#[test]
fn completions_are_fresh_for_every_tool_and_shell() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let mut stale = Vec::new();
    for tool in TOOLS {
        for (shell, pattern) in SHELLS {
            let run = bt(tool, &["--completions", shell]);
            assert_eq!(run.code, 0, "{tool} --completions {shell}: {}", run.stderr);
            assert!(
                run.stdout.len() > 200 && run.stdout_str().contains(tool),
                "{tool} --completions {shell} printed too little"
            );
            let file = dir.join(pattern.replace("{}", tool));
            match std::fs::read(&file) {
                Ok(committed) if committed == run.stdout => {}
                _ => stale.push(file.display().to_string()),
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale completions (run scripts/gen-completions): {stale:?}"
    );
}

#[test]
fn unknown_shell_is_an_error() {
    let run = bt("bt-info", &["--completions", "tcsh"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("bt-info: error: unknown shell \"tcsh\""),
        "{}",
        run.stderr
    );
}

#[test]
fn man_pages_are_fresh_and_render() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut stale = Vec::new();
    for tool in TOOLS {
        let run = bt(tool, &["--man"]);
        assert_eq!(run.code, 0, "{tool} --man: {}", run.stderr);
        assert!(
            run.stdout_str().contains(".TH") && run.stdout_str().contains(tool),
            "{tool} --man is not a man page"
        );
        let file = dir.join(format!("{tool}.1"));
        match std::fs::read(&file) {
            Ok(committed) if committed == run.stdout => {}
            _ => stale.push(file.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages (run scripts/gen-completions): {stale:?}"
    );
    assert!(
        have("man"),
        "man (man-db) is not installed (run ./scripts/test)"
    );
    let page = dir.join("bt-verify.1");
    let r = run_cmd(
        std::process::Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80"),
        None,
        std::time::Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "man -l {}: {}", page.display(), r.stderr);
    let text = r.stdout_str();
    assert!(
        text.contains("bt-verify") && text.contains("--bad-pieces"),
        "{text}"
    );
}

#[test]
fn help_says_where_completions_and_man_pages_are() {
    for tool in TOOLS {
        let run = bt(tool, &["--help"]);
        assert_eq!(run.code, 0, "{tool} --help");
        let text = run.stdout_str();
        assert!(
            text.contains("--completions") && text.contains("--man"),
            "{tool} --help: {text}"
        );
    }
}

/// clap's own errors are one line with the tool's prefix, and exit 2.
#[test]
fn usage_errors_are_one_line_with_the_tool_prefix() {
    for tool in TOOLS {
        let run = bt(tool, &["--no-such-flag"]);
        assert_eq!(run.code, 2, "{tool}: {}", run.stderr);
        let err = run.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "{tool}: {err:?}");
        assert!(
            err.starts_with(&format!(
                "{tool}: error: unexpected argument '--no-such-flag' found"
            )),
            "{tool}: {err}"
        );
        assert!(err.ends_with("(see --help)"), "{tool}: {err}");
    }
    let run = bt("bt-verify", &[]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim_end(),
        "bt-verify: error: the following required arguments were not provided: <TORRENT|-> (see --help)"
    );
    let run = bt("bt-info", &["--jsno"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("similar argument exists: '--json'"),
        "{}",
        run.stderr
    );
}

/// `-j` and `-q` only where they do something; `--color` everywhere (error messages).
#[test]
fn flags_are_offered_only_where_they_do_something() {
    let offers = |tool: &str, flag: &str| bt(tool, &["--help"]).stdout_str().contains(flag);
    for tool in TOOLS {
        assert!(offers(tool, "--color <WHEN>"), "{tool} --color");
        // bt-top draws a terminal UI and writes no records.
        assert_eq!(
            offers(tool, "      --json"),
            tool != "bt-top",
            "{tool} --json"
        );
    }
    for tool in ["bt-make", "bt-verify", "bt-fetch", "bt-seed"] {
        assert!(offers(tool, "--jobs"), "{tool} -j");
        assert!(offers(tool, "--quiet"), "{tool} -q");
    }
    assert!(offers("bt-announce", "--quiet"));
    assert!(!offers("bt-announce", "--jobs"));
    assert!(!offers("bt-info", "--jobs") && !offers("bt-info", "--quiet"));
    for (tool, flag) in [("bt-info", "-j"), ("bt-info", "-q"), ("bt-announce", "-j")] {
        let run = bt(tool, &[flag, "1", "x.torrent"]);
        assert_eq!(run.code, 2, "{tool} {flag}");
        assert!(
            run.stderr
                .starts_with(&format!("{tool}: error: unexpected argument '{flag}'")),
            "{tool} {flag}: {}",
            run.stderr
        );
    }
}

/// `--color`: always colors even on a pipe, never does not, auto honours NO_COLOR and
/// TERM=dumb on a terminal.
#[test]
fn color_flag_and_no_color() {
    let red = "\u{1b}[1;31merror:\u{1b}[0m";
    let run = bt("bt-info", &["--color", "always", "/nonexistent.torrent"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with(&format!("bt-info: {red} /nonexistent.torrent")),
        "{:?}",
        run.stderr
    );
    let run = bt("bt-info", &["--color=never", "/nonexistent.torrent"]);
    assert!(
        run.stderr
            .starts_with("bt-info: error: /nonexistent.torrent"),
        "{:?}",
        run.stderr
    );
    // On a pipe, auto means no color.
    let run = bt("bt-info", &["/nonexistent.torrent"]);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);

    let info = bin("bt-info");
    let cmd = format!("{} /nonexistent.torrent", info.display());
    let (code, shown) = on_terminal(&cmd, &[]);
    assert_eq!(code, 2);
    assert!(shown.contains(red), "auto on a terminal colors: {shown:?}");
    let (code, shown) = on_terminal(&cmd, &[("NO_COLOR", "1")]);
    assert_eq!(code, 2);
    assert!(
        shown.starts_with("bt-info: error: /nonexistent.torrent"),
        "NO_COLOR: {shown:?}"
    );
    let (_, shown) = on_terminal(&cmd, &[("TERM", "dumb")]);
    assert!(!shown.contains('\u{1b}'), "TERM=dumb: {shown:?}");
    // An explicit --color always wins over NO_COLOR.
    let (_, shown) = on_terminal(
        &format!("{} --color always /nonexistent.torrent", info.display()),
        &[("NO_COLOR", "1")],
    );
    assert!(shown.contains(red), "{shown:?}");
}
