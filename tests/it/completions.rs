//! Integration tests: the committed shell completions match the clap definitions.

use crate::common::*;

const TOOLS: [&str; 6] = [
    "bt-make",
    "bt-info",
    "bt-announce",
    "bt-fetch",
    "bt-verify",
    "bt-seed",
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
    assert!(run.stderr.contains("unknown shell"));
}
