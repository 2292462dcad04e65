/* Turns <button class="play-button" data-clip="ID"> into a toggle for <audio id="ID">. */
(function () {
  "use strict";

  var buttons = document.querySelectorAll(".play-button[data-clip]");
  Array.prototype.forEach.call(buttons, function (button) {
    var audio = document.getElementById(button.getAttribute("data-clip"));
    if (!audio || typeof audio.play !== "function") {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      if (audio.paused) {
        var p = audio.play();
        if (p && typeof p.catch === "function") {
          p.catch(function () { /* autoplay policy or decode issue: ignore */ });
        }
      } else {
        audio.pause();
      }
    });
    audio.addEventListener("play", function () { button.setAttribute("aria-pressed", "true"); });
    audio.addEventListener("pause", function () { button.setAttribute("aria-pressed", "false"); });
    audio.addEventListener("ended", function () { button.setAttribute("aria-pressed", "false"); });
  });
})();
