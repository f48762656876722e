
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-ctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-ctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'bt-ctl' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet''s metadata comes from its x.pe peers, its trackers and --peer')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the torrents (one `status` record each)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the torrents (one `status` record each)')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Stop a torrent''s transfers; it stays listed, its data stays on disk')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Start a paused torrent again (what is on disk is verified, not fetched again)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Stop a torrent and forget it; its files stay on disk')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Stop a torrent and forget it; its files stay on disk')
            [CompletionResult]::new('limit', 'limit', [CompletionResultType]::ParameterValue, 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Stream every torrent''s `status` each interval until interrupted')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bt-ctl;add' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Directory holding DIR/NAME')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory holding DIR/NAME')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer to dial (repeatable), besides those the trackers name')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--seed-only', '--seed-only', [CompletionResultType]::ParameterName, 'Serve what is on disk, never download')
            [CompletionResult]::new('--paused', '--paused', [CompletionResultType]::ParameterName, 'Add it paused')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;ls' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--detail', '--detail', [CompletionResultType]::ParameterName, 'Include the files and connected peers')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;list' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--detail', '--detail', [CompletionResultType]::ParameterName, 'Include the files and connected peers')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;pause' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;resume' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;rm' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;remove' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;limit' {
            [CompletionResult]::new('--down', '--down', [CompletionResultType]::ParameterName, 'Download limit in bytes per second')
            [CompletionResult]::new('--up', '--up', [CompletionResultType]::ParameterName, 'Upload limit in bytes per second')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;watch' {
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Seconds between two rounds')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The file holding the daemon''s token (with --connect)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'bt-ctl;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet''s metadata comes from its x.pe peers, its trackers and --peer')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the torrents (one `status` record each)')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Stop a torrent''s transfers; it stays listed, its data stays on disk')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Start a paused torrent again (what is on disk is verified, not fetched again)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Stop a torrent and forget it; its files stay on disk')
            [CompletionResult]::new('limit', 'limit', [CompletionResultType]::ParameterValue, 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Stream every torrent''s `status` each interval until interrupted')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bt-ctl;help;add' {
            break
        }
        'bt-ctl;help;ls' {
            break
        }
        'bt-ctl;help;pause' {
            break
        }
        'bt-ctl;help;resume' {
            break
        }
        'bt-ctl;help;rm' {
            break
        }
        'bt-ctl;help;limit' {
            break
        }
        'bt-ctl;help;watch' {
            break
        }
        'bt-ctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
