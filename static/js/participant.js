/* The participant's page, live. The page is rendered by the server and works without this
 * script; with it, the page follows the workshop without a reload:
 * - proposals, comments and the tally arrive over the socket and are shown in place;
 * - a phase change re-renders the page in place, keeping whatever is being typed;
 * - proposing, commenting and voting go over the socket, with immediate feedback, and an
 *   action that could not be confirmed is shown as such and resent after reconnecting. */
(function () {
  "use strict";
  var L = window.SamskabLive;
  var root = document.getElementById("live-root");
  if (!root || !L || !window.io) { return; }
  var labels = L.readJSON("live-labels");
  var placeholder = root.dataset.placeholder;
  var statusLine = document.getElementById("live-status");
  var state = {
    phase: root.dataset.phase, version: Number(root.dataset.version),
    budget: Number(root.dataset.budget), cap: Number(root.dataset.cap),
    proposals: {}, allocations: {}, tally: null, timer: null, online: 0,
    connectedOnce: false, wasOffline: false, removed: false,
    seq: 0, mark: 0                          // vote numbering: the last sent, the server's mark
  };

  function say(text) { statusLine.textContent = text || ""; }
  function byId(id) { return document.getElementById(id); }
  function card(id) { return byId("p-" + id); }
  function remaining() {
    var spent = 0;
    Object.keys(state.allocations).forEach(function (k) { spent += state.allocations[k]; });
    return state.budget - spent;
  }

  // --- Re-rendering the page in place (a phase change, one's own proposals) -------------------

  var refresher = L.refresher(root, function () {
    if (root.dataset.phase !== state.phase) {      // tell screen readers what just changed
      var label = root.querySelector(".phase");
      say(labels.phase_now.replace("{phase}", label ? label.textContent.trim() : root.dataset.phase));
    }
    state.phase = root.dataset.phase;
    state.version = Number(root.dataset.version);
    state.budget = Number(root.dataset.budget);
    state.cap = Number(root.dataset.cap);
    renderVotes();
    renderTally();
    if (state.removed) { disableAll(); }
  });
  var scheduleRefresh = refresher.schedule;
  var changed = L.fieldChanged;

  // --- Proposals and comments, shown in place ---------------------------------------------------

  function fillCard(node, p) {
    node.querySelector("[data-field=title]").textContent = p.title;
    var body = node.querySelector("[data-field=body]");
    body.textContent = p.body || "";
    body.hidden = !p.body;
    var meta = node.querySelector("[data-field=meta]");
    if (meta) {
      meta.textContent = p.own ? labels.yours : (p.author ? labels.by.replace("{name}", p.author) : "");
    }
  }

  function newCard(p) {
    var template = byId("tpl-proposal");
    if (!template) { return null; }
    var node = template.content.firstElementChild.cloneNode(true);
    [node].concat(Array.prototype.slice.call(node.querySelectorAll("*"))).forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (attr) {
        if (attr.value.indexOf(placeholder) !== -1) {
          el.setAttribute(attr.name, attr.value.split(placeholder).join(String(p.id)));
        }
      });
    });
    node.querySelectorAll("input[name$=client_id]").forEach(function (f) { f.value = L.uuid(); });
    fillCard(node, p);
    return node;
  }

  function showProposal(p) {
    state.proposals[p.id] = p;
    var existing = card(p.id);
    if (existing) { fillCard(existing, p); return; }
    if (["ideation", "review", "voting"].indexOf(state.phase) === -1) { return; }
    var section = byId("element-" + p.element_id);
    var node = section && newCard(p);
    if (!node) { scheduleRefresh(0); return; }
    var empty = section.querySelector(":scope > p.hint");
    if (empty) { empty.remove(); }
    section.appendChild(node);
    renderVotes();
  }

  function dropProposal(id) {
    delete state.proposals[id];
    var node = card(id);
    if (!node) { return; }
    var editing = Array.prototype.some.call(node.querySelectorAll("textarea, input"), changed);
    if (editing) { scheduleRefresh(0); return; }  // the refresh keeps the typed text
    node.remove();
  }

  function showComment(c) {
    var node = card(c.proposal_id);
    if (!node || node.querySelector('[data-comment="' + c.id + '"]')) { return; }
    var list = node.querySelector("[data-field=comments]");
    var template = byId("tpl-comment");
    if (!list || !template) { return; }
    var item = template.content.firstElementChild.cloneNode(true);
    item.setAttribute("data-comment", c.id);
    item.querySelector(".body").textContent = c.body;
    var meta = item.querySelector(".meta");
    if (c.author) { meta.textContent = c.author; } else { meta.remove(); }
    list.appendChild(item);
    list.hidden = false;
    var count = node.querySelector("[data-field=comment-count]");
    if (count) { count.textContent = String(list.children.length); }
  }

  // --- Votes ------------------------------------------------------------------------------------

  function renderVotes() {
    var left = remaining();
    var counter = byId("remaining");
    if (counter) { counter.textContent = String(left); }
    root.querySelectorAll(".vote").forEach(function (box) {
      var node = box.closest("[data-id]");
      var id = node && node.dataset.id;
      if (!id || id === placeholder) { return; }
      var mine = state.allocations[id] || 0;
      var shown = box.querySelector("[data-field=mine]");
      if (shown) { shown.textContent = box.dataset.method === "score" && !mine ? "–" : String(mine); }
      var row = box.querySelector("[data-field=dot-row]");
      if (row) {
        var dots = [];
        for (var i = 0; i < mine; i++) { dots.push(L.el("span", { className: "dot" })); }
        row.replaceChildren.apply(row, dots);
      }
      // Dots: one more, one less, within the budget and the cap per proposal.
      box.querySelectorAll("button[data-step]").forEach(function (button) {
        var step = Number(button.dataset.step);
        button.value = String(mine + step);
        button.disabled = step < 0 ? mine === 0 : (mine >= state.cap || left <= 0);
      });
      // Score: the chosen rating is pressed; "remove" only when there is one.
      box.querySelectorAll("button[data-set]").forEach(function (button) {
        var value = Number(button.dataset.set);
        if (value === 0) { button.disabled = mine === 0; return; }
        button.setAttribute("aria-pressed", String(mine === value));  // the CSS marks it
      });
      // Approval: one toggle.
      box.querySelectorAll("button[data-toggle]").forEach(function (button) {
        button.value = mine ? "0" : "1";
        button.setAttribute("aria-pressed", String(mine > 0));
      });
      var number = box.querySelector("input[type=number]");
      if (number && document.activeElement !== number) { number.value = String(mine); }
    });
  }

  function voteState(id, text, isError) {
    var node = card(id);
    var slot = node && node.querySelector("[data-field=vote-state]");
    if (!slot) { return; }
    slot.textContent = text || "";
    slot.className = "vote-state" + (isError ? " error" : "");
  }

  function resyncOwn() {
    return live.send("own", {}, "own").then(function (ack) {
      if (ack && ack.ok) { state.allocations = ack.allocations; renderVotes(); }
    });
  }

  /* Votes are numbered, each newer one higher, above the server's mark (docs/live.md, "Vote
   * order"): a resend of an old vote that arrives late never overwrites a newer one. */
  function nextSeq() {
    state.seq = Math.max(state.seq + 1, state.mark + 1, Date.now());
    return state.seq;
  }

  function vote(id, dots, attempt) {
    dots = Math.max(0, Math.min(state.cap, dots));
    var before = state.allocations[id] || 0;
    if (dots === before) { return; }
    state.allocations[id] = dots;            // immediate feedback; the server decides
    renderVotes();
    voteState(id, "…");
    var timer = window.setTimeout(function () { voteState(id, labels.unconfirmed); }, 1500);
    var payload = { proposal_id: Number(id), dots: dots, seq: nextSeq() };
    live.send("vote", payload, "vote:" + id).then(function (ack) {
      window.clearTimeout(timer);
      if (ack.ok && typeof ack.mark === "number") { state.mark = Math.max(state.mark, ack.mark); }
      if (ack.ok && ack.applied === false) {
        // Overtaken by a vote from elsewhere (another device of this person): show what
        // counts, and send this newest wish again, above the mark (a few times at most).
        state.allocations[id] = ack.dots;
        renderVotes();
        if (ack.dots !== dots && (attempt || 0) < 3) { vote(id, dots, (attempt || 0) + 1); }
        else { voteState(id, ""); }
        return;
      }
      if (ack.ok) {
        voteState(id, labels.saved);
        window.setTimeout(function () { voteState(id, ""); }, 2000);
      } else {
        voteState(id, ack.error.message, true);
        resyncOwn();
      }
    });
  }

  function renderTally() {
    var rows = state.tally ? state.tally.rows : [];
    var method = state.tally ? state.tally.method : "dots";
    var rowOf = {};
    rows.forEach(function (r) { rowOf[r.id] = r; });
    root.querySelectorAll("[data-field=total]").forEach(function (slot) {
      var node = slot.closest("[data-id]");
      var id = node && node.dataset.id;
      if (!state.tally || !(id in rowOf)) { slot.hidden = true; return; }
      slot.hidden = false;
      slot.textContent = method === "dots" ? L.plural(labels, "total", rowOf[id].dots)
                                           : L.tallyText(labels, method, rowOf[id]);
    });
  }

  // --- Forms over the socket --------------------------------------------------------------------

  function formError(form, message) {
    var slot = form.querySelector(".live-error");
    if (!slot) {
      slot = L.el("p", { className: "error live-error", role: "alert" });
      form.insertBefore(slot, form.firstChild);
    }
    slot.textContent = message || "";
    slot.hidden = !message;
  }

  function clientIdOf(form) {
    var field = form.querySelector("input[name$=client_id]");
    if (!field.value) { field.value = L.uuid(); }
    return field;
  }

  function submitProposal(form) {
    var idField = clientIdOf(form);
    var button = form.querySelector("[type=submit]");
    var payload = {
      title: form.querySelector("[name=title]").value,
      body: form.querySelector("[name=body]").value,
      element_id: Number(form.querySelector("[name=element_id]").value) || null,
      client_id: idField.value
    };
    button.disabled = true;
    live.send("propose", payload).then(function (ack) {
      button.disabled = false;
      if (!ack.ok) { formError(form, ack.error.message); return; }
      formError(form, "");
      form.querySelector("[name=title]").value = "";
      form.querySelector("[name=body]").value = "";
      idField.value = L.uuid();              // the next proposal is a new one
      byId("similar").hidden = true;
      say(ack.proposal.status === "pending" ? labels.proposal_pending : labels.proposal_sent);
      if (ack.proposal.status === "visible") { showProposal(ack.proposal); }
      scheduleRefresh(0);                    // "Dine forslag" lists it too
    });
  }

  function submitComment(form) {
    var idField = clientIdOf(form);
    var text = form.querySelector("textarea");
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    live.send("comment", {
      proposal_id: Number(form.dataset.proposal), body: text.value, client_id: idField.value
    }).then(function (ack) {
      button.disabled = false;
      if (!ack.ok) { formError(form, ack.error.message); return; }
      formError(form, "");
      text.value = "";
      idField.value = L.uuid();
      showComment(ack.comment);
      say(labels.comment_sent);
    });
  }

  root.addEventListener("submit", function (event) {
    if (!live.socket.connected || state.removed) { return; }  // the ordinary POST still works
    var form = event.target;
    var kind = form.dataset.live || (form.closest("#nyt-forslag") ? "propose" : null);
    if (!kind) { return; }
    event.preventDefault();
    if (kind === "propose") { submitProposal(form); }
    else if (kind === "comment") { submitComment(form); }
    else if (kind === "vote") {
      var button = event.submitter, id = form.dataset.proposal;
      var mine = state.allocations[id] || 0;
      if (button && button.dataset.set !== undefined) { vote(id, Number(button.dataset.set)); }
      else if (button && button.dataset.toggle) { vote(id, mine ? 0 : 1); }
      else { vote(id, mine + (button ? Number(button.dataset.step) || 0 : 0)); }
    } else if (kind === "vote-number") {
      vote(form.dataset.proposal, parseInt(form.querySelector("input[type=number]").value, 10) || 0);
    }
  });

  // "Lignende forslag" while typing a proposal.
  var similarTimer = null;
  root.addEventListener("input", function (event) {
    if (!event.target.closest("#nyt-forslag") || !window.SamskabSimilar) { return; }
    window.clearTimeout(similarTimer);
    similarTimer = window.setTimeout(function () {
      var form = byId("nyt-forslag");
      var text = form.querySelector("[name=title]").value + " " + form.querySelector("[name=body]").value;
      var candidates = Object.keys(state.proposals).map(function (k) { return state.proposals[k]; })
        .filter(function (p) { return p.status === "visible"; });
      var found = window.SamskabSimilar.mostSimilar(text, candidates, 3, 0.3);
      var box = byId("similar"), list = byId("similar-list");
      list.replaceChildren.apply(list, found.map(function (x) {
        return L.el("li", {}, [L.el("a", { href: "#p-" + x.item.id, text: x.item.title })]);
      }));
      box.hidden = found.length === 0;
    }, 250);
  });

  function disableAll() {
    root.querySelectorAll("button, input, textarea, select").forEach(function (f) { f.disabled = true; });
  }

  // --- The connection ---------------------------------------------------------------------------

  var live = L.connect({
    workshop: root.dataset.code,
    role: "participant",
    onStatus: function (s) {
      if (s === "offline") { state.wasOffline = true; say(labels.offline); }
      else if (s === "reconnecting") { say(labels.reconnecting); }
      else if (s === "unconfirmed") { say(labels.unconfirmed); }
      else if (s === "connected" && state.wasOffline) {
        state.wasOffline = false;
        say(labels.connected);
        window.setTimeout(function () { if (statusLine.textContent === labels.connected) { say(""); } }, 3000);
      }
    },
    handlers: {
      snapshot: function (snap) {
        state.proposals = {};
        snap.proposals.forEach(function (p) { state.proposals[p.id] = p; });
        state.allocations = snap.you ? snap.you.allocations : {};
        if (snap.you && typeof snap.you.vote_mark === "number") {
          state.mark = Math.max(state.mark, snap.you.vote_mark);
        }
        state.tally = snap.tally;
        state.timer = snap.timer;
        var stale = snap.workshop.phase !== state.phase || snap.version !== state.version;
        if (state.connectedOnce && stale) { scheduleRefresh(1000); }
        else if (stale && snap.workshop.phase !== state.phase) { scheduleRefresh(0); }
        state.connectedOnce = true;
        renderVotes();
        renderTally();
      },
      phase: function () { scheduleRefresh(Math.min(8000, state.online * 5)); },
      workshop: function () { scheduleRefresh(Math.min(8000, state.online * 5)); },
      proposal: function (msg) {
        if (msg.proposal && msg.proposal.status === "visible") { showProposal(msg.proposal); }
        else if (msg.proposal) { scheduleRefresh(0); }        // one's own pending or hidden
        else { dropProposal(msg.id); }
        if (msg.change === "merged" || (msg.proposal && msg.proposal.own)) { scheduleRefresh(2000); }
      },
      comment: showComment,
      tally: function (tally) {
        if (tally && state.tally && tally.seq < state.tally.seq) { return; }
        state.tally = tally;
        renderTally();
      },
      presence: function (p) { state.online = p.online || 0; },
      timer: function (timer) { state.timer = timer; },
      own_stale: resyncOwn,
      removed: function () { state.removed = true; say(labels.removed); disableAll(); live.socket.disconnect(); }
    }
  });

  window.setInterval(function () {
    var slot = byId("live-timer");
    if (!slot) { return; }
    var ms = L.timerRemaining(state.timer, live.serverNow());
    slot.hidden = ms === null;
    slot.textContent = ms === null ? "" : L.formatDuration(ms);
  }, 500);
})();
