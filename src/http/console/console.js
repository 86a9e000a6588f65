// The analyst's console: a client of eventlog's JSON API (/v1/...), nothing more.
//
// Views are addressed by the URL's fragment (#/actor/ID?relation=..&from=..&to=..&certainty=..&as_of=..),
// so a view can be bookmarked and shared. Everything drawn comes from the API's answers at the
// moment it is drawn; the page keeps no data of its own beyond the current view. Text from the
// log is only ever set as text (textContent, SVG text nodes), never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "eventlog.token";
const FEED_LENGTH = 50;
const TIMELINE_PAGE = 500;
// Counterparts drawn around an actor: past a few dozen a radial graph is a blur, so a busy
// actor's graph shows those with the most evidence and says how many it leaves out.
const MAX_COUNTERPARTS = 40;
const CERTAINTY_WIDTH = {
  CERTAINTY_CONFIRMED: 4.5,
  CERTAINTY_REPORTED: 3,
  CERTAINTY_ALLEGED: 2,
  CERTAINTY_SPECULATED: 1.2,
};
const PALETTE = ["#2f5ea8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490",
  "#a16207", "#be185d", "#4d7c0f", "#1d4ed8", "#9333ea", "#0f766e"];
const DAY_MS = 86400000;

const $ = (id) => document.getElementById(id);
const names = new Map(); // actor id -> display name, filled as actors are seen

// ---- the API -----------------------------------------------------------------------------

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error.message : "HTTP " + status);
    this.status = status;
    this.body = body;
  }
}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) query.append(key, one);
  }
  const url = path + (query.toString() ? "?" + query : "");
  const response = await fetch(url, { headers: authHeaders() });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body || {};
}

function report(error) {
  $("status").textContent = error ? String(error.message || error) : "";
}

// ---- small helpers -----------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k === "onclick") node.addEventListener("click", v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function colour(relation) {
  let hash = 0;
  for (const c of relation || "") hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function short(value) {
  return String(value || "").replace(/^(ACTOR_KIND|ROLE|CERTAINTY|MATCH_KIND)_/, "").toLowerCase();
}

function certaintyName(value) {
  return value ? value.replace("CERTAINTY_", "").toLowerCase() : "unspecified";
}

function nameOf(id) {
  return names.get(id) || id;
}

function rememberActor(actor) {
  if (actor && actor.id) names.set(actor.id, actor.name || actor.id);
}

/// Days since the epoch of an ISO day (`2022-03-01`, `-0050-01-01`), or null.
function dayNumber(text) {
  if (!text) return null;
  const match = /^(-?\d{1,9})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  const when = new Date(0);
  when.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Math.floor(when.getTime() / DAY_MS);
}

// ---- the view's state, in the URL --------------------------------------------------------

