"""The fulfillers: one module per kind of card (`ambiguities`, `web_context`, `code_search`,
`completions`), each a class following `base.Fulfiller`, built from the small protocols of
`base` (code knowledge, code search, web search, LLM). Their registry is assembled with the
app (`parallizer.assembly`)."""
