// Search as you type, and the keyboard: "/" goes to the search box, ↓ and ↑ move through the
// results. Without this script the page works the same through its form and links.
(function () {
  "use strict";
  var form = document.getElementById("search");
  var results = document.getElementById("results");

  function resultLinks() { return Array.prototype.slice.call(document.querySelectorAll("a.result")); }

  if (form && results) {
    var timer = null, pending = null, last = null;
    var update = function () {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (v, k) { if (v !== "") params.append(k, v); });
      var qs = params.toString();
      if (qs === last) return;
      last = qs;
      if (pending) pending.abort();
      pending = new AbortController();
      fetch("/fragments/results?" + qs, { signal: pending.signal, headers: { "Accept": "text/html" } })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          results.innerHTML = html;
          history.replaceState(null, "", qs ? "/?" + qs : "/");
        })
        .catch(function (e) { if (e.name !== "AbortError") results.innerHTML = '<p class="error" role="alert">The search failed: ' + e.message + "</p>"; });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(update, 150); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", function (e) { e.preventDefault(); clearTimeout(timer); update(); });
  }

  document.addEventListener("keydown", function (e) {
    var t = e.target, typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
    if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      var q = document.querySelector("input[type=search]");
      if (q) { e.preventDefault(); q.focus(); q.select(); }
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    var links = resultLinks();
    if (!links.length) return;
    var i = links.indexOf(document.activeElement);
    if (t && t.type === "search" && e.key === "ArrowDown") { e.preventDefault(); links[0].focus(); return; }
    if (i < 0) return;
    e.preventDefault();
    if (e.key === "ArrowDown" && i + 1 < links.length) links[i + 1].focus();
    if (e.key === "ArrowUp") { if (i > 0) links[i - 1].focus(); else { var s = document.querySelector("input[type=search]"); if (s) s.focus(); } }
  });
})();