function currentView() {
  const hash = location.hash.replace(/^#/, "");
  const match = /^\/actor\/([^?]+)(?:\?(.*))?$/.exec(hash);
  if (!match) return null;
  const params = new URLSearchParams(match[2] || "");
  return {
    actor: decodeURIComponent(match[1]),
    relation: params.get("relation") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    certainty: params.get("certainty") || "",
    asOf: params.get("as_of") || "",
  };
}

function go(view) {
  const params = new URLSearchParams();
  for (const key of ["relation", "from", "to", "certainty"]) if (view[key]) params.set(key, view[key]);
  if (view.asOf) params.set("as_of", view.asOf);
  const query = params.toString();
  location.hash = "#/actor/" + encodeURIComponent(view.actor) + (query ? "?" + query : "");
}

function viewWith(changes) {
  return Object.assign({}, currentView(), changes);
}

// ---- search ------------------------------------------------------------------------------

let searchSerial = 0;

async function search(text) {
  const serial = ++searchSerial;
  const list = $("search-results");
  if (!text.trim()) { list.replaceChildren(); return; }
  try {
    const answer = await api("/v1/actors", { name: text, limit: 8 });
    if (serial !== searchSerial) return; // a later keystroke has its own answer coming
    const ranked = answer.ranked || (answer.matches || []).map((actor) => ({ actor }));
    list.replaceChildren(...ranked.map((match) => {
      rememberActor(match.actor);
      const button = el("button", {
        type: "button", "data-actor": match.actor.id,
        onclick: () => { list.replaceChildren(); $("search").value = ""; go({ actor: match.actor.id }); },
      }, match.actor.name);
      if (match.matchedName && match.matchedName !== match.actor.name) {
        button.append(el("span", { class: "match" }, "as " + match.matchedName));
      }
      button.append(el("span", { class: "match" }, match.actor.id + " · " + short(match.actor.kind)));
      return el("li", { role: "option" }, button);
    }));
    if (!ranked.length) list.replaceChildren(el("li", {}, el("button", { type: "button", disabled: "" }, "no actor matches")));
    report(null);
  } catch (error) {
    if (serial === searchSerial) {
      if (error.status === 404) list.replaceChildren(el("li", {}, el("button", { type: "button", disabled: "" }, error.message)));
      else report(error);
    }
  }
}

// ---- the actor view ----------------------------------------------------------------------

let renderSerial = 0;

async function showActor(view) {
  const serial = ++renderSerial;
  $("welcome").hidden = true;
  $("actor-view").hidden = false;
  $("actor-view").dataset.loaded = "";
  $("f-relation").value = view.relation;
  $("f-from").value = view.from;
  $("f-to").value = view.to;
  $("f-certainty").value = view.certainty;
  $("as-of").value = view.asOf;
  if (view.asOf) $("as-of-range").value = view.asOf;
  else $("as-of-range").value = $("as-of-range").max;
  const filters = {
    relation: view.relation || undefined,
    from: view.from || undefined,
    to: view.to || undefined,
    min_certainty: view.certainty || undefined,
    as_of_position: view.asOf || undefined,
  };
  try {
    const [actor, relations, events, claims, eventsAll, claimsAll] = await Promise.all([
      api("/v1/actors/" + encodeURIComponent(view.actor)),
      api("/v1/relations", Object.assign({ actor: view.actor }, filters)),
      api("/v1/events", Object.assign({ actor: view.actor, page_size: TIMELINE_PAGE }, filters)),
      api("/v1/claims", Object.assign({ actor: view.actor, page_size: TIMELINE_PAGE }, filters)),
      api("/v1/events", Object.assign({ actor: view.actor, page_size: TIMELINE_PAGE, include_superseded: true }, filters)),
      api("/v1/claims", Object.assign({ actor: view.actor, page_size: TIMELINE_PAGE, include_superseded: true }, filters)),
    ]);
    if (serial !== renderSerial) return;
    rememberActor(actor.actor);
    supersessions = supersessionsOf([...(eventsAll.entries || []), ...(claimsAll.entries || [])]);
    const covered = new Set([view.actor]);
    for (const c of relations.covered || []) for (const id of c.actorIds || []) covered.add(id);
    const { shown, counterparts, total } = busiest(relations.edges || [], covered);
    await nameCounterparts(shown);
    if (serial !== renderSerial) return;
    drawHeader(actor.actor);
    drawGraph(view.actor, covered, shown);
    $("graph-note").textContent = counterparts < total
      ? `showing the ${counterparts} counterparts with the most evidence, of ${total}` : "";
    drawTimeline([...(events.entries || []), ...(claims.entries || [])]);
    $("actor-view").dataset.loaded = view.actor + "@" + (view.asOf || "head");
    // For scripts/console-bench.sh: the time from navigation to a drawn view.
    performance.mark("eventlog:view-drawn");
    report(null);
  } catch (error) {
    if (serial === renderSerial) report(error);
  }
}

/// The edges to the MAX_COUNTERPARTS counterparts with the most evidence, and how many there are.
function busiest(edges, covered) {
  const evidence = new Map();
  for (const edge of edges) {
    const other = covered.has(edge.subject) ? edge.object : edge.subject;
    evidence.set(other, (evidence.get(other) || 0) + Number(edge.eventCount || 0) + Number(edge.claimCount || 0));
  }
  const kept = new Set([...evidence.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_COUNTERPARTS).map(([id]) => id));
  const shown = edges.filter((edge) => kept.has(covered.has(edge.subject) ? edge.object : edge.subject));
  return { shown, counterparts: kept.size, total: evidence.size };
}

function drawHeader(actor) {
  $("actor-name").textContent = actor.name;
  const parts = [actor.id, short(actor.kind)];
  if (actor.country) parts.push(actor.country);
  if ((actor.aliases || []).length) parts.push("also " + actor.aliases.join(", "));
  $("actor-meta").textContent = parts.join(" · ");
  document.title = actor.name + " · eventlog console";
}

async function nameCounterparts(edges) {
  const wanted = new Set();
  for (const edge of edges) for (const id of [edge.subject, edge.object]) if (!names.has(id)) wanted.add(id);
  await Promise.all([...wanted].map(async (id) => {
    try { rememberActor((await api("/v1/actors/" + encodeURIComponent(id))).actor); } catch (_) { names.set(id, id); }
  }));
}

// The graph: the actor in the middle, each counterpart on a circle around it, one curve per
// relation between them (several relations between the same pair fan out).
function drawGraph(center, covered, edges) {
  const graph = $("graph");
  graph.replaceChildren();
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 20, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#667085" }));
  defs.append(marker);
  graph.append(defs);
  const cx = 320, cy = 260, radius = 200;
  const counterparts = [];
  for (const edge of edges) {
    const other = covered.has(edge.subject) ? edge.object : edge.subject;
    if (!counterparts.includes(other)) counterparts.push(other);
  }
  const place = new Map([[center, { x: cx, y: cy }]]);
  counterparts.forEach((id, i) => {
    const angle = (2 * Math.PI * i) / Math.max(counterparts.length, 1) - Math.PI / 2;
    place.set(id, { x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle) });
  });
  const perPair = new Map();
  const edgeLayer = svg("g");
  for (const edge of edges) {
    const outgoing = covered.has(edge.subject);
    const other = outgoing ? edge.object : edge.subject;
    const count = perPair.get(other) || 0;
    perPair.set(other, count + 1);
    const a = outgoing ? place.get(center) : place.get(other);
    const b = outgoing ? place.get(other) : place.get(center);
    const bend = (count % 2 ? -1 : 1) * Math.ceil(count / 2) * 28;
    const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
    const length = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const qx = mx - ((b.y - a.y) / length) * bend, qy = my + ((b.x - a.x) / length) * bend;
    const path = svg("path", {
      class: "edge", d: `M${a.x},${a.y} Q${qx},${qy} ${b.x},${b.y}`,
      stroke: colour(edge.relation), "stroke-opacity": 0.75,
      "stroke-width": CERTAINTY_WIDTH[edge.certainty] || 1,
      "marker-end": "url(#arrow)",
      "data-subject": edge.subject, "data-object": edge.object, "data-relation": edge.relation,
      "data-denied": edge.denied ? "true" : "false", "data-certainty": certaintyName(edge.certainty),
    });
    if (edge.denied) path.setAttribute("stroke-dasharray", "6 4");
    const span = [edge.earliest || "…", edge.latest || "…"].join(" – ");
    path.append(svg("title", {}, `${nameOf(edge.subject)} ${edge.denied ? "NOT " : ""}${edge.relation} ${nameOf(edge.object)}\n` +
      `${edge.eventCount || 0} events, ${edge.claimCount || 0} claims; ${certaintyName(edge.certainty)}; ${span}\n` +
      `evidence: ${(edge.evidenceIds || []).join(", ")}`));
    path.addEventListener("click", () => { if ((edge.evidenceIds || []).length) showEntry(edge.evidenceIds[0]); });
    edgeLayer.append(path);
    const label = svg("text", { class: "edge-label", x: qx * 0.5 + mx * 0.5, y: qy * 0.5 + my * 0.5, "text-anchor": "middle" },
      (edge.denied ? "not " : "") + edge.relation);
    edgeLayer.append(label);
  }
  graph.append(edgeLayer);
  for (const [id, at] of place) {
    const node = svg("g", { class: "node" + (id === center ? " center" : ""), "data-actor": id, tabindex: 0 });
    node.append(svg("circle", { cx: at.x, cy: at.y, r: id === center ? 14 : 10 }));
    node.append(svg("text", { x: at.x, y: at.y + (at.y >= cy ? 26 : -16), "text-anchor": "middle" }, nameOf(id)));
    node.append(svg("title", {}, nameOf(id) + " (" + id + ")"));
    if (id !== center) {
      const open = () => go({ actor: id, relation: "", from: "", to: "", certainty: "", asOf: currentView().asOf });
      node.addEventListener("click", open);
      node.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    }
    graph.append(node);
  }
  if (!edges.length) {
    graph.append(svg("text", { x: cx, y: cy + 40, "text-anchor": "middle", class: "edge-label" }, "no relations match"));
  }
}

