// The quarterly report's "Print" button: shown only where script runs (without it, the browser's own menu prints).
(function () {
  var button = document.getElementById("print");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
