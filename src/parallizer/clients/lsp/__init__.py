"""The Language Server for plans (`parallizer lsp`): `server` (state and one handler per LSP
feature), `convert` (findings as diagnostics and quick fixes), `knowledge` (the one adapter
to the code index), `transport` (the wire: stdio, TCP, WebSocket), `serve` (the loops)."""