// The timeline: one row per event or claim, a bar over the days its date may cover.
function drawTimeline(entries) {
  const timeline = $("timeline");
  timeline.replaceChildren();
  const items = entries.map((entry) => {
    const body = entry.event || entry.claim;
    const span = entry.event ? body.dateSpan : body.validSpan;
    const date = entry.event ? body.date : body.valid;
    return {
      entry, body, kind: entry.event ? "event" : "claim", date: date || "",
      earliest: span && span.earliest ? dayNumber(span.earliest) : null,
      latest: span && span.latest ? dayNumber(span.latest) : null,
      earliestText: (span && span.earliest) || "", latestText: (span && span.latest) || "",
    };
  });
  const dated = items.filter((i) => i.earliest !== null || i.latest !== null);
  const undated = items.filter((i) => i.earliest === null && i.latest === null);
  dated.sort((a, b) => (a.earliest ?? a.latest) - (b.earliest ?? b.latest));
  const known = dated.flatMap((i) => [i.earliest, i.latest]).filter((d) => d !== null);
  const left = 150, width = 560, rowHeight = 20, top = 24;
  let first = known.length ? Math.min(...known) : 0;
  let last = known.length ? Math.max(...known) : 1;
  // Whole years at the ends, so the axis reads in years.
  first = dayNumber(new Date(first * DAY_MS).getUTCFullYear() + "-01-01") ?? first;
  last = (dayNumber((new Date(last * DAY_MS).getUTCFullYear() + 1) + "-01-01") ?? last + 1) - 1;
  const scale = (day) => left + ((day - first) / Math.max(last - first, 1)) * width;
  const rows = dated.length + (undated.length ? undated.length + 1 : 0);
  timeline.setAttribute("viewBox", `0 0 ${left + width + 20} ${top + rows * rowHeight + 10}`);
  timeline.style.width = "100%";
  timeline.style.minWidth = (left + width + 20) * 0.75 + "px";
  const axis = svg("g", { class: "axis" });
  const firstYear = new Date(first * DAY_MS).getUTCFullYear();
  const lastYear = new Date(last * DAY_MS).getUTCFullYear();
  const step = Math.max(1, Math.ceil((lastYear - firstYear + 1) / 12));
  for (let year = firstYear; year <= lastYear + 1; year += step) {
    const x = scale(dayNumber(year + "-01-01") ?? first);
    axis.append(svg("line", { x1: x, x2: x, y1: top - 6, y2: top + rows * rowHeight }));
    axis.append(svg("text", { x, y: top - 10, "text-anchor": "middle" }, String(year)));
  }
  timeline.append(axis);
  dated.forEach((item, row) => timeline.append(timelineItem(item, top + row * rowHeight, scale, first, last, left)));
  if (undated.length) {
    const y = top + dated.length * rowHeight;
    timeline.append(svg("text", { x: 4, y: y + 14, class: "edge-label" }, "undated"));
    undated.forEach((item, i) => timeline.append(timelineItem(item, y + (i + 1) * rowHeight, null, first, last, left)));
  }
  if (!items.length) timeline.append(svg("text", { x: left, y: top + 14, class: "edge-label" }, "no events or claims match"));
}

