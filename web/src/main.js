// The Parallizer page: a Markdown plan editor whose cards stream in as you type.
// Talks only to the service that served it: /files/* (tree, content, save) and
// POST /fulfill/stream (Server-Sent Events: card, fulfiller, done, superseded, cancelled).
import { Annotation, Compartment, EditorState, StateEffect, StateField } from "@codemirror/state";
import {
  EditorView, Decoration, WidgetType, keymap, lineNumbers, highlightActiveLine,
  highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, HighlightStyle } from "@codemirror/language";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { tags } from "@lezer/highlight";

const DEBOUNCE_MS = 300;
const MAX_PER_TYPE = 6;
const TYPES = [["question", "Questions"], ["context", "Context"], ["completion", "Completions"]];
const $ = (id) => document.getElementById(id);

const state = {
  scope: "",
  plan: "", // absolute path of the plan, or "" for an unsaved draft
  savedText: null,
  userId: sessionStorage.getItem("parallizer-user") || `web-${crypto.randomUUID().slice(0, 8)}`,
  token: sessionStorage.getItem("parallizer-token") || "",
  cards: [], // {card, seq, fresh}
  seq: 0,
  request: null, // {controller, text, head, n}
  requests: 0,
  timer: null,
  tree: null,
};
sessionStorage.setItem("parallizer-user", state.userId);

// --- talking to the service ---------------------------------------------------------------

async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { "content-type": "application/json" };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const resp = await fetch(path, { method, headers, body: body && JSON.stringify(body), signal });
  if (resp.status === 401) {
    const token = prompt("This service needs its API token (PARALLIZER_API_TOKEN):");
    if (token) {
      state.token = token.trim();
      sessionStorage.setItem("parallizer-token", state.token);
      return api(path, { method, body, signal });
    }
  }
  if (!resp.ok) {
    let detail = `${resp.status}`;
    try {
      const j = await resp.json();
      detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
    } catch { /* not JSON */ }
    throw new Error(detail);
  }
  return resp;
}

function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.dataset.kind = kind;
}

function relToScope(abs) {
  if (state.scope && abs.startsWith(state.scope.replace(/\/$/, "") + "/")) {
    return abs.slice(state.scope.replace(/\/$/, "").length + 1);
  }
  return abs;
}

// --- ghost text (a completion card, accepted with Tab) ----------------------------------------

const setGhost = StateEffect.define();
class GhostWidget extends WidgetType {
  constructor(text) { super(); this.text = text; }
  eq(other) { return other.text === this.text; }
  toDOM() {
    const span = document.createElement("span");
    span.className = "cm-ghost";
    span.textContent = this.text;
    span.title = "Tab to accept";
    return span;
  }
}
const ghostField = StateField.define({
  create: () => null, // {pos, text}
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setGhost)) return e.value;
    if (tr.docChanged || (value && tr.selection)) return null; // any edit or move drops it
    return value;
  },
  provide: (f) => EditorView.decorations.from(f, (g) =>
    g ? Decoration.set([Decoration.widget({ widget: new GhostWidget(g.text), side: 1 }).range(g.pos)])
      : Decoration.none),
});

function acceptGhost(view) {
  const g = view.state.field(ghostField);
  if (!g) return false;
  view.dispatch({
    changes: { from: g.pos, insert: g.text },
    selection: { anchor: g.pos + g.text.length },
    effects: setGhost.of(null),
    userEvent: "input.complete",
  });
  return true;
}

function dropGhost(view) {
  if (!view.state.field(ghostField)) return false;
  view.dispatch({ effects: setGhost.of(null) });
  return true;
}

// --- the plan editor -----------------------------------------------------------------------

const darkHighlight = HighlightStyle.define([
  { tag: tags.heading, color: "#8ab4f8", fontWeight: "bold" },
  { tag: tags.strong, fontWeight: "bold" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: [tags.monospace, tags.string], color: "#f2b872" },
  { tag: tags.link, color: "#7fd1c7", textDecoration: "underline" },
  { tag: [tags.keyword, tags.processingInstruction], color: "#c792ea" },
  { tag: tags.comment, color: "#8a8f98", fontStyle: "italic" },
  { tag: [tags.number, tags.bool], color: "#f78c6c" },
  { tag: [tags.definition(tags.variableName), tags.function(tags.variableName)], color: "#82aaff" },
]);
const themeSlot = new Compartment();
function editorTheme() {
  const dark = document.documentElement.dataset.theme === "dark";
  return syntaxHighlighting(dark ? darkHighlight : defaultHighlightStyle);
}

