// Saves the quiz's answers as they are given, so a reload or a lost connection loses nothing.
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) { return; }
  var url = form.getAttribute("data-draft-url");
  var timer = null;
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                   headers: { Accept: "application/json" } });
    }, 200);
  });
})();