function timelineItem(item, y, scale, first, last, left) {
  const group = svg("g", {
    class: "item", "data-id": item.body.id, "data-kind": item.kind, "data-date": item.date,
    "data-earliest": item.earliestText, "data-latest": item.latestText,
  });
  const label = item.body.id;
  group.append(svg("text", { x: 4, y: y + 13 }, label.length > 24 ? label.slice(0, 23) + "…" : label));
  const fill = colour(item.body.relation);
  // Approximate (~), uncertain (?) or unspecified (X) dates, and open ends, are drawn faded.
  const approximate = /[~?%X]/.test(item.date) || item.earliest === null || item.latest === null;
  if (scale) {
    const from = item.earliest ?? first;
    const to = item.latest ?? last;
    group.setAttribute("data-span-days", String(to - from + 1));
    const x = scale(from), w = Math.max(scale(to + 1) - x, 3);
    const rect = svg("rect", { x, y: y + 3, width: w, height: 13, rx: 2, fill, "fill-opacity": approximate ? 0.4 : 0.85 });
    if (approximate) { rect.setAttribute("stroke", fill); rect.setAttribute("stroke-dasharray", "3 2"); }
    group.append(rect);
  } else {
    group.append(svg("rect", { x: left, y: y + 3, width: 12, height: 13, rx: 2, fill, "fill-opacity": 0.4 }));
  }
  const text = item.kind === "event"
    ? `${item.body.id}: ${item.body.relation} · ${item.date || "undated"} · ${certaintyName(item.body.certainty)}\n${item.body.summary || ""}`
    : `${item.body.id}: ${item.body.negated ? "NOT " : ""}${item.body.subject} ${item.body.relation} ${item.body.object || ""} · ${item.date || "undated"} · ${certaintyName(item.body.certainty)}`;
  group.append(svg("title", {}, text));
  group.addEventListener("click", () => showEntry(item.body.id));
  return group;
}