const planKeys = keymap.of([
  { key: "Tab", run: acceptGhost },
  { key: "Escape", run: (v) => dropGhost(v) || closeViewer() },
  { key: "Mod-Enter", run: () => { fulfillNow(); return true; } },
]);

const fromFile = Annotation.define(); // a change that loads a file, not the writer typing

const editor = new EditorView({
  parent: $("editor"),
  state: EditorState.create({
    doc: "",
    extensions: [
      planKeys,
      lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(),
      history(), highlightSelectionMatches(), EditorView.lineWrapping,
      markdown(), themeSlot.of(editorTheme()), ghostField,
      keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        markDirty();
        if (!u.transactions.some((t) => t.annotation(fromFile))) schedule();
      }),
      EditorView.contentAttributes.of({ "aria-label": "plan editor" }),
    ],
  }),
});

function setPlanText(text) {
  editor.dispatch({
    changes: { from: 0, to: editor.state.doc.length, insert: text },
    selection: { anchor: text.length },
    annotations: fromFile.of(true),
  });
  state.savedText = text;
  markDirty();
}

function markDirty() {
  $("dirty").hidden = editor.state.doc.toString() === state.savedText;
}

function setUrl() {
  const p = new URLSearchParams();
  if (state.scope) p.set("scope", state.scope);
  if (state.plan) p.set("plan", state.plan);
  window.history.replaceState(null, "", `${location.pathname}?${p}`);
  $("plan-name").textContent = state.plan ? relToScope(state.plan) : "unsaved draft";
}

// --- the review, streamed ------------------------------------------------------------------

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(fulfillNow, DEBOUNCE_MS);
}

async function* events(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a keep-alive comment
        const at = line.indexOf(":");
        const key = at < 0 ? line : line.slice(0, at);
        const val = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (key === "event") event = val;
        else if (key === "data") data.push(val);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function fulfillNow() {
  clearTimeout(state.timer);
  if (!state.scope) {
    status("set a scope (the code tree) to review against", "warn");
    return;
  }
  state.request?.controller.abort();
  const doc = editor.state.doc;
  const head = editor.state.selection.main.head;
  const line = doc.lineAt(head);
  const req = {
    controller: new AbortController(), text: doc.toString(), head, n: ++state.requests,
    fulfillers: {}, total: null, cards: 0,
  };
  state.request = req;
  const body = {
    user_id: state.userId,
    document_text: req.text,
    cursor_position: [line.number - 1, head - line.from],
    global_context: { scope_root: state.scope, ...(state.plan ? { plan_path: state.plan } : {}) },
  };
  status("reviewing…", "busy");
  try {
    const resp = await api("/fulfill/stream", { method: "POST", body, signal: req.controller.signal });
    for await (const ev of events(resp.body)) {
      if (state.request !== req) return;
      onEvent(req, ev);
    }
  } catch (err) {
    if (err.name !== "AbortError" && state.request === req) status(err.message, "error");
  }
}

function onEvent(req, { event, data }) {
  if (event === "card") {
    req.cards += 1;
    addCard(data, req.n);
    if (data.type === "completion") offerGhost(req, data.text);
  } else if (event === "fulfiller") {
    req.fulfillers[data.name] = data.timing;
    drawTiming(req);
  } else if (event === "done") {
    req.fulfillers = data.timings.fulfillers;
    req.total = data.timings.total_ms;
    drawTiming(req);
    status(`${req.cards} new cards · ${Math.round(req.total)} ms`, "ok");
  } else if (event === "superseded" || event === "cancelled" || event === "error") {
    status(data.detail, event === "error" ? "error" : "");
  }
}

function offerGhost(req, text) {
  const sel = editor.state.selection.main;
  if (!text || editor.state.doc.toString() !== req.text || sel.head !== req.head || !sel.empty) return;
  editor.dispatch({ effects: setGhost.of({ pos: req.head, text }) });
}

// --- cards -----------------------------------------------------------------------------------

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const CITE = /^([\w.@+\-/]+):(\d+)$/;

function citeButton(cite) {
  return `<button class="cite" data-cite="${esc(cite)}" title="open ${esc(cite)}">${esc(cite)}</button>`;
}

function inline(text) {
  return text.split(/(`[^`]+`)/).map((part) => {
    if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) {
      const code = part.slice(1, -1);
      return CITE.test(code) ? citeButton(code) : `<code>${esc(code)}</code>`;
    }
    return esc(part)
      .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>')
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
  }).join("");
}

function markdownHtml(text) {
  const lines = text.split("\n");
  const out = [];
  for (let i = 0; i < lines.length;) {
    if (lines[i].startsWith("```")) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      i++;
      out.push(`<pre><code>${esc(code.join("\n"))}</code></pre>`);
      continue;
    }
    if (!lines[i].trim()) { i++; continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() && !lines[i].startsWith("```")) para.push(lines[i++]);
    if (para.every((l) => /^\s*[-*] /.test(l))) {
      out.push(`<ul>${para.map((l) => `<li>${inline(l.replace(/^\s*[-*] /, ""))}</li>`).join("")}</ul>`);
    } else if (para.every((l) => l.startsWith(">"))) {
      out.push(`<blockquote>${inline(para.map((l) => l.replace(/^>\s?/, "")).join(" "))}</blockquote>`);
    } else {
      out.push(`<p>${inline(para.join(" "))}</p>`);
    }
  }
  return out.join("");
}

