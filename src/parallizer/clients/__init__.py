"""Clients of our own, over the orchestrator and the service: `watch` (re-fulfill a plan on
every save), `mcp` (a Model Context Protocol server for coding agents) and `web` (the page at
`/app`). They sit above the orchestrator and the service and below the command line."""
