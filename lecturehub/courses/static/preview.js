// Live Markdown preview for admins: sends the text to the server, which renders and sanitises it.
(function () {
  "use strict";
  document.querySelectorAll("textarea[data-preview-url]").forEach(function (area) {
    var target = document.getElementById(area.getAttribute("data-preview-target"));
    var token = document.querySelector('input[name="csrf_token"]');
    var timer = null;
    if (!target || !token) { return; }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var body = new FormData();
        body.append("text", area.value);
        fetch(area.getAttribute("data-preview-url"), {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": token.value, Accept: "application/json" }
        }).then(function (response) { return response.ok ? response.json() : null; })
          .then(function (data) { if (data) { target.innerHTML = data.html; } });  // sanitised by the server
      }, 300);
    });
  });
})();
