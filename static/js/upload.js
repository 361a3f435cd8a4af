// Keeps an upload's progress bar current (a carrier's file, a bulk check file): the counts named in the
// box's data-fields. Without JavaScript the page refreshes itself instead.
(function () {
  var box = document.getElementById("upload");
  if (!box || box.dataset.done === "true") return;
  var url = box.dataset.progressUrl;
  var fields = (box.dataset.fields || "rows_read rows_accepted rows_duplicate rows_rejected freeze_breaches percent").split(" ");
  function update(p) {
    fields.forEach(function (name) { var el = document.getElementById(name); if (el) el.textContent = p[name]; });
    document.getElementById("state").textContent = p.state_label;
    document.getElementById("progress").value = p.percent;
    if (p.done) { window.location.reload(); return; }  // the final page (download link, wording) from the server
    setTimeout(poll, 1000);
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(update)
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