// ---- one entry ---------------------------------------------------------------------------

let supersessions = new Map(); // id -> ids of the entries (in the current view) that supersede it

function supersessionsOf(entries) {
  const found = new Map();
  for (const entry of entries) {
    const body = entry.event || entry.claim;
    for (const old of (body && body.supersedes) || []) {
      if (!found.has(old)) found.set(old, []);
      found.get(old).push(body.id);
    }
  }
  return found;
}

function refLink(id, open) {
  return el("a", { class: "ref", "data-ref": id, onclick: () => open(id), tabindex: 0 }, id);
}

async function showEntry(id) {
  try {
    const { entry } = await api("/v1/entries/" + encodeURIComponent(id));
    const body = entry.event || entry.claim || entry.actor;
    const kind = entry.event ? "event" : entry.claim ? "claim" : "actor";
    const rows = [["kind", kind], ["id", body.id], ["position", entry.position], ["recorded", entry.recordedAt]];
    const actorLink = (actor) => el("a", { class: "ref", onclick: () => { closeDetails(); go({ actor }); } }, nameOf(actor));
    if (entry.event) {
      rows.push(["relation", body.relation], ["date", body.date || "undated"]);
      rows.push(["participants", el("span", {}, ...(body.participants || []).flatMap((p, i) =>
        [i ? ", " : "", actorLink(p.actorId), " (" + short(p.role) + ")"]))]);
      if (body.location && body.location.name) rows.push(["location", body.location.name]);
      if (body.summary) rows.push(["summary", body.summary]);
    } else if (entry.claim) {
      rows.push(["claim", el("span", {}, body.negated ? "NOT " : "", actorLink(body.subject), " " + body.relation + " ",
        body.object ? actorLink(body.object) : "")]);
      if (body.valid) rows.push(["valid", body.valid]);
      if (body.eventId) rows.push(["about", refLink(body.eventId, showEntry)]);
      rows.push(["claimant", body.claimant ? actorLink(body.claimant) : "—"]);
      if (body.statement) rows.push(["statement", body.statement]);
    }
    if (kind !== "actor") {
      rows.push(["certainty", certaintyName(body.certainty)]);
      rows.push(["sources", el("span", {}, ...(body.sources || []).flatMap((s, i) => {
        const name = s.name + (s.published ? " (" + s.published + ")" : "");
        const link = /^https?:\/\//.test(s.url || "") ? el("a", { href: s.url, rel: "noopener noreferrer", target: "_blank" }, name) : name;
        return [i ? "; " : "", link];
      }))]);
      rows.push(["supersedes", (body.supersedes || []).length
        ? el("span", { id: "d-supersedes" }, ...body.supersedes.flatMap((s, i) => [i ? ", " : "", refLink(s, showEntry)])) : "—"]);
      const later = supersessions.get(body.id) || [];
      rows.push(["superseded by", later.length
        ? el("span", { id: "d-superseded-by" }, ...later.flatMap((s, i) => [i ? ", " : "", refLink(s, showEntry)])) : "—"]);
    }
    const list = el("dl", { "data-entry": body.id });
    for (const [term, value] of rows) list.append(el("dt", {}, term), el("dd", {}, value === undefined ? "" : value));
    $("details-body").replaceChildren(el("h3", {}, kind + " " + body.id), list);
    $("details").hidden = false;
  } catch (error) {
    report(error);
  }
}

function closeDetails() { $("details").hidden = true; }

// ---- the live feed -----------------------------------------------------------------------

