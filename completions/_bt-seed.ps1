
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-seed' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-seed'
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
        'bt-seed' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Directory holding DIR/NAME for each torrent')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory holding DIR/NAME for each torrent')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0: any free port)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to listen on (and to connect from)')
            [CompletionResult]::new('--max-peers', '--max-peers', [CompletionResultType]::ParameterName, 'Most simultaneous connections per torrent (at least 1)')
            [CompletionResult]::new('--upload-slots', '--upload-slots', [CompletionResultType]::ParameterName, 'Peers unchoked at once, per torrent (plus one optimistic unchoke)')
            [CompletionResult]::new('--max-upload-rate', '--max-upload-rate', [CompletionResultType]::ParameterName, 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`: bt-seed dials it, as it dials the peers its trackers name, while it may lack pieces')
            [CompletionResult]::new('--encryption', '--encryption', [CompletionResultType]::ParameterName, 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)')
            [CompletionResult]::new('--stats-interval', '--stats-interval', [CompletionResultType]::ParameterName, 'Seconds between `stats` records')
            [CompletionResult]::new('--dht-bootstrap', '--dht-bootstrap', [CompletionResultType]::ParameterName, 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)')
            [CompletionResult]::new('--dht-state', '--dht-state', [CompletionResultType]::ParameterName, 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'Run as a daemon controlled through the Unix socket SOCKET (created mode 0600, only its owner may use it; default $XDG_RUNTIME_DIR/bt-seed.sock): torrents are added, paused, limited and listed with bt-ctl or bt-top. The torrents on the command line are served')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'With --control: keep the torrents added, their directories, pauses and limits in FILE (rewritten atomically) and add them again on start (resuming by verification)')
            [CompletionResult]::new('--watch-dir', '--watch-dir', [CompletionResultType]::ParameterName, 'With --control: add each .torrent dropped in DIR (fetched into --dir, then seeded), and remove it when its file is removed')
            [CompletionResult]::new('--watch-interval', '--watch-interval', [CompletionResultType]::ParameterName, 'Seconds between two looks at --watch-dir')
            [CompletionResult]::new('--control-tcp', '--control-tcp', [CompletionResultType]::ParameterName, 'With --control: also take commands on TCP at ADDR:PORT (or PORT, on 127.0.0.1); each client must send the token of --control-token first (bt-ctl --connect --token-file)')
            [CompletionResult]::new('--control-token', '--control-token', [CompletionResultType]::ParameterName, 'The file holding the TCP control token; refused unless only its owner may read it (mode 0600)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('--skip-verify', '--skip-verify', [CompletionResultType]::ParameterName, 'Trust the data without verifying it first')
            [CompletionResult]::new('--no-announce', '--no-announce', [CompletionResultType]::ParameterName, 'Do not announce to the torrents'' trackers')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a line on stderr for each peer that connects or disconnects')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a line on stderr for each peer that connects or disconnects')
            [CompletionResult]::new('--no-dht', '--no-dht', [CompletionResultType]::ParameterName, 'Do not use the DHT (private torrents never do). The environment variable BT_NO_DHT=1 does the same (the test suite and the scripts set it for every run that is not a DHT test, so nothing reaches the default routers)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars and no diagnostics on stderr except errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars and no diagnostics on stderr except errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
