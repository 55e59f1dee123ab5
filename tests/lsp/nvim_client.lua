-- Neovim's own LSP client (0.7: vim.lsp.start_client + buf_attach_client) against
-- `parallizer lsp`: open a plan, read the diagnostics, hover, definition, apply a code action,
-- and write what Neovim saw as JSON to $OUT. Run: nvim --headless --clean -c "luafile THIS".
local out_path = os.getenv("OUT")
local root = os.getenv("ROOT")
local server = os.getenv("SERVER")
local result = { steps = {} }

local function finish()
  local f = io.open(out_path, "w")
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qa!")
end

local function code_of(d)
  local lsp = d.user_data and d.user_data.lsp
  return lsp and lsp.code or vim.NIL
end

local function diagnostics(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(out, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, message = d.message, source = d.source, code = code_of(d),
    })
  end
  return out
end

local function position_of(buf, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local at = line:find(needle, 1, true)
    if at then return { line = i - 1, character = at - 1 } end
  end
  error("not in the plan: " .. needle)
end

local ok, err = pcall(function()
  local client_id = vim.lsp.start_client({
    name = "parallizer",
    cmd = { server, "lsp" },
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = "repo" } },
    on_exit = function(code) result.exit_code = code end,
  })
  assert(client_id, "the client did not start")
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/plan.md"))
  local buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buf, client_id)
  table.insert(result.steps, "attached")

  assert(vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 50), "no diagnostics")
  result.diagnostics = diagnostics(buf)

  local uri = vim.uri_from_bufnr(buf)
  local function request(method, params)
    local answers = vim.lsp.buf_request_sync(buf, method, params, 20000)
    assert(answers and answers[client_id], "no answer to " .. method)
    assert(not answers[client_id].err, method .. ": " .. vim.inspect(answers[client_id].err))
    return answers[client_id].result
  end

  local hover = request("textDocument/hover", {
    textDocument = { uri = uri }, position = position_of(buf, "RetryPolicy` and"),
  })
  result.hover = hover and hover.contents and hover.contents.value or vim.NIL

  local defs = request("textDocument/definition", {
    textDocument = { uri = uri }, position = position_of(buf, "load_config"),
  })
  result.definitions = {}
  for _, loc in ipairs(defs or {}) do
    table.insert(result.definitions, { uri = loc.uri, line = loc.range.start.line })
  end

  local wrong
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if code_of(d) == "wrong_name" then wrong = d end
  end
  assert(wrong, "no wrong_name diagnostic")
  local actions = request("textDocument/codeAction", {
    textDocument = { uri = uri },
    range = {
      start = { line = wrong.lnum, character = wrong.col },
      ["end"] = { line = wrong.end_lnum, character = wrong.end_col },
    },
    -- the diagnostics of that line as LSP has them (Neovim 0.7's own conversion back)
    context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(buf, wrong.lnum) },
  })
  result.actions = {}
  local chosen
  for _, a in ipairs(actions or {}) do
    table.insert(result.actions, a.title)
    if a.isPreferred then chosen = a end
  end
  assert(chosen, "no preferred quick fix")
  vim.lsp.util.apply_workspace_edit(chosen.edit, "utf-16")
  result.line_after = vim.api.nvim_buf_get_lines(buf, wrong.lnum, wrong.lnum + 1, false)[1]
  result.cleared = vim.wait(30000, function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if code_of(d) == "wrong_name" then return false end
    end
    return #vim.diagnostic.get(buf) > 0
  end, 50)
  result.diagnostics_after = diagnostics(buf)

  vim.lsp.stop_client(client_id)
  vim.wait(20000, function() return result.exit_code ~= nil end, 50)
end)
if not ok then result.error = tostring(err) end
finish()
