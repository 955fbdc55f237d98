// The sandbox page: a small Slack workspace drawn from the stand-in's state.
// Every piece of text goes into the page through textContent or createTextNode, never innerHTML,
// so nothing a message says can become markup.
"use strict";

const state = { viewer: localStorage.getItem("viewer") || "", place: "home", people: [], names: {}, modal: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ as: state.viewer, ...body }),
  };
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.add("hidden"), 3500);
}

// -- mrkdwn -------------------------------------------------------------------------------------

function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function styled(text) {
  // *bold*, _italic_, ~strike~, `code`; not nested, as Slack mostly renders them.
  const out = [];
  const pattern = /`([^`]+)`|\*([^*\n]+)\*|(?<![\w])_([^_\n]+)_(?![\w])|~([^~\n]+)~/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(document.createTextNode(decode(text.slice(last, match.index))));
    if (match[1] !== undefined) out.push(el("code", {}, decode(match[1])));
    else if (match[2] !== undefined) out.push(el("b", {}, ...styled(match[2])));
    else if (match[3] !== undefined) out.push(el("i", {}, ...styled(match[3])));
    else out.push(el("s", {}, ...styled(match[4])));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(decode(text.slice(last))));
  return out;
}

function inline(text) {
  // Links and mentions in Slack's escaped form: <@U…>, <#C…|name>, <!subteam^S…>, <url|label>.
  const out = [];
  const pattern = /<([@#!][^>|]*|https?:\/\/[^>|]+)(?:\|([^>]*))?>/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.push(...styled(text.slice(last, match.index)));
    const [target, label] = [match[1], match[2]];
    if (target.startsWith("@")) out.push(el("span", { class: "mention" }, "@" + (state.names[target.slice(1)] || label || target.slice(1))));
    else if (target.startsWith("#")) out.push(el("span", { class: "mention" }, "#" + (label || state.names[target.slice(1)] || target.slice(1))));
    else if (target.startsWith("!subteam^")) {
      const id = target.slice(9);
      out.push(el("span", { class: "mention" }, (label || "@" + (state.names[id] || id)).replace(/^@?/, "@")));
    } else if (target.startsWith("!")) out.push(el("span", { class: "mention" }, "@" + target.slice(1)));
    else out.push(el("a", { href: target, target: "_blank", rel: "noopener" }, label || target));
    last = match.index + match[0].length;
  }
  out.push(...styled(text.slice(last)));
  return out;
}

function mrkdwn(text) {
  const box = el("div");
  for (const line of String(text || "").split("\n")) {
    const quote = line.match(/^(?:&gt;|>) ?(.*)$/);
    if (quote) box.append(el("blockquote", {}, ...inline(quote[1])));
    else box.append(el("div", {}, ...inline(line)));
  }
  return box;
}

function textOf(object) {
  if (!object) return el("span");
  return object.type === "plain_text" ? el("span", {}, object.text) : mrkdwn(object.text);
}

// -- Block Kit ---------------------------------------------------------------------------------

function button(element, where) {
  const classes = "btn" + (element.style ? " " + element.style : "");
  return el("button", {
    class: classes, "data-action": element.action_id, "data-value": element.value || "",
    onclick: async () => {
      if (element.confirm && !window.confirm(element.confirm.text.text)) return;
      await click(element, where);
    },
  }, element.text.text);
}

function renderBlocks(blocks, where, errors = {}) {
  const box = el("div");
  for (const block of blocks || []) {
    let node;
    switch (block.type) {
      case "header": node = el("h3", {}, block.text.text); break;
      case "divider": node = el("hr", { class: "divider" }); break;
      case "section": {
        const body = el("div", {}, block.text ? textOf(block.text) : null);
        if (block.fields) body.append(el("div", { class: "fields" }, ...block.fields.map(textOf)));
        node = el("div", { class: "section" }, body);
        if (block.accessory && block.accessory.type === "button") node.append(button(block.accessory, where));
        break;
      }
      case "context":
        node = el("div", { class: "context" }, ...block.elements.map((e) =>
          e.type === "image" ? el("img", { src: e.image_url, alt: e.alt_text }) : textOf(e)));
        break;
      case "actions":
        node = el("div", { class: "actions" }, ...block.elements.filter((e) => e.type === "button").map((e) => button(e, where)));
        break;
      case "image": node = el("img", { src: block.image_url, alt: block.alt_text }); break;
      case "input": {
        const input = block.element.multiline ? el("textarea") : el("input");
        input.name = block.block_id;
        if (block.element.initial_value) input.value = block.element.initial_value;
        if (block.element.max_length) input.maxLength = block.element.max_length;
        if (block.element.placeholder) input.placeholder = block.element.placeholder.text;
        input.setAttribute("data-testid", "input-" + block.block_id);
        const error = errors[block.block_id];
        node = el("div", { class: "input" + (error ? " invalid" : "") }, el("label", {}, block.label.text), input,
          error ? el("div", { class: "error", "data-testid": "error-" + block.block_id }, error) : null);
        break;
      }
      default: node = el("div", { class: "context" }, `(${block.type})`);
    }
    box.append(el("div", { class: "block" }, node));
  }
  return box;
}

// -- what the page shows ------------------------------------------------------------------------

async function click(element, where) {
  try {
    await api("/api/click", { action_id: element.action_id, value: element.value, ...where });
  } catch (error) {
    toast(error.message);
  }
  setTimeout(refresh, 150);
}

function renderMessage(message, channel) {
  const meta = el("div", { class: "meta" }, el("b", {}, message.author),
    message.command ? el("span", {}, message.command + " ") : null, message.edited ? "(edited)" : "");
  const body = message.blocks.length ? renderBlocks(message.blocks, { channel, ts: message.ts }) : mrkdwn(message.text);
  const files = message.files.map((f) => f.mimetype.startsWith("image/")
    ? el("div", { class: "file" }, el("img", { src: f.url, alt: f.name, "data-testid": "file-image" }))
    : el("div", { class: "file" }, el("a", { href: f.url, download: f.name }, "📎 " + f.name)));
  return el("div", { class: "message" + (message.ephemeral ? " ephemeral" : ""), "data-ts": message.ts }, meta,
    message.ephemeral ? el("div", { class: "only-you" }, "Only visible to you") : null, body, ...files);
}

async function showMessages() {
  const data = await api(`/api/messages?as=${state.viewer}&channel=${state.place}`);
  state.names = data.names;
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.replaceChildren(...(data.messages.length ? data.messages.map((m) => renderMessage(m, state.place))
    : [el("div", { class: "empty" }, "No messages yet.")]));
  if (atBottom || !showMessages.seen) list.scrollTop = list.scrollHeight;
  showMessages.seen = true;
}

async function showHome() {
  let data = await api(`/api/home?as=${state.viewer}`);
  state.names = data.names;
  const list = $("messages");
  list.replaceChildren(data.view ? renderBlocks(data.view.blocks, { view: data.view.id })
    : el("div", { class: "empty" }, "Opening your Home…"));
}

function renderModal(modal) {
  const box = $("modal");
  if (!modal) { box.classList.add("hidden"); state.modal = null; return; }
  const form = $("modal-form");
  const typing = state.modal && state.modal.id === modal.id ? Object.fromEntries(new FormData(form)) : {};
  state.modal = modal;
  $("modal-title").textContent = modal.view.title.text;
  $("modal-blocks").replaceChildren(renderBlocks(modal.view.blocks, { view: modal.id }, modal.errors || {}));
  for (const [name, value] of Object.entries(typing)) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) input.value = value;
  }
  $("modal-submit").textContent = modal.view.submit ? modal.view.submit.text : "Done";
  $("modal-close").textContent = modal.view.close ? modal.view.close.text : "Cancel";
  box.classList.remove("hidden");
}

function navItem(id, label, unread, testid) {
  return el("button", {
    class: "nav-item" + (state.place === id ? " active" : "") + (unread ? " unread" : ""), "data-testid": testid,
    onclick: () => go(id),
  }, label, unread ? el("span", { class: "badge" }, String(unread)) : null);
}

async function refreshState() {
  const data = await api(`/api/state?as=${state.viewer}`);
  state.people = data.people;
  if (!state.viewer) { state.viewer = data.admin; localStorage.setItem("viewer", state.viewer); return refreshState(); }
  const viewer = $("viewer");
  if (viewer.options.length !== data.people.length) {
    viewer.replaceChildren(...data.people.map((p) => el("option", { value: p.id },
      `${p.real_name}${p.roles.length ? " — " + p.roles[0] : ""} (${p.tz})`)));
  }
  viewer.value = state.viewer;
  const me = data.people.find((p) => p.id === state.viewer);
  $("roles").textContent = me ? [me.title, ...me.roles].filter(Boolean).join(" · ") : "";
  if (me) $("locale").value = me.locale;
  $("channels").replaceChildren(...data.channels.map((c) => navItem(c.id, (c.private ? "🔒 " : "# ") + c.name, c.unread, "channel-" + c.name)));
  $("dms").replaceChildren(navItem(data.dm.id, "🤖 " + data.dm.name, data.dm.unread, "dm-bot"));
  $("join").replaceChildren(el("option", { value: "" }, "…"), ...data.others.map((c) => el("option", { value: c.id }, "# " + c.name)));
  $("nav-home").classList.toggle("active", state.place === "home");
  const current = data.channels.find((c) => c.id === state.place);
  $("title").textContent = state.place === "home" ? "Home — Rollout Pulse" : current ? "# " + current.name
    : state.place === data.dm.id ? "Rollout Pulse (direct message)" : "";
  $("composer").classList.toggle("hidden", state.place === "home");
  renderModal(data.modal);
}

async function refresh() {
  try {
    // The conversation first: reading it marks it read, so its unread badge is gone next.
    if (state.place === "home") await showHome(); else await showMessages();
    await refreshState();
  } catch (error) {
    console.error(error);
  }
}

async function go(place) {
  state.place = place;
  showMessages.seen = false;
  if (place === "home") await api("/api/open-home", {});
  await refresh();
}

// -- wiring ---------------------------------------------------------------------------------------

$("locale").addEventListener("change", async (event) => {
  await api("/api/locale", { locale: event.target.value });
  toast(`Your language in Slack is now ${event.target.selectedOptions[0].textContent}.`);
  await refresh();
});

$("viewer").addEventListener("change", async (event) => {
  state.viewer = event.target.value;
  localStorage.setItem("viewer", state.viewer);
  await // Pick who to be first (the admin, on a first visit), then open the Home tab.
refreshState().then(() => go("home"));
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  try {
    const answer = await api("/api/command", { channel: state.place, text });
    if (!answer.ok && answer.error) toast(answer.error);
  } catch (error) {
    toast(error.message);
  }
  setTimeout(refresh, 150);
});

$("modal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = Object.fromEntries(new FormData(event.target));
  await api("/api/submit", { values });
  await refresh();
});

$("modal-close").addEventListener("click", async () => { await api("/api/close-modal", {}); await refresh(); });
$("nav-home").addEventListener("click", () => go("home"));
$("join").addEventListener("change", async (event) => {
  if (!event.target.value) return;
  await api("/api/join", { channel: event.target.value });
  await go(event.target.value);
});
$("simulate").addEventListener("click", async () => {
  const answer = await api("/api/simulate", {});
  toast(`${answer.answered} simulated people answered their open surveys.`);
});
$("digest").addEventListener("click", async () => {
  toast("Posting the digest to #leads…");
  await api("/api/digest", {});
  toast("The digest is in #leads.");
});

// New messages, views and Homes appear without a reload.
let pending = null;
const events = new EventSource("/api/events");
events.onmessage = () => {
  clearTimeout(pending);
  pending = setTimeout(refresh, 120);
};

// Pick who to be first (the admin, on a first visit), then open the Home tab.
refreshState().then(() => go("home"));
