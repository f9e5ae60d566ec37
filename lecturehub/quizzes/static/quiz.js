// Saves the quiz's answers as they are given, so a reload or a lost connection loses nothing.
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) { return; }
  var url = form.getAttribute("data-draft-url");
  var timer = null;
  function save() {
    timer = null;
    fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                 headers: { Accept: "application/json" } });
  }
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(save, 200);  // several quick taps make one request
  });
  // Leaving or reloading within those 200 ms: hand the last answers to the browser to deliver.
  window.addEventListener("pagehide", function () {
    if (timer !== null && navigator.sendBeacon) {
      clearTimeout(timer);
      navigator.sendBeacon(url, new FormData(form));
    }
  });
})();
