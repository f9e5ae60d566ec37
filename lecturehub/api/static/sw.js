// The offline desk's service worker: desk pages, scripts and styles come from the network when it is there
// and from this cache when it is not, so the desk reloads without network. API calls are never cached:
// the page keeps the roster and the queue of check-ins in localStorage itself.
"use strict";
var CACHE = "lecturehub-desk-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) {
    return;
  }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request, { ignoreVary: true }).then(function (cached) { return cached || Response.error(); });
    })
  );
});
