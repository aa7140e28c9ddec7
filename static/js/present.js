/* The presenter screen: join code and QR in the lobby, then phase, timer, spotlight, the newest
 * proposals and, when revealed, the ranking as live bars. Read-only. */
(function () {
  "use strict";
  var L = window.SamskabLive;
  var root = document.getElementById("present");
  var labels = L.readJSON("present-labels");
  var state = { proposals: {}, order: [], tally: null, timer: null, phase: null, joined: 0 };
  var $ = function (id) { return document.getElementById(id); };

  function render() {
    $("phase-label").textContent = labels.phases[state.phase] || state.phase || "";
    $("join").hidden = !(state.phase === "lobby" || state.phase === "ideation");
    $("joined").textContent = String(state.joined);
    renderLatest();
    renderBars();
  }

  function renderLatest() {
    var list = $("latest-list");
    var latest = state.order.slice(-6).reverse();
    list.replaceChildren.apply(list, latest.map(function (id) {
      return L.el("li", { text: state.proposals[id].title });
    }));
    $("latest").hidden = latest.length === 0 || !!state.tally;
  }

  function renderBars() {
    var section = $("results");
    if (!state.tally) { section.hidden = true; return; }
    section.hidden = false;
    var rows = state.tally.rows.filter(function (r) { return state.proposals[r.id]; }).slice(0, 10);
    var method = state.tally.method, width = L.tallyScale(method, rows);
    var bars = $("bars");
    bars.replaceChildren.apply(bars, rows.map(function (row) {
      var bar = L.el("span", { className: "present-bar", "aria-hidden": "true" });
      bar.style.width = width(row).toFixed(1) + "%";  // CSSOM: allowed by the CSP
      return L.el("li", {}, [
        L.el("span", { className: "present-bar-title", text: state.proposals[row.id].title }),
        L.el("span", { className: "present-bar-track" }, [bar]),
        L.el("span", { className: "present-bar-value", text: L.tallyText(labels, method, row) })
      ]);
    }));
  }

  function setSpotlight(proposal) {
    $("spotlight").hidden = !proposal;
    $("spotlight-title").textContent = proposal ? proposal.title : "";
    $("spotlight-body").textContent = proposal ? proposal.body : "";
  }

  function upsert(proposal) {
    if (!state.proposals[proposal.id]) { state.order.push(proposal.id); }
    state.proposals[proposal.id] = proposal;
  }

  function remove(id) {
    delete state.proposals[id];
    state.order = state.order.filter(function (x) { return x !== id; });
  }

  var live = L.connect({
    workshop: root.dataset.code,
    presenter: root.dataset.key,
    onStatus: function (s) {
      $("status").textContent = s === "offline" ? labels.offline : (s === "reconnecting" ? labels.reconnecting : "");
    },
    handlers: {
      snapshot: function (snap) {
        state.proposals = {}; state.order = [];
        snap.proposals.forEach(upsert);
        state.phase = snap.workshop.phase;
        state.tally = snap.tally;
        state.timer = snap.timer;
        state.joined = (snap.participants && snap.participants.joined) || 0;
        var spot = snap.workshop.spotlight && state.proposals[snap.workshop.spotlight];
        setSpotlight(spot || null);
        render();
      },
      phase: function (data) { state.phase = data.workshop.phase; render(); },
      workshop: function (data) { state.phase = data.workshop.phase; render(); },
      proposal: function (msg) {
        if (msg.proposal) { upsert(msg.proposal); } else { remove(msg.id); }
        render();
      },
      tally: function (tally) {
        if (tally && state.tally && tally.seq < state.tally.seq) { return; }
        state.tally = tally; render();
      },
      presence: function (p) { if (typeof p.joined === "number") { state.joined = p.joined; render(); } },
      timer: function (timer) { state.timer = timer; },
      spotlight: function (data) { setSpotlight(data.proposal); },
      refused: function () { $("status").textContent = labels.refused; }
    }
  });

  window.setInterval(function () {
    var ms = L.timerRemaining(state.timer, live.serverNow());
    $("timer").textContent = L.formatDuration(ms);
  }, 250);
})();
