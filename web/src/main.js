// The Parallizer page: a Markdown plan editor whose cards stream in as you type, and whose
// findings are underlined where the words are. Talks only to the service that served it:
// /files/* (tree, content, save), POST /fulfill/stream (Server-Sent Events: card, fulfiller,
// done, superseded, cancelled) and POST /review (every finding, for the underlines).
import {
  Annotation, ChangeSet, Compartment, EditorState, StateEffect, StateField,
} from "@codemirror/state";
import {
  EditorView, Decoration, WidgetType, keymap, lineNumbers, highlightActiveLine,
  highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, HighlightStyle } from "@codemirror/language";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { setDiagnostics, lintGutter, lintKeymap, openLintPanel } from "@codemirror/lint";
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
  asking: null, // the open token form: a promise of the token typed, or null if cancelled
  cards: [], // {card, n}
  request: null, // {controller, text, head, n, track}
  review: null, // {controller, track}
  requests: 0,
  timer: null,
  tree: null,
};
sessionStorage.setItem("parallizer-user", state.userId);

// --- talking to the service ---------------------------------------------------------------

// With PARALLIZER_API_TOKEN set, the API answers 401 until the page sends the token. Every
// request that meets a 401 waits for the one form; it is sent again only once a token was
// typed (never in a loop), and a refused token asks again.
async function api(path, { method = "GET", body, signal } = {}) {
  let resp;
  for (;;) {
    const sent = state.token;
    const headers = { "content-type": "application/json" };
    if (sent) headers.authorization = `Bearer ${sent}`;
    resp = await fetch(path, { method, headers, body: body && JSON.stringify(body), signal });
    if (resp.status !== 401) break;
    if (state.token === sent) { // nobody typed a new token since this request was sent
      if (sent) sessionStorage.removeItem("parallizer-token");
      const token = await askToken(sent ? "refused" : "needed");
      if (!token) throw new Error("the service needs its API token");
    }
    signal?.throwIfAborted();
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

function askToken(why) {
  state.asking ||= new Promise((resolve) => {
    const dialog = $("token-dialog");
    $("token-why").textContent = why === "refused"
      ? "The service refused that token. Type it again:"
      : "This service needs its API token (PARALLIZER_API_TOKEN):";
    $("token-input").value = "";
    const done = (token) => {
      $("token-form").onsubmit = null;
      dialog.oncancel = dialog.onclose = null;
      if (dialog.open) dialog.close();
      state.asking = null;
      if (token) {
        state.token = token;
        sessionStorage.setItem("parallizer-token", token); // for this tab's session only
      }
      resolve(token);
    };
    $("token-form").onsubmit = (e) => {
      e.preventDefault();
      const token = $("token-input").value.trim();
      if (token) done(token);
    };
    dialog.oncancel = dialog.onclose = () => done(null);
    $("token-cancel").onclick = () => done(null);
    dialog.showModal();
    $("token-input").focus();
  });
  return state.asking;
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

// --- findings: underlined where the words are ---------------------------------------------
// A finding (POST /review, or a question card's metadata.findings) names its ranges in the
// document that was sent: [[line, col], [line, col]], 0-based, columns in UTF-16 code units,
// which is what CodeMirror's positions count. An answer is placed in the document it was asked
// about, then carried through every edit made since (`track`), so a late answer still lands on
// its words; a newer request supersedes it.

const SEVERITY = new Set(["error", "warning", "info"]);
// kinds about a name or path the code lacks: writing "(new)" after it says the plan adds it
const CAN_BE_NEW = new Set(["wrong_name", "wrong_owner", "missing", "missing_path"]);
const findings = {
  review: [], // [{from, to, f}] in the current document, from the latest review
  cards: new Map(), // card id → [{from, to, f}], from the latest request's question cards
  cardsOf: 0, // the request those cards came from
  shown: null, // what the editor shows now, to leave it alone when an answer changes nothing
  reviews: 0, // review answers applied (on the bar's button as data-review, with data-reviewing)
};
const tracks = new Set(); // documents requests were sent with, and the edits made since

function track() {
  const t = { doc: editor.state.doc, changes: ChangeSet.empty(editor.state.doc.length) };
  tracks.add(t);
  return t;
}

function offsetIn(doc, pos) {
  if (!Array.isArray(pos) || pos.length !== 2) return null;
  const [line, col] = pos;
  if (!Number.isInteger(line) || !Number.isInteger(col) || line < 0 || col < 0) return null;
  if (line >= doc.lines) return null;
  const l = doc.line(line + 1);
  return l.from + Math.min(col, l.length); // past the end of the line: clamped, as the server does
}

// the finding's ranges as positions in today's document (gone if an edit swallowed them)
function place(f, t) {
  if (!f || typeof f.message !== "string") return [];
  const ranges = Array.isArray(f.ranges) && f.ranges.length ? f.ranges : [f.range];
  const out = [];
  for (const r of ranges) {
    if (!Array.isArray(r) || r.length !== 2) continue;
    let from = offsetIn(t.doc, r[0]), to = offsetIn(t.doc, r[1]);
    if (from === null || to === null) continue;
    from = t.changes.mapPos(from, 1);
    to = t.changes.mapPos(to, -1);
    if (to > from) out.push({ from, to, f });
  }
  return out;
}

function mapPlaced(list, changes) {
  const out = [];
  for (const p of list) {
    const from = changes.mapPos(p.from, 1), to = changes.mapPos(p.to, -1);
    if (to > from) out.push({ from, to, f: p.f });
  }
  return out;
}

function followEdits(changes) {
  findings.shown = null; // the editor mapped its own: the next answer is shown whatever it is
  for (const t of tracks) t.changes = t.changes.compose(changes);
  findings.review = mapPlaced(findings.review, changes);
  for (const [id, list] of findings.cards) findings.cards.set(id, mapPlaced(list, changes));
}

function diagnostic({ from, to, f }) {
  const actions = [];
  if (typeof f.fix === "string" && f.fix) {
    actions.push({ name: `Replace with ${f.fix}`, apply: (view, a, b) => applyFix(view, a, b, f.fix) });
  }
  if (CAN_BE_NEW.has(f.kind)) actions.push({ name: "Mark as new", apply: markNew });
  return {
    from, to, actions,
    severity: SEVERITY.has(f.severity) ? f.severity : "info",
    source: [f.kind, typeof f.confidence === "number" ? `confidence ${f.confidence}` : ""]
      .filter(Boolean).join(" · "),
    markClass: "cm-finding",
    message: f.message,
    renderMessage: () => findingMessage(f),
  };
}

function findingMessage(f) {
  const el = document.createElement("div");
  el.className = "finding";
  const cites = (Array.isArray(f.citations) ? f.citations : [])
    .filter((c) => typeof c === "string" && CITE.test(c) && !c.startsWith("plan:"));
  el.innerHTML = `<span class="finding-text">${inline(f.message)}</span>`
    + (cites.length ? `<span class="finding-cites">${cites.map(citeButton).join(" ")}</span>` : "");
  el.addEventListener("click", (e) => {
    const b = e.target.closest("button.cite");
    if (b) openCitation(b.dataset.cite);
  });
  return el;
}

function showFindings() {
  const seen = new Set();
  const all = [];
  for (const p of [...findings.review, ...[...findings.cards.values()].flat()]) {
    const key = `${p.from}:${p.to}:${p.f.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    all.push(diagnostic(p));
  }
  // the same findings again (every answer repeats the ones still open): no dispatch, so an
  // open tooltip stays open under the mouse
  const shown = JSON.stringify(all.map((d) => [d.from, d.to, d.severity, d.message, d.actions.map((a) => a.name)]));
  if (shown === findings.shown) return;
  findings.shown = shown;
  editor.dispatch(setDiagnostics(editor.state, all));
  const el = $("findings");
  el.hidden = false;
  el.textContent = `${all.length} finding${all.length === 1 ? "" : "s"}`;
  el.dataset.worst = ["error", "warning", "info"].find((s) => all.some((d) => d.severity === s)) || "none";
}

// the quick fixes: the finding leaves at once (the next review says whether it is settled)
function forget(from, to) {
  const keep = (p) => !(p.from === from && p.to === to);
  findings.review = findings.review.filter(keep);
  for (const [id, list] of findings.cards) findings.cards.set(id, list.filter(keep));
}

function applyFix(view, from, to, fix) {
  forget(from, to);
  view.dispatch({ changes: { from, to, insert: fix }, userEvent: "input.fix" });
  showFindings();
}

function markNew(view, from, to) {
  const doc = view.state.doc;
  let at = to;
  if (doc.sliceString(at, at + 1) === "`") at += 1; // after the closing backtick
  if (doc.sliceString(at, at + 2) === "()") at += 2;
  forget(from, to);
  view.dispatch({ changes: { from: at, insert: " (new)" }, userEvent: "input.fix" });
  showFindings();
}

async function reviewNow(doc) {
  state.review?.controller.abort();
  const req = { controller: new AbortController(), track: track() };
  state.review = req;
  $("findings").dataset.reviewing = "1";
  const line = doc.lineAt(editor.state.selection.main.head);
  const body = {
    user_id: state.userId,
    document_text: doc.toString(),
    cursor_position: [line.number - 1, editor.state.selection.main.head - line.from],
    global_context: { scope_root: state.scope, ...(state.plan ? { plan_path: state.plan } : {}) },
  };
  try {
    const resp = await api("/review", { method: "POST", body, signal: req.controller.signal });
    const answer = await resp.json();
    if (state.review !== req) return; // a newer review was asked for: this one is stale
    findings.review = (answer.findings || []).flatMap((f) => place(f, req.track));
    $("findings").dataset.review = String(++findings.reviews);
    showFindings();
  } catch (err) {
    if (err.name !== "AbortError" && state.review === req) status(`review: ${err.message}`, "error");
  } finally {
    tracks.delete(req.track);
    if (state.review === req) $("findings").dataset.reviewing = "0";
  }
}

// a question card's findings; the cards of a newer request replace those of older ones
function cardFindings(req, card) {
  if (findings.cardsOf !== req.n) {
    findings.cards.clear();
    findings.cardsOf = req.n;
  }
  const list = card?.metadata?.findings;
  if (Array.isArray(list)) findings.cards.set(cardKey(card), list.flatMap((f) => place(f, req.track)));
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
      markdown(), themeSlot.of(editorTheme()), ghostField, lintGutter(),
      keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...lintKeymap, indentWithTab]),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        followEdits(u.changes);
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
  reviewNow(doc);
  const req = {
    controller: new AbortController(), text: doc.toString(), head, n: ++state.requests,
    fulfillers: {}, total: null, cards: 0, track: track(),
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
  } finally {
    tracks.delete(req.track);
  }
}

function onEvent(req, { event, data }) {
  if (event === "card") {
    req.cards += 1;
    addCard(data, req.n);
    cardFindings(req, data);
    showFindings();
    if (data.type === "completion") offerGhost(req, data.text);
  } else if (event === "fulfiller") {
    req.fulfillers[data.name] = data.timing;
    drawTiming(req);
  } else if (event === "done") {
    if (findings.cardsOf !== req.n) { cardFindings(req, null); showFindings(); }
    req.fulfillers = data.timings.fulfillers;
    req.total = data.timings.total_ms;
    drawTiming(req);
    status(`${req.cards} new cards · ${Math.round(req.total)} ms`, "ok");
    $("status").dataset.done = String(req.n); // the last request whose stream ended
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

// a card sent again with the same metadata.id is the same card, improved: it takes the old
// one's place; a card without an id replaces one of the same type and header, on top
function cardKey(card) {
  return card.metadata?.id || `${card.type}\u0000${card.header}`;
}

function addCard(card, n) {
  const key = cardKey(card);
  const at = state.cards.findIndex((c) => cardKey(c.card) === key);
  const entry = { card, n };
  if (at >= 0 && card.metadata?.id) {
    state.cards[at] = entry;
  } else {
    const same = (c) => cardKey(c.card) === key || (c.card.type === card.type && c.card.header === card.header);
    state.cards = [entry, ...state.cards.filter((c) => !same(c))];
  }
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
      return `<article class="card ${n === latest ? "fresh" : "older"}" data-type="${type}" data-id="${esc(card.metadata?.id || "")}">
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
$("findings").addEventListener("click", () => openLintPanel(editor));
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
