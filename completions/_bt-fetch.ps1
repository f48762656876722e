
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-fetch' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-fetch'
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
        'bt-fetch' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Download directory; the data goes to DIR/NAME')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Download directory; the data goes to DIR/NAME')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`')
            [CompletionResult]::new('--max-peers', '--max-peers', [CompletionResultType]::ParameterName, 'Most simultaneous connections (at least 1)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up (exit 1) after this many seconds')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to accept connections on (0: any free port)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to accept connections on (and to connect from)')
            [CompletionResult]::new('--upload-slots', '--upload-slots', [CompletionResultType]::ParameterName, 'Peers unchoked at once when uploading')
            [CompletionResult]::new('--max-download-rate', '--max-download-rate', [CompletionResultType]::ParameterName, 'Download cap in bytes per second over all peers and web seeds, e.g. 500K or 10M (K = 1024)')
            [CompletionResult]::new('--max-upload-rate', '--max-upload-rate', [CompletionResultType]::ParameterName, 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)')
            [CompletionResult]::new('--web-seed', '--web-seed', [CompletionResultType]::ParameterName, 'An HTTP(S) mirror of the content (BEP 19; repeatable), fetched from besides the torrent''s own `url-list`: a file URL, or a directory URL ending in `/`')
            [CompletionResult]::new('--encryption', '--encryption', [CompletionResultType]::ParameterName, 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)')
            [CompletionResult]::new('--snub-timeout', '--snub-timeout', [CompletionResultType]::ParameterName, 'Drop a peer that sends no requested block for this many seconds')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Only this file: its path as bt-info shows it (below the torrent''s directory) or its index there (repeatable)')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Only the files this glob matches (repeatable; bt-make''s glob rules: `*` never crosses `/`, a glob without `/` matches a file name at any depth)')
            [CompletionResult]::new('--skip', '--skip', [CompletionResultType]::ParameterName, 'Leave out the files this glob matches (repeatable)')
            [CompletionResult]::new('--torrent-out', '--torrent-out', [CompletionResultType]::ParameterName, 'With a magnet link: write the complete .torrent to FILE once the metadata arrived')
            [CompletionResult]::new('--dht-bootstrap', '--dht-bootstrap', [CompletionResultType]::ParameterName, 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)')
            [CompletionResult]::new('--dht-state', '--dht-state', [CompletionResultType]::ParameterName, 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('--no-announce', '--no-announce', [CompletionResultType]::ParameterName, 'Do not announce to the torrent''s trackers')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Keep running as a seeder after the download completes (until SIGINT/SIGTERM)')
            [CompletionResult]::new('--peer-records', '--peer-records', [CompletionResultType]::ParameterName, 'Write `peer` connect/disconnect records')
            [CompletionResult]::new('--stdout', '--stdout', [CompletionResultType]::ParameterName, 'Write the content (a single-file torrent, or the one --file) to stdout in order while it downloads, each byte once its piece is verified; records then go to stderr')
            [CompletionResult]::new('--no-store', '--no-store', [CompletionResultType]::ParameterName, 'With --stdout: write nothing under DIR; keep only a window of 32 MiB (at least two pieces) of data in memory')
            [CompletionResult]::new('--sequential', '--sequential', [CompletionResultType]::ParameterName, 'Request pieces in order (the streaming picker, without --stdout)')
            [CompletionResult]::new('--keep-going', '--keep-going', [CompletionResultType]::ParameterName, 'With --stdout: keep downloading after stdout is closed (exit 0 otherwise)')
            [CompletionResult]::new('--progress-json', '--progress-json', [CompletionResultType]::ParameterName, 'Write a `progress` record about once per second (on stderr with --stdout)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Let --torrent-out replace an existing file')
            [CompletionResult]::new('--metadata-only', '--metadata-only', [CompletionResultType]::ParameterName, 'With a magnet link: stop (exit 0) once the metadata is fetched (and written)')
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
