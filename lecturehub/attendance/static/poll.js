// Keeps a venue screen or the live view current without reloading: polls the JSON state URL
// given in data-poll-url and writes each value into the element with the matching data-field.
(function () {
  "use strict";
  var root = document.querySelector("[data-poll-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-poll-url");
  var kind = root.getAttribute("data-poll-kind");
  var secondsEl = root.querySelector('[data-field="seconds_left"]');

  function setField(name, value) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
      if (name === "qr_svg") {
        if (el.getAttribute("data-url") !== String(value.url)) {
          el.innerHTML = value.svg;  // server-rendered SVG from segno; contains no script
          el.setAttribute("data-url", value.url);
        }
      } else {
        el.textContent = value === null ? "——" : value;
      }
    });
  }

  function apply(state) {
    Object.keys(state).forEach(function (name) {
      if (name === "qr_svg") { setField(name, { svg: state.qr_svg, url: state.url }); }
      else if (name !== "venues") { setField(name, state[name]); }
    });
    if (kind === "live" && state.venues) {
      state.venues.forEach(function (venue) {
        var row = root.querySelector('tr[data-venue="' + venue.venue_id + '"]');
        if (!row) { return; }
        ["arrived", "expected", "not_yet", "visitors"].forEach(function (name) {
          var cell = row.querySelector('[data-cell="' + name + '"]');
          if (cell) { cell.textContent = venue[name]; }
        });
        row.querySelector('[data-cell="rate"]').textContent = venue.rate + "%";
      });
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) { if (state) { apply(state); } })
      .catch(function () { /* the next poll tries again */ });
  }

  setInterval(poll, kind === "screen" ? 2000 : 5000);
  if (secondsEl) {
    setInterval(function () {
      var left = parseInt(secondsEl.textContent, 10);
      if (left > 1) { secondsEl.textContent = left - 1; } else { poll(); }
    }, 1000);
  }
})();
