// Keeps an open roster current during check-in: polls the roster's JSON state and rewrites each member's
// status badge, check-in time and the counts. Forms are left alone, so a change being typed is not lost.
(function () {
  "use strict";
  var root = document.querySelector("[data-roster-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-roster-url");

  function apply(state) {
    Object.keys(state.counts).forEach(function (name) {
      var el = root.querySelector('[data-count="' + name + '"]');
      if (el) { el.textContent = state.counts[name]; }
    });
    var phase = root.querySelector('[data-field="phase_label"]');
    if (phase) { phase.textContent = state.phase_label; }
    Object.keys(state.members).forEach(function (id) {
      var row = document.querySelector('tr[data-member="' + id + '"]');
      if (!row) { return; }
      var member = state.members[id];
      var badge = row.querySelector('[data-cell="status"]');
      if (badge && badge.textContent !== member.label) {
        badge.textContent = member.label;
        badge.className = "status status-" + member.status;
      }
      var time = row.querySelector('[data-cell="time"]');
      if (time) { time.textContent = member.time; }
    });
  }

  function poll() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) { if (state) { apply(state); } })
      .catch(function () { /* the next poll tries again */ });
  }

  setInterval(poll, 5000);
})();
