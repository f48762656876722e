
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-announce' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-announce'
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
        'bt-announce' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port we report to the trackers (default 6881); with --dht, announce us at it')
            [CompletionResult]::new('--event', '--event', [CompletionResultType]::ParameterName, 'The announce event: started, completed, stopped or none')
            [CompletionResult]::new('--numwant', '--numwant', [CompletionResultType]::ParameterName, 'How many peers to ask for (default: the tracker''s choice)')
            [CompletionResult]::new('--peer-id', '--peer-id', [CompletionResultType]::ParameterName, 'Our peer id as 40 hex digits (default: -BT0100- and 12 random bytes)')
            [CompletionResult]::new('--left', '--left', [CompletionResultType]::ParameterName, 'Bytes we still miss (default: the whole torrent; 16384 for a magnet link)')
            [CompletionResult]::new('--uploaded', '--uploaded', [CompletionResultType]::ParameterName, 'Bytes uploaded so far')
            [CompletionResult]::new('--downloaded', '--downloaded', [CompletionResultType]::ParameterName, 'Bytes downloaded so far')
            [CompletionResult]::new('--tracker', '--tracker', [CompletionResultType]::ParameterName, 'Ask this tracker instead of the torrent''s (repeatable; asked in the order given). An http://, https:// or udp://host:port URL; anything else is a usage error')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each tracker: more than 0 and at most 3600 (fractions allowed)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Local address to announce from (udp:// and http:// trackers; https:// uses the system''s choice). Trackers record this address as ours')
            [CompletionResult]::new('--dht-bootstrap', '--dht-bootstrap', [CompletionResultType]::ParameterName, 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)')
            [CompletionResult]::new('--dht-state', '--dht-state', [CompletionResultType]::ParameterName, 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Ask every tracker at once instead of stopping at the first that answers')
            [CompletionResult]::new('--scrape', '--scrape', [CompletionResultType]::ParameterName, 'Ask for swarm counts (scrape) instead of announcing')
            [CompletionResult]::new('--dht', '--dht', [CompletionResultType]::ParameterName, 'Ask the DHT for peers instead of the trackers (`peer` records with `tracker` "dht"); with --port, announce us there too')
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
