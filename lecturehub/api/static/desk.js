// The offline desk: check-ins typed or scanned at the door go into a queue kept in localStorage and are
// sent to the API with their scan time and a nonce, at once when online, otherwise when the network returns.
// The roster is kept in localStorage too, so names show and repeated scans are caught while offline.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) { return; }
  var TEXT = JSON.parse(document.getElementById("desk-text").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var key = root.getAttribute("data-key");
  var venueId = Number(root.getAttribute("data-venue"));
  var rosterUrl = root.getAttribute("data-roster-url");
  var batchUrl = root.getAttribute("data-batch-url");
  var cardPrefix = root.getAttribute("data-card-prefix").toUpperCase();
  var input = root.querySelector("#desk-member");
  var sending = false;

  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(key + "-" + name)) || fallback; } catch (e) { return fallback; }
  }
  function save(name, value) { localStorage.setItem(key + "-" + name, JSON.stringify(value)); }
  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, name) { return values[name] === undefined ? "" : values[name]; });
  }
  function clock(iso) {
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function nonce() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);  // available without HTTPS, unlike crypto.randomUUID
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function who(member) { return member.name + fill(TEXT.paren, { text: member.no }); }
  function memberNumber(text) {
    var value = text.trim();
    if (value.toUpperCase().indexOf(cardPrefix) === 0) { value = value.slice(cardPrefix.length); }
    return value;
  }

  var roster = load("roster", { version: null, members: {}, at: null });
  var queue = load("queue", []);
  var results = load("results", []);

  function render() {
    var arrived = 0;
    Object.keys(roster.members).forEach(function (no) {
      var m = roster.members[no];
      if ((m.status === "present" || m.status === "late") && m.venue === venueId) { arrived += 1; }
    });
    field("arrived").textContent = roster.at ? arrived : "—";
    field("pending-label").textContent = fill(TEXT.pending, { n: queue.length });
    var online = navigator.onLine;
    field("network").textContent = online ? TEXT.online : TEXT.offline;
    field("network").className = online ? "badge ok" : "badge";
    field("roster-state").textContent = roster.at
      ? fill(TEXT.roster_saved, { n: Object.keys(roster.members).length, time: clock(roster.at) })
      : TEXT.roster_offline;
    var list = field("results");
    list.textContent = "";
    results.slice(0, 50).forEach(function (r) {
      var li = document.createElement("li");
      li.setAttribute("data-outcome", r.outcome);
      li.setAttribute("data-member", r.member_no || r.sent || "");
      li.className = r.outcome === "checked_in" || r.outcome === "already_checked_in" ? "" : "flash flash-error";
      var text = r.outcome === "refused" ? fill(TEXT.labelled, { label: r.sent, value: r.message }) : r.message;
      li.textContent = text + " · " + fill(TEXT.scanned_at, { time: clock(r.scanned_at) });
      list.appendChild(li);
    });
  }

  function say(text, ok) {
    var last = field("last");
    last.hidden = false;
    last.textContent = text;
    last.className = ok ? "flash flash-success" : "flash flash-error";
  }

  function applyRoster(data) {
    if (data.complete) { roster.members = {}; }
    data.members.forEach(function (m) {
      roster.members[m.member_no.toUpperCase()] = {
        no: m.member_no, name: m.name, status: m.status, venue: m.checked_in_venue_id
      };
    });
    roster.version = data.version;
    roster.at = new Date().toISOString();
    save("roster", roster);
  }

  function refreshRoster(full) {
    var url = rosterUrl + (!full && roster.version !== null ? "?since=" + roster.version : "");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) { applyRoster(data); render(); })
      .catch(function () { render(); });
  }

  function send() {
    if (sending || queue.length === 0 || !navigator.onLine) { render(); return Promise.resolve(); }
    sending = true;
    var batch = queue.slice(0, 200);
    var body = JSON.stringify({ scans: batch.map(function (s) {
      return { member: s.member, scanned_at: s.scanned_at, nonce: s.nonce };
    }) });
    return fetch(batchUrl, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf }
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.message || response.status); }
        return data;
      });
    }).then(function (data) {
      var answered = {};
      data.results.forEach(function (r, i) {
        answered[r.nonce] = true;
        if (r.member_no && r.status) {
          roster.members[r.member_no.toUpperCase()] = {
            no: r.member_no, name: r.name, status: r.status, venue: r.checked_in_venue_id
          };
        }
        results.unshift({ outcome: r.outcome, message: r.message, member_no: r.member_no,
                          sent: batch[i].member, scanned_at: batch[i].scanned_at });
      });
      queue = queue.filter(function (s) { return !answered[s.nonce]; });
      field("last").hidden = true;  // "waiting to be sent" is over; the answers are listed below
      results = results.slice(0, 200);
      save("queue", queue); save("results", results); save("roster", roster);
      sending = false;
      render();
      if (queue.length) { return send(); }
      return undefined;
    }).catch(function (error) {
      sending = false;
      if (navigator.onLine) { say(TEXT.send_failed + " (" + error.message + ")", false); }
      render();
    });
  }

  root.querySelector("[data-form]").addEventListener("submit", function (event) {
    event.preventDefault();
    var typed = input.value;
    var number = memberNumber(typed);
    if (!number) { say(TEXT.empty, false); return; }
    var known = roster.members[number.toUpperCase()];
    if (known && (known.status === "present" || known.status === "late")) {
      say(fill(TEXT.already_here, { who: who(known) }), true);
      input.value = "";
      return;
    }
    var scan = { member: typed.trim(), scanned_at: new Date().toISOString(), nonce: nonce() };
    queue.push(scan);
    save("queue", queue);
    say(known ? fill(TEXT.queued, { who: who(known), time: clock(scan.scanned_at) })
              : fill(TEXT.queued_unknown, { who: number }), true);
    input.value = "";
    input.focus();
    render();
    send();
  });

  window.addEventListener("online", function () { send().then(function () { return refreshRoster(false); }); });
  window.addEventListener("offline", render);
  setInterval(function () { send(); }, 15000);
  setInterval(function () { if (navigator.onLine && !sending) { refreshRoster(false); } }, 30000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.getAttribute("data-sw"), { scope: root.getAttribute("data-scope") })
      .then(function () {
        // This page and what it loaded came before the worker could keep them: keep them now, for a reload
        // without network (the worker answers from this cache when the network fails).
        var urls = [location.pathname];
        document.querySelectorAll('link[rel="stylesheet"], link[rel="icon"], script[src]').forEach(function (el) {
          urls.push(el.getAttribute("href") || el.getAttribute("src"));
        });
        return caches.open(root.getAttribute("data-cache")).then(function (cache) { return cache.addAll(urls); });
      })
      .catch(function () { /* without a worker the open page still works offline; only a reload needs it */ });
  }
  render();
  refreshRoster(true).then(send);
})();
