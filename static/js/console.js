/* The facilitator console, live: people online, the live tally, the shared timer, and every
 * change made by participants or other facilitators shown without a reload. The console's
 * forms still post to the server without this script; with it, the live controls (timer,
 * reveal, spotlight, removing a participant) go over the socket and acknowledge at once. */
(function () {
  "use strict";
  var L = window.SamskabLive;
  var root = document.getElementById("console-root");
  if (!root || !L || !window.io) { return; }
  var labels = L.readJSON("console-labels");
  var statusLine = document.getElementById("live-status");
  var state = { titles: {}, tally: null, timer: null };
  var byId = function (id) { return document.getElementById(id); };
  var refresher = L.refresher(root, function () { renderTally(); renderCounts(); });
  var counts = { online: null, joined: null };

  function renderCounts() {
    if (counts.online !== null && byId("live-online")) { byId("live-online").textContent = String(counts.online); }
    if (counts.joined !== null && byId("live-joined")) { byId("live-joined").textContent = String(counts.joined); }
  }

  function renderTally() {
    var list = byId("live-tally");
    if (!list) { return; }
    var rows = state.tally ? state.tally.rows.filter(function (r) { return state.titles[r.id] !== undefined; }) : [];
    var max = rows.reduce(function (m, r) { return Math.max(m, r.dots); }, 0);
    if (!max) {
      list.replaceChildren(L.el("li", { className: "hint", text: labels.no_votes }));
      return;
    }
    var method = state.tally.method, width = L.tallyScale(method, rows);
    list.replaceChildren.apply(list, rows.slice(0, 15).map(function (row) {
      var bar = L.el("span", { className: "bar-fill", "aria-hidden": "true" });
      bar.style.width = width(row).toFixed(1) + "%";  // CSSOM: allowed by the CSP
      return L.el("li", {}, [
        L.el("span", { className: "tally-title", text: "#" + row.id + " " + state.titles[row.id] }),
        L.el("span", { className: "bar-track" }, [bar]),
        L.el("span", { className: "tally-value", text: L.tallyText(labels, method, row) })
      ]);
    }));
  }

  var EVENTS = {
    timer: function (form, submitter) {
      var action = submitter ? submitter.value : "start";
      var payload = { action: action };
      if (action === "start" || action === "extend") {
        var raw = action === "start" ? form.querySelector("[name=minutes]").value
                                     : form.querySelector("[name=extend_minutes]").value;
        payload.seconds = Math.round(parseFloat(String(raw).replace(",", ".")) * 60);
      }
      return ["timer", payload];
    },
    reveal: function (form, submitter) { return ["reveal", { revealed: submitter && submitter.value === "1" }]; },
    spotlight: function (form) {
      var raw = form.querySelector("[name=proposal_id]").value;
      return ["spotlight", { proposal_id: raw ? Number(raw) : null }];
    },
    remove: function (form) {
      var match = form.action.match(/participants\/(\d+)\/remove/);
      return ["remove_participant", {
        participant_id: Number(match[1]),
        void_votes: form.querySelector("[name=void_votes]").checked,
        reason: form.querySelector("[name=reason]").value
      }];
    }
  };

  root.addEventListener("submit", function (event) {
    var form = event.target;
    var make = EVENTS[form.dataset.live];
    if (!make || !live.socket.connected) { return; }  // the ordinary POST still works
    event.preventDefault();
    var call = make(form, event.submitter);
    live.send(call[0], call[1]).then(function (ack) {
      statusLine.textContent = ack.ok ? "" : ack.error.message;
      refresher.schedule(0);
    });
  });

  var live = L.connect({
    workshop: root.dataset.code,
    role: "facilitator",
    onStatus: function (s) {
      statusLine.textContent = s === "offline" ? labels.offline : (s === "reconnecting" ? labels.reconnecting : "");
    },
    handlers: {
      snapshot: function (snap) {
        state.titles = {};
        snap.proposals.forEach(function (p) { state.titles[p.id] = p.title; });
        state.tally = snap.tally;
        state.timer = snap.timer;
        if (snap.presence) { counts.online = snap.presence.online; }
        if (snap.participants) { counts.joined = snap.participants.joined; }
        if (snap.workshop.phase !== root.dataset.phase) { refresher.schedule(0); }
        renderCounts();
        renderTally();
      },
      presence: function (p) {
        var joinedChanged = typeof p.joined === "number" && p.joined !== counts.joined;
        counts.online = p.online;
        if (typeof p.joined === "number") { counts.joined = p.joined; }
        renderCounts();
        if (joinedChanged) { refresher.schedule(1500); }   // the participants table
      },
      tally: function (tally) {
        if (tally && state.tally && tally.seq < state.tally.seq) { return; }
        state.tally = tally;
        renderTally();
      },
      timer: function (timer) { state.timer = timer; },
      proposal: function (msg) {
        if (msg.proposal) { state.titles[msg.proposal.id] = msg.proposal.title; }
        refresher.schedule(300);
      },
      comment: function () { refresher.schedule(300); },
      phase: function () { refresher.schedule(0); },
      workshop: function () { refresher.schedule(0); },
      spotlight: function () { refresher.schedule(0); }
    }
  });

  window.setInterval(function () {
    var slot = byId("live-timer");
    if (!slot || !state.timer) { return; }
    var ms = L.timerRemaining(state.timer, live.serverNow());
    slot.textContent = ms === null ? "–" : L.formatDuration(ms);
    slot.dataset.state = state.timer.state;
  }, 500);
})();
