// patchbay web UI: parts of a page that refresh themselves. An element with
// data-src="/ui/..." and data-refresh="SECONDS" has its content replaced by that fragment
// every SECONDS. While a fetch is in flight it carries the class "is-loading"; when one
// fails, the last content stays, marked "is-failed" with a note saying so. The pages work
// without this script: they are rendered with their data, and a reload shows fresh data.
(function () {
  "use strict";

  var MIN_SECONDS = 5;

  function note(el, text) {
    var p = el.querySelector(":scope > .refresh-failed");
    if (!text) {
      if (p) { p.remove(); }
      return;
    }
    if (!p) {
      p = document.createElement("p");
      p.className = "refresh-failed";
      p.setAttribute("role", "status");
      el.insertBefore(p, el.firstChild);
    }
    p.textContent = text;
  }

  function refresh(el) {
    if (el.classList.contains("is-loading")) { return Promise.resolve(); }
    el.classList.add("is-loading");
    el.setAttribute("aria-busy", "true");
    return fetch(el.getAttribute("data-src"), {
      credentials: "same-origin",
      headers: { "Accept": "text/html" },
      cache: "no-store",
      redirect: "error"
    }).then(function (resp) {
      if (resp.status === 401) { throw new Error("signed out: reload the page to sign in again"); }
      if (!resp.ok) { throw new Error("the server answered " + resp.status); }
      return resp.text();
    }).then(function (html) {
      el.classList.remove("is-failed");
      // Parsed first, so that it compares with what the page holds: unchanged content is
      // not replaced, and a raised alert is not announced again.
      var parsed = document.createElement("template");
      parsed.innerHTML = html;
      if (parsed.innerHTML !== el.innerHTML) {
        el.innerHTML = parsed.innerHTML;
      }
    }).catch(function (err) {
      el.classList.add("is-failed");
      if (el.id !== "alerts") {
        note(el, "Could not refresh (" + (err && err.message ? err.message : "network error") +
          "); showing the last data.");
      }
    }).then(function () {
      el.classList.remove("is-loading");
      el.removeAttribute("aria-busy");
    });
  }

  function schedule(el) {
    var seconds = parseInt(el.getAttribute("data-refresh"), 10);
    if (!(seconds >= MIN_SECONDS)) { seconds = MIN_SECONDS; }
    window.setTimeout(function tick() {
      // A hidden tab waits until it is seen again.
      var next = document.hidden ? Promise.resolve() : refresh(el);
      next.then(function () { window.setTimeout(tick, seconds * 1000); });
    }, seconds * 1000);
  }

  function start() {
    var els = document.querySelectorAll("[data-src][data-refresh]");
    Array.prototype.forEach.call(els, function (el) {
      var src = el.getAttribute("data-src");
      // Same origin only: a path under /ui.
      if (!src || src.indexOf("/ui/") !== 0) { return; }
      schedule(el);
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { return; }
      Array.prototype.forEach.call(els, function (el) {
        if (el.classList.contains("is-failed")) { refresh(el); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
