/* Harbour docs: tiny enhancements, safe on every page. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  ready(function () {
    // Click a screenshot to toggle between fitted and natural size.
    var shots = document.querySelectorAll("img.screenshot, .screenshot img");
    Array.prototype.forEach.call(shots, function (img) {
      img.style.cursor = "zoom-in";
      img.addEventListener("click", function () {
        var zoomed = img.classList.toggle("zoomed");
        img.style.cursor = zoomed ? "zoom-out" : "zoom-in";
        img.style.width = zoomed ? img.naturalWidth * 2 + "px" : "";
      });
    });

    // Mark the page as enhanced (handy for end-to-end tests).
    document.documentElement.setAttribute("data-harbour-docs", "ready");
  });
})();
