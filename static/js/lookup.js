// Fills the lookup results in as apps answer. Without JavaScript the page refreshes itself instead.
// Afterwards, while unbind requests are still being delivered, it reloads once their state changes.
(function () {
  var box = document.getElementById("lookup");
  if (!box) return;
  var url = box.dataset.statusUrl;
  function text(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function update(result) {
    text("apps-with-accounts", result.summary.apps_with_accounts);
    text("accounts-previous", result.summary.accounts_previous);
    text("progress-text", result.progress.settled + " / " + result.progress.total);
    var bar = document.getElementById("progress");
    bar.max = result.progress.total; bar.value = result.progress.settled;
    result.apps.forEach(function (row) {
      var tr = document.querySelector('tr[data-app="' + row.app_id + '"]');
      if (!tr) return;
      tr.className = "state-" + row.state;
      tr.querySelector(".state").textContent = row.state_label;
      tr.querySelector(".accounts").textContent = row.accounts ? row.accounts + (row.accounts_previous ? " (" + row.accounts_previous + " ⚠)" : "") : "—";
    });
    if (result.state === "completed") {
      box.dataset.state = "completed";
      window.location.reload();  // the final page, with its wording, from the server
      return;
    }
    setTimeout(poll, 500);
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(update)
      .catch(function () { setTimeout(poll, 2000); });
  }
  if (box.dataset.state !== "completed") { setTimeout(poll, 300); return; }

  var tries = 0;
  function unbindChanged(result) {
    return result.apps.some(function (row) {
      var cell = document.querySelector('tr[data-app="' + row.app_id + '"] td.unbind');
      return cell && row.unbind && cell.dataset.unbindState !== row.unbind.state;
    });
  }
  function watchUnbinding() {
    if (!document.querySelector('td.unbind[data-unbind-state="queued"]') || tries++ > 40) return;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (result) { if (unbindChanged(result)) window.location.reload(); else setTimeout(watchUnbinding, 1000); })
      .catch(function () { setTimeout(watchUnbinding, 3000); });
  }
  setTimeout(watchUnbinding, 800);
})();
