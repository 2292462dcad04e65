/* Shard Sample Music - small progressive enhancements. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Open off-site links in a new tab and mark them.
  var here = window.location.host;
  var links = document.querySelectorAll("a[href]");
  for (var i = 0; i < links.length; i++) {
    var a = links[i];
    if (a.host && a.host !== here && /^https?:$/.test(a.protocol)) {
      a.setAttribute("rel", "noopener");
      a.setAttribute("target", "_blank");
      a.classList.add("external");
    }
  }

  // Show the reading time under article headings.
  var prose = document.querySelector(".review .prose");
  var meta = document.querySelector(".review .meta");
  if (prose && meta) {
    var words = (prose.textContent || "").trim().split(/\s+/).length;
    var span = document.createElement("span");
    span.className = "reading-time";
    span.textContent = " \u00b7 " + Math.max(1, Math.round(words / 200)) + " min read";
    meta.appendChild(span);
  }
})();
