// The live response feed: relative times that stay current, and no polling while the
// tab is hidden (one poll as soon as it is visible again). The page works without it.
(() => {
  const lang = document.documentElement.lang || undefined;
  const relative = "RelativeTimeFormat" in Intl ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  const steps = [
    [60, "second", 1],
    [3600, "minute", 60],
    [86400, "hour", 3600],
    [Infinity, "day", 86400],
  ];

  function describe(seconds) {
    if (Math.abs(seconds) < 45) return relative.format(0, "second");
    for (const [limit, unit, size] of steps) {
      if (Math.abs(seconds) < limit) return relative.format(Math.round(seconds / size), unit);
    }
    return "";
  }

  function refreshTimes(root) {
    if (!relative) return;
    root.querySelectorAll("time[data-relative]").forEach((element) => {
      const then = Date.parse(element.getAttribute("datetime"));
      if (!Number.isNaN(then)) element.textContent = describe((then - Date.now()) / 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", () => refreshTimes(document));
  document.addEventListener("htmx:afterSettle", () => refreshTimes(document));
  setInterval(() => refreshTimes(document), 30000);

  document.addEventListener("htmx:confirm", (event) => {
    if (document.hidden && event.target.closest("[data-feed-poller]")) event.preventDefault();
  });
  // A poll redirected elsewhere (a session that ended sends it to the sign-in page) is
  // not a list of rows: keep it out of the feed and stop polling.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    const xhr = event.detail.xhr;
    if (!source || !source.closest("[data-feed-poller]") || !xhr.responseURL) return;
    const asked = new URL(event.detail.pathInfo.requestPath, window.location.href).pathname;
    if (new URL(xhr.responseURL).pathname !== asked) {
      event.detail.shouldSwap = false;
      source.remove();
    }
  });
  document.addEventListener("visibilitychange", () => {
    const poller = document.querySelector("[data-feed-poller]");
    if (!document.hidden && poller && window.htmx) window.htmx.trigger(poller, "feed:wake");
  });
})();
