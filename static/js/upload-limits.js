// Refuses a file larger than the server takes as soon as it is chosen, before anything is sent, so the
// page and what was typed stay as they are. The server checks again (portal/uploads.py).
(function () {
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var max = Number(input.dataset.maxBytes);
    var note = document.createElement("p");
    note.className = "upload-too-large errorlist";
    note.setAttribute("role", "alert");
    note.hidden = true;
    input.insertAdjacentElement("afterend", note);
    input.addEventListener("change", function () {
      var big = Array.prototype.filter.call(input.files, function (file) { return file.size > max; });
      var message = big.length ? input.dataset.tooLarge.replace("{name}", big[0].name) : "";
      input.setCustomValidity(message);
      note.textContent = message;
      note.hidden = !message;
    });
    if (input.form) input.form.addEventListener("submit", function (event) {
      if (!input.checkValidity()) { event.preventDefault(); note.hidden = false; input.focus(); }
    });
  });
})();