let feedAbort = null;
let feedLast = 0;
let refreshTimer = null;

async function follow() {
  if (feedAbort) feedAbort.abort();
  const abort = new AbortController();
  feedAbort = abort;
  const headers = authHeaders();
  let url = "/v1/subscribe?from_end=true";
  if (feedLast) { url = "/v1/subscribe"; headers["Last-Event-ID"] = String(feedLast); }
  try {
    const response = await fetch(url, { headers, signal: abort.signal });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        onEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    if (abort.signal.aborted) return;
    report(error);
  }
  if (!abort.signal.aborted) setTimeout(follow, 2000); // reconnect, resuming after feedLast
}

function onEvent(block) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (name === "caught_up") { setHead(Number(JSON.parse(data).head)); return; }
  if (name !== "entry") return;
  const entry = JSON.parse(data);
  feedLast = Number(entry.position);
  setHead(feedLast);
  const body = entry.event || entry.claim || entry.actor;
  if (entry.actor) rememberActor(entry.actor);
  const kind = entry.event ? "event" : entry.claim ? "claim" : "actor";
  const what = entry.event ? `${body.relation}: ${body.summary || body.id}`
    : entry.claim ? `${body.subject} ${body.negated ? "NOT " : ""}${body.relation} ${body.object || ""}`
    : `actor ${body.name}`;
  const item = el("li", { "data-id": body.id, "data-position": entry.position, "data-kind": kind },
    el("span", { class: "pos" }, "#" + entry.position), what);
  item.addEventListener("click", () => kind === "actor" ? go({ actor: body.id }) : showEntry(body.id));
  const list = $("feed-list");
  list.prepend(item);
  while (list.children.length > FEED_LENGTH) list.lastChild.remove();
  // A new entry about the actor in view shows up in the view (unless it shows an earlier state).
  const view = currentView();
  if (view && !view.asOf && JSON.stringify(body).includes('"' + view.actor + '"')) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => showActor(currentView()), 300);
  }
}

function setHead(head) {
  if (!head || head < Number($("as-of-range").max || 0)) return;
  const range = $("as-of-range");
  const atHead = !$("as-of").value;
  range.max = String(head);
  if (atHead) range.value = String(head);
  $("head").textContent = "head " + head;
}

// ---- wiring ------------------------------------------------------------------------------

function route() {
  const view = currentView();
  if (view) showActor(view);
  else { $("actor-view").hidden = true; $("welcome").hidden = false; }
}

async function loadRelationTypes() {
  try {
    const answer = await api("/v1/relation-types");
    const select = $("f-relation");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "any"));
    for (const type of answer.relationTypes || []) select.append(el("option", { value: type.key }, type.key));
    select.value = chosen;
  } catch (error) { report(error); }
}

async function loadHead() {
  try { setHead(Number((await api("/v1/info")).head || 0)); } catch (error) { report(error); }
}

function start() {
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("token").addEventListener("change", () => {
    const token = $("token").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    loadAll();
  });
  let typing = null;
  $("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => search($("search").value), 120);
  });
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { const first = $("search-results").querySelector("button[data-actor]"); if (first) first.click(); }
  });
  const refilter = () => go(viewWith({
    relation: $("f-relation").value, from: $("f-from").value.trim(), to: $("f-to").value.trim(),
    certainty: $("f-certainty").value,
  }));
  for (const id of ["f-relation", "f-certainty", "f-from", "f-to"]) $(id).addEventListener("change", refilter);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refilter(); });
  $("as-of-range").addEventListener("input", () => { $("as-of").value = $("as-of-range").value; });
  $("as-of-range").addEventListener("change", () => {
    const value = $("as-of-range").value === $("as-of-range").max ? "" : $("as-of-range").value;
    go(viewWith({ asOf: value }));
  });
  $("as-of").addEventListener("change", () => go(viewWith({ asOf: $("as-of").value.trim() })));
  $("as-of-head").addEventListener("click", () => go(viewWith({ asOf: "" })));
  $("details-close").addEventListener("click", closeDetails);
  window.addEventListener("hashchange", route);
  loadAll();
}

async function loadAll() {
  report(null);
  await Promise.all([loadRelationTypes(), loadHead()]);
  route();
  feedLast = 0;
  follow();
}

document.addEventListener("DOMContentLoaded", start);
