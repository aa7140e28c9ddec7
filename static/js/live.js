/* Samskab live client: one Socket.IO connection to /live, acks with retry, a shared clock.
 * Used by the participant page, the facilitator console and the presenter screen.
 * The server is the source of truth: every (re)connect brings a snapshot; an action that was
 * not acknowledged is resent after reconnecting, with the same client_id, and applies once. */
(function () {
  "use strict";

  var ACK_TIMEOUT_MS = 8000;

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function connect(options) {
    var auth = { workshop: options.workshop };
    if (options.presenter) { auth.presenter = options.presenter; }
    if (options.role) { auth.role = options.role; }
    var socket = window.io("/live", { auth: auth, reconnectionDelayMax: 5000 });
    var pending = new Map();   // key -> {event, payload, resolve}
    var clockOffset = 0;       // server time - local time, in ms
    var handlers = options.handlers || {};
    var status = options.onStatus || function () {};

    function trySend(key) {
      var item = pending.get(key);
      if (!item || !socket.connected) { return; }
      socket.timeout(ACK_TIMEOUT_MS).emit(item.event, item.payload, function (err, ack) {
        if (pending.get(key) !== item) { return; }       // superseded by a newer action
        if (err) { status("unconfirmed"); return; }         // kept; resent after reconnecting
        pending.delete(key);
        item.resolve(ack);
        if (!pending.size) { status("connected"); }
      });
    }

    /* Send an action; resolves with the server's ack. `key` identifies what a newer action
     * replaces (e.g. "vote:12"); by default the payload's client_id. */
    function send(event, payload, key) {
      payload = payload || {};
      key = key || payload.client_id || (event + ":" + uuid());
      return new Promise(function (resolve) {
        pending.set(key, { event: event, payload: payload, resolve: resolve });
        trySend(key);
      });
    }

    function deliver(name, data) {
      if (data && data.timer && typeof data.timer.server_now === "number") {
        clockOffset = data.timer.server_now - Date.now();
      } else if (name === "timer" && data && typeof data.server_now === "number") {
        clockOffset = data.server_now - Date.now();
      }
      if (handlers[name]) { handlers[name](data); }
      // Logged out, data deleted or workshop deleted: the server closes this connection and
      // it stays closed (a reload shows the login or join page).
      if (name === "session_ended") {
        document.documentElement.setAttribute("data-live-state", "ended");
        status("offline");
      }
      // A mark for tools (and the browser tests): the page shows the server's state.
      if (name === "snapshot") { document.documentElement.setAttribute("data-live-state", "ready"); }
    }

    var retryTimer = null;  // a refused connect's retry (connect_error below)
    var retries = 0;
    socket.on("connect", function () {
      retries = 0;
      status(pending.size ? "unconfirmed" : "connected");
      pending.forEach(function (_item, key) { trySend(key); });
    });
    socket.on("disconnect", function () {
      document.documentElement.setAttribute("data-live-state", "offline");
      status("offline");
    });
    /* Refused because the database is down or busy ("unavailable": a restarted server with
     * every screen coming back at once). Socket.IO never retries a refusal by itself, so this
     * screen tries again after a growing, random moment; any other refusal is final. */
    socket.on("connect_error", function (err) {
      status("offline");
      if (err && err.data && err.data.code === "unavailable") {
        if (!retryTimer) {
          var delay = Math.min(1000 * Math.pow(2, retries), 15000) * (0.5 + Math.random());
          retries += 1;
          retryTimer = window.setTimeout(function () {
            retryTimer = null;
            if (!socket.connected) { socket.connect(); }
          }, delay);
        }
        return;
      }
      if (err && err.data && handlers.refused) { handlers.refused(err.data); }
    });
    socket.io.on("reconnect_attempt", function () { status("reconnecting"); });

    /* The server lost its message queue for a while and may have missed telling this screen
     * something: ask for a fresh snapshot, after a random moment within spread_ms so that
     * every screen does not ask at once. */
    var resyncTimer = null;
    socket.on("resync", function (data) {
      if (resyncTimer) { return; }
      var spread = (data && typeof data.spread_ms === "number") ? data.spread_ms : 3000;
      resyncTimer = window.setTimeout(function () {
        resyncTimer = null;
        if (!socket.connected) { return; }  // a reconnect brings its own snapshot
        socket.timeout(ACK_TIMEOUT_MS).emit("sync", {}, function (err, ack) {
          if (err || !ack || !ack.ok || !ack.snapshot) { return; }
          deliver("snapshot", ack.snapshot);
        });
      }, Math.random() * spread);
    });

    ["snapshot", "phase", "workshop", "proposal", "comment", "tally", "presence", "timer",
     "spotlight", "own_stale", "removed", "session_ended"].forEach(function (name) {
      socket.on(name, function (data) { deliver(name, data); });
    });

    return {
      socket: socket,
      send: send,
      uuid: uuid,
      serverNow: function () { return Date.now() + clockOffset; },
      pendingCount: function () { return pending.size; }
    };
  }

  /* Remaining time of a timer payload, in ms, by the server's clock. */
  function timerRemaining(timer, serverNow) {
    if (!timer) { return null; }
    if (timer.state === "running" && timer.deadline) { return Math.max(0, timer.deadline - serverNow); }
    if (timer.state === "paused") { return timer.remaining_ms; }
    if (timer.state === "expired") { return 0; }
    return null;
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined) { return ""; }
    var total = Math.ceil(ms / 1000);
    var minutes = Math.floor(total / 60);
    var seconds = total % 60;
    return minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  /* Build an element; text is always set with textContent, never parsed as HTML. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = value; }
      else if (name === "className") { node.className = value; }
      else { node.setAttribute(name, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  function fieldChanged(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") { return false; }
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  /* Re-render a server-rendered region in place: fetch the page again and swap `root`'s
   * content, keeping what is being typed, which <details> are open, and the focus and cursor.
   * `schedule(spreadMs)` waits a short, random while first, so that hundreds of screens told
   * of the same change do not all ask the server in the same instant. */
  function refresher(root, afterSwap) {
    var timer = null, busy = false, again = false;

    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(root.id);
      if (!fresh) { return; }
      var typed = {};
      root.querySelectorAll("input, textarea, select").forEach(function (field) {
        if (field.id && fieldChanged(field)) {
          typed[field.id] = (field.type === "checkbox" || field.type === "radio") ? field.checked : field.value;
        }
      });
      var open = [];
      root.querySelectorAll("details[open]").forEach(function (d) {
        var inner = d.querySelector("[id]");
        if (inner) { open.push(inner.id); }
      });
      var active = document.activeElement;
      var focus = active && root.contains(active) && active.id ? {
        id: active.id,
        start: typeof active.selectionStart === "number" ? active.selectionStart : null,
        end: typeof active.selectionEnd === "number" ? active.selectionEnd : null
      } : null;
      Array.prototype.forEach.call(fresh.attributes, function (attr) {
        if (attr.name.indexOf("data-") === 0) { root.setAttribute(attr.name, attr.value); }
      });
      root.replaceChildren.apply(root, Array.prototype.slice.call(fresh.childNodes));
      Object.keys(typed).forEach(function (id) {
        var field = document.getElementById(id);
        if (!field) { return; }
        if (field.type === "checkbox" || field.type === "radio") { field.checked = typed[id]; }
        else { field.value = typed[id]; }
      });
      open.forEach(function (id) {
        var inner = document.getElementById(id), details = inner && inner.closest("details");
        if (details) { details.open = true; }
      });
      if (focus) {
        var target = document.getElementById(focus.id);
        if (target) {
          target.focus({ preventScroll: true });
          if (focus.start !== null && typeof target.setSelectionRange === "function") {
            try { target.setSelectionRange(focus.start, focus.end); } catch (e) { /* not text */ }
          }
        }
      }
      if (afterSwap) { afterSwap(); }
    }

    function run() {
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      window.fetch(window.location.pathname + window.location.search,
                   { credentials: "same-origin", headers: { "X-Samskab-Live": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) { swap(html); } })
        .catch(function () { /* offline: the next snapshot schedules another refresh */ })
        .finally(function () {
          busy = false;
          if (again) { again = false; schedule(0); }
        });
    }

    function schedule(spreadMs) {
      if (timer) { return; }
      timer = window.setTimeout(run, 150 + Math.random() * (spreadMs || 0));
    }

    return { schedule: schedule, fieldChanged: fieldChanged };
  }

  /* A count with its noun in the page's language: labels[key + "_one"] for 1, else "_other"
   * (Danish and English both have these two forms), with "{n}" replaced by the count. */
  function plural(labels, key, n) {
    var text = labels[key + (n === 1 ? "_one" : "_other")] || "";
    return text.replace("{n}", String(n));
  }

  /* A tally row in the words of the workshop's voting method (tally.method):
   * dots: "12 prikker · 7 støttere"; approval: "7 støttere" (each yes is a supporter);
   * score: "Karakter 4,2 · 7 støttere" (the ranking's damped mean; 4 and 5 count as support). */
  var SCORE_MAX = 5;

  function formatScore(score) {
    var lang = document.documentElement.lang || "da";
    return Number(score || 0).toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  }

  function tallyText(labels, method, row) {
    var supporters = plural(labels, "supporters", row.supporters);
    if (method === "approval") { return supporters; }
    if (method === "score") { return (labels.rating || "").replace("{score}", formatScore(row.score)) + " · " + supporters; }
    return plural(labels, "dots", row.dots) + " · " + supporters;
  }

  /* The bars' scale for these rows: a row's length, 0-100. Ratings on their own scale,
   * counts against the largest of the rows. */
  function tallyScale(method, rows) {
    if (method === "score") { return function (row) { return 100 * (row.score || 0) / SCORE_MAX; }; }
    var max = rows.reduce(function (m, r) { return Math.max(m, r.dots); }, 1);
    return function (row) { return 100 * row.dots / max; };
  }

  window.SamskabLive = {
    tallyText: tallyText, tallyScale: tallyScale,
    plural: plural, refresher: refresher, fieldChanged: fieldChanged,
    connect: connect, el: el, readJSON: readJSON, uuid: uuid,
    timerRemaining: timerRemaining, formatDuration: formatDuration
  };
})();
