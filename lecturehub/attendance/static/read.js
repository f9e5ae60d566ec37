// Make-up study: records "key points read" when the member scrolls to the end of them.
// Without JavaScript the button at the end does the same.
(function () {
  "use strict";
  var end = document.getElementById("end-of-key-points");
  if (!end || end.getAttribute("data-done") === "yes" || !("IntersectionObserver" in window)) { return; }
  var form = end.querySelector("form");
  var observer = new IntersectionObserver(function (entries) {
    if (!entries.some(function (e) { return e.isIntersecting; })) { return; }
    observer.disconnect();
    fetch(end.getAttribute("data-read-url"), {
      method: "POST", credentials: "same-origin", body: new FormData(form),
      headers: { Accept: "application/json" }
    }).then(function (response) { if (response.ok) { window.location.reload(); } });
  });
  observer.observe(end);
})();
