"""Clients of our own over the orchestrator: `watch` (re-fulfill a plan on every save), `mcp`
(a Model Context Protocol server for coding agents) and `web` (the page at `/app`).

They use the orchestrator (and the service's file helpers) and never the service's app:
the app includes their one router (`http.router`), and the command line runs `watch` and
`mcp`."""
