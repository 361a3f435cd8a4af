// Keeps a renewal's page current at the counter: reloads when an app answers or the renewal completes.
// Without JavaScript the page refreshes itself instead (<noscript> meta refresh).
(function () {
  var box = document.getElementById("renewal");
  if (!box || box.dataset.state === "completed") return;
  var url = box.dataset.progressUrl;
  var answered = box.dataset.answered;
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        if (p.state === "completed" || String(p.progress.answered) !== answered) { window.location.reload(); return; }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1000);
})();
