// The run page's live part: follow the run's events (Server-Sent Events) and refresh the summary
// when a stage or gate changes. Event text goes in with textContent, never as HTML.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var log = document.getElementById("live-log");
  var REFRESH = ["stage_started", "stage_finished", "stage_skipped", "gate_paused", "gate_decided", "run_finished", "run_resumed"];

  function refresh() {
    var summary = document.getElementById("summary");
    if (summary && window.htmx) { window.htmx.trigger(summary, "refresh"); }
  }

  function line(ev) {
    var time = (ev.ts || "").slice(11, 19);
    var parts = [time, ev.stage || "run", ev.kind.replace("_", " ")];
    if (ev.verdict) { parts.push(ev.verdict); }
    if (ev.purpose) { parts.push(ev.purpose); }
    if (ev.message) { parts.push(ev.message); }
    var row = document.createElement("div");
    row.textContent = parts.join("  ");
    row.className = "k-" + ev.kind;
    log.appendChild(row);
    box.scrollTop = box.scrollHeight;
  }

  var source = new EventSource(box.getAttribute("data-src"));
  box.setAttribute("data-state", "open");
  source.addEventListener("run", function (msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    line(ev);
    if (REFRESH.indexOf(ev.kind) >= 0) { refresh(); }
  });
  source.addEventListener("end", function () {
    source.close();
    box.setAttribute("data-state", "ended");
    refresh();
  });
})();