function addCard(card, n) {
  const same = (c) => c.card.type === card.type && c.card.header === card.header;
  state.cards = [{ card, n, seq: ++state.seq }, ...state.cards.filter((c) => !same(c))];
  for (const [type] of TYPES) {
    const ofType = state.cards.filter((c) => c.card.type === type);
    if (ofType.length > MAX_PER_TYPE) {
      const drop = new Set(ofType.slice(MAX_PER_TYPE));
      state.cards = state.cards.filter((c) => !drop.has(c));
    }
  }
  renderCards();
}

function renderCards() {
  const latest = state.requests;
  const html = TYPES.map(([type, title]) => {
    const group = state.cards.filter((c) => c.card.type === type);
    if (!group.length) return "";
    const items = group.map(({ card, n }) => {
      const cites = (card.metadata?.citations || []).map((c) =>
        /^https?:\/\//.test(c) ? `<a href="${esc(c)}" target="_blank" rel="noopener noreferrer">${esc(c)}</a>` : citeButton(c)).join(" ");
      return `<article class="card ${n === latest ? "fresh" : "older"}" data-type="${type}">
        <h3>${inline(card.header)}</h3><div class="md">${markdownHtml(card.text)}</div>
        ${cites ? `<footer>${cites}</footer>` : ""}<span class="src">${esc(card.metadata?.source || "")}</span></article>`;
    }).join("");
    return `<section class="group" data-type="${type}"><h2>${title} <small>${group.length}</small></h2>${items}</section>`;
  }).join("");
  $("cards").innerHTML = html || '<p class="empty">Cards appear here as you write.</p>';
}

$("cards").addEventListener("click", (e) => {
  const b = e.target.closest("button.cite");
  if (b) openCitation(b.dataset.cite);
});

// --- the timing picture: one bar per query on the request's time axis ----------------------------

function drawTiming(req) {
  const rows = [];
  for (const [name, t] of Object.entries(req.fulfillers)) {
    rows.push({ label: name, start: t.start_ms || 0, ms: t.ms, ok: t.ok, head: true,
      tip: `${name}: ${t.skipped ? `skipped: ${t.skipped}` : t.ok ? `${t.cards} cards` : `FAILED: ${t.error}`}` });
    for (const q of t.queries || []) {
      rows.push({ label: q.query, start: q.start_ms, ms: q.ms, ok: q.ok, head: false,
        tip: `${q.backend} ${q.query}: ${q.ok ? `ok${q.results != null ? `, ${q.results} results` : ""}` : `failed (${q.error_kind}): ${q.error}`}${q.shared ? " (shared)" : ""}` });
    }
  }
  const end = Math.max(req.total || 0, ...rows.map((r) => r.start + r.ms), 1);
  const W = 360, L = 130, R = 8, H = 16, top = 18;
  const x = (ms) => L + (ms / end) * (W - L - R);
  const step = niceStep(end);
  let svg = `<svg class="gantt" viewBox="0 0 ${W} ${top + rows.length * H + 4}" role="img" aria-label="query timeline">`;
  for (let t = 0; t <= end + 1e-9; t += step) {
    svg += `<line class="tick" x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${top + rows.length * H}"/>`;
    svg += `<text class="axis" x="${x(t)}" y="${top - 7}" text-anchor="middle">${Math.round(t)}</text>`;
  }
  rows.forEach((r, i) => {
    const y = top + i * H;
    const label = r.label.length > 20 ? `${r.label.slice(0, 19)}…` : r.label;
    svg += `<text class="label${r.head ? " head" : ""}" x="${r.head ? 2 : 10}" y="${y + 11}">${esc(label)}</text>`;
    svg += `<rect class="bar${r.head ? " head" : ""}${r.ok ? "" : " fail"}" x="${x(r.start)}" y="${y + 3}" width="${Math.max(1.5, x(r.start + r.ms) - x(r.start))}" height="${H - 6}" rx="2"><title>${esc(r.tip)} · ${r.start.toFixed(1)}–${(r.start + r.ms).toFixed(1)} ms</title></rect>`;
  });
  $("timing").innerHTML = `${svg}</svg>`;
  $("timing-total").textContent = req.total != null ? `— ${Math.round(req.total)} ms` : "— running…";
}

function niceStep(end) {
  const raw = end / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
}

// --- files: the tree, a cited file beside the plan, saving -----------------------------------

async function loadTree() {
  const ul = $("tree");
  ul.innerHTML = "";
  if (!state.scope) return;
  try {
    const resp = await api(`/files/tree?scope_root=${encodeURIComponent(state.scope)}&max_depth=8`);
    const entries = []; // in tree order: {type, name, path, depth}
    const walk = (node, depth) => {
      if (depth >= 0) entries.push({ type: node.type, name: node.name, path: node.path, depth });
      for (const child of node.children || []) walk(child, depth + 1);
    };
    walk(await resp.json(), -1);
    state.tree = entries;
    renderTree();
  } catch (err) {
    status(`files: ${err.message}`, "error");
  }
}

function renderTree() {
  const needle = $("filter").value.trim().toLowerCase();
  const entries = state.tree || [];
  const fileItem = (e, label, depth) =>
    `<li role="treeitem"><button class="file${e.path === state.plan ? " current" : ""}" data-path="${esc(e.path)}"
      style="padding-left:${10 + depth * 12}px" title="${esc(relToScope(e.path))}">${label}</button></li>`;
  let html;
  if (needle) { // matching files by their path in the scope, the end of the path kept in view
    html = entries.filter((e) => e.type === "file" && relToScope(e.path).toLowerCase().includes(needle))
      .slice(0, 300).map((e) => fileItem(e, `<bdi>${esc(relToScope(e.path))}</bdi>`, 0)).join("");
    $("tree").classList.add("flat");
  } else {
    html = entries.slice(0, 3000).map((e) => e.type === "file" ? fileItem(e, esc(e.name), e.depth)
      : `<li class="dir" style="padding-left:${10 + e.depth * 12}px">${esc(e.name)}/</li>`).join("");
    $("tree").classList.remove("flat");
  }
  $("tree").innerHTML = html;
}

$("filter").addEventListener("input", renderTree);
$("filter").addEventListener("keydown", (e) => {
  if (e.key === "Enter") $("tree").querySelector("button.file")?.click();
  if (e.key === "Escape") { $("filter").value = ""; renderTree(); editor.focus(); }
  if (e.key === "ArrowDown") { $("tree").querySelector("button.file")?.focus(); e.preventDefault(); }
});
$("tree").addEventListener("keydown", (e) => {
  if (!e.target.matches("button.file") || (e.key !== "ArrowDown" && e.key !== "ArrowUp")) return;
  const all = [...$("tree").querySelectorAll("button.file")];
  const next = all[all.indexOf(e.target) + (e.key === "ArrowDown" ? 1 : -1)];
  if (next) next.focus();
  else if (e.key === "ArrowUp") $("filter").focus();
  e.preventDefault();
});
$("tree").addEventListener("click", (e) => {
  const b = e.target.closest("button.file");
  if (!b) return;
  const path = b.dataset.path;
  if (/\.(md|markdown|txt)$/i.test(path)) openPlan(path);
  else openFile(relToScope(path), 1);
});

async function openPlan(path) {
  const abs = path.startsWith("/") ? path : `${state.scope.replace(/\/$/, "")}/${path}`;
  if (editor.state.doc.toString() !== state.savedText && state.savedText !== null
      && !confirm("The plan has unsaved changes. Open another one anyway?")) return;
  try {
    const resp = await api("/files/content", { method: "POST", body: { path: abs, scope_root: state.scope } });
    const { content } = await resp.json();
    state.plan = abs;
    setPlanText(content);
    setUrl();
    renderTree();
    editor.focus();
    fulfillNow();
  } catch (err) {
    status(`plan: ${err.message}`, "error");
  }
}

async function save() {
  if (!state.scope) { status("set a scope first: the plan is saved inside it", "warn"); return; }
  if (!state.plan) {
    const name = prompt("Save the plan as (a path inside the scope):", "plan.md");
    if (!name) return;
    state.plan = name.startsWith("/") ? name : `${state.scope.replace(/\/$/, "")}/${name}`;
  }
  const content = editor.state.doc.toString();
  try {
    const resp = await api("/files/save", { method: "POST", body: { path: state.plan, scope_root: state.scope, content } });
    const saved = await resp.json();
    state.savedText = content;
    markDirty();
    setUrl();
    status(`saved ${relToScope(state.plan)} (${saved.bytes} bytes)`, "ok");
    if (!state.tree?.some((e) => e.path === state.plan)) loadTree();
  } catch (err) {
    status(`save: ${err.message}`, "error");
  }
}

function openCitation(cite) {
  const m = cite.match(/^(.*):(\d+)$/);
  if (!m) return;
  const [, path, line] = m;
  const planName = state.plan.slice(state.plan.lastIndexOf("/") + 1);
  const isPlan = state.plan && (path === relToScope(state.plan) || path === state.plan
    || (relToScope(state.plan) === state.plan && path === planName)); // a plan outside the scope
  if (isPlan) {
    const pos = editor.state.doc.line(Math.min(+line, editor.state.doc.lines)).from;
    editor.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
    editor.focus();
    return;
  }
  openFile(path, +line);
}

const citedLine = Decoration.line({ class: "cm-cited" });
let viewer = null;

function languageOf(path) {
  if (/\.py$/.test(path)) return [python()];
  if (/\.(js|mjs|cjs|jsx)$/.test(path)) return [javascript({ jsx: true })];
  if (/\.(ts|tsx)$/.test(path)) return [javascript({ typescript: true, jsx: path.endsWith("x") })];
  if (/\.(md|markdown)$/.test(path)) return [markdown()];
  return [];
}

async function openFile(path, line) {
  try {
    const resp = await api("/files/content", { method: "POST", body: { path, scope_root: state.scope } });
    const { content } = await resp.json();
    viewer?.destroy();
    const doc = EditorState.create({ doc: content }).doc;
    const at = doc.line(Math.max(1, Math.min(line, doc.lines)));
    viewer = new EditorView({
      parent: $("viewer-body"),
      state: EditorState.create({
        doc: content,
        selection: { anchor: at.from },
        extensions: [
          EditorState.readOnly.of(true), lineNumbers(), drawSelection(), themeSlot.of(editorTheme()),
          ...languageOf(path), EditorView.decorations.of(Decoration.set([citedLine.range(at.from)])),
          keymap.of([{ key: "Escape", run: closeViewer }, ...defaultKeymap, ...searchKeymap]),
          EditorView.contentAttributes.of({ "aria-label": `${path} (read only)` }),
        ],
      }),
    });
    $("viewer").hidden = false;
    $("viewer-title").textContent = `${path}:${line}`;
    document.querySelector(".panes").classList.add("with-viewer");
    viewer.dispatch({ effects: EditorView.scrollIntoView(at.from, { y: "center" }) });
  } catch (err) {
    status(`${path}: ${err.message}`, "error");
  }
}

function closeViewer() {
  if ($("viewer").hidden) return false;
  $("viewer").hidden = true;
  document.querySelector(".panes").classList.remove("with-viewer");
  viewer?.destroy();
  viewer = null;
  editor.focus();
  return true;
}
$("viewer-close").addEventListener("click", closeViewer);

// --- theme, keys, start ----------------------------------------------------------------------

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("parallizer-theme", theme);
  editor.dispatch({ effects: themeSlot.reconfigure(editorTheme()) });
  viewer?.dispatch({ effects: themeSlot.reconfigure(editorTheme()) });
}
const toggleTheme = () => applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");

document.addEventListener("keydown", (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key.toLowerCase() === "s") { e.preventDefault(); save(); }
  else if (mod && e.key.toLowerCase() === "p") { e.preventDefault(); $("filter").focus(); $("filter").select(); }
  else if (e.altKey && e.key.toLowerCase() === "t") { e.preventDefault(); toggleTheme(); }
  else if (e.key === "Escape" && !$("viewer").hidden) closeViewer();
});
$("save").addEventListener("click", save);
$("theme").addEventListener("click", toggleTheme);
$("scope").addEventListener("change", () => {
  state.scope = $("scope").value.trim();
  setUrl();
  loadTree();
  fulfillNow();
});

function start() {
  const stored = localStorage.getItem("parallizer-theme");
  applyTheme(stored || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  const params = new URLSearchParams(location.search);
  const plan = params.get("plan") || "";
  state.scope = (params.get("scope") || (plan.startsWith("/") ? plan.slice(0, plan.lastIndexOf("/")) : "")).trim();
  $("scope").value = state.scope;
  renderCards();
  setUrl();
  loadTree();
  if (plan) openPlan(plan);
  else { setPlanText(""); editor.focus(); }
}
start();
