// tempo's HTML report: highlight a test's bars by name. Everything else works
// without script. An error anywhere is written into the page, where the browser
// check (bench/check_report.py) looks for it.
(function () {
  "use strict";
  window.addEventListener("error", function (e) {
    var d = document.getElementById("tempo-js-error") || document.createElement("div");
    d.id = "tempo-js-error";
    d.textContent = "script error: " + e.message;
    document.body.insertBefore(d, document.body.firstChild);
  });
  // How long the page took to parse, style and lay out, for bench/check_report.py:
  // this script runs once the document is parsed, and reading a layout property
  // makes the browser finish the layout first.
  void document.body.offsetHeight;
  document.documentElement.setAttribute("data-layout-ms", performance.now().toFixed(0));
  var input = document.getElementById("find");
  var found = document.getElementById("found");
  if (!input || !found) return;
  var bars = Array.prototype.slice.call(document.querySelectorAll("#lanes rect[class]"));
  var names = bars.map(function (r) {
    var t = r.querySelector("title");
    return t ? t.textContent.split("\n")[0].toLowerCase() : "";
  });
  var tests = Array.prototype.slice.call(document.querySelectorAll("article.test"));
  var timer = 0;
  function apply() {
    var q = input.value.trim().toLowerCase();
    var hits = 0;
    bars.forEach(function (r, i) {
      if (r.classList.contains("stripe")) return;
      var hit = q !== "" ? names[i].indexOf(q) !== -1 : false;
      r.classList.toggle("dim", q !== "" ? !hit : false);
      r.classList.toggle("hit", hit);
      if (hit) hits += 1;
    });
    tests.forEach(function (t) {
      var name = (t.getAttribute("data-name") || "").toLowerCase();
      t.classList.toggle("dim", q !== "" ? name.indexOf(q) === -1 : false);
    });
    found.textContent = q === "" ? "" : hits + (hits === 1 ? " bar" : " bars");
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });
})();
