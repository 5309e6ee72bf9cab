// The inbox: its rows refresh every 30 s (htmx), but not while the tab is hidden, while
// cases are ticked for bulk assignment, or while the bulk form has the focus. A refresh
// redirected elsewhere (a session that ended) stops the refreshing. The page works
// without it.
(() => {
  function busy() {
    if (document.hidden) return true;
    if (document.querySelector('#inbox-rows input[name="case"]:checked')) return true;
    const active = document.activeElement;
    return Boolean(active && active.closest && active.closest("#bulk-form, #inbox-rows"));
  }

  document.addEventListener("htmx:confirm", (event) => {
    if (event.target.closest("[data-inbox-poller]") && busy()) event.preventDefault();
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    const xhr = event.detail.xhr;
    if (!source || !source.closest("[data-inbox-poller]") || !xhr.responseURL) return;
    const asked = new URL(event.detail.pathInfo.requestPath, window.location.href).pathname;
    if (new URL(xhr.responseURL).pathname !== asked || xhr.status !== 200) {
      event.detail.shouldSwap = false;
      source.remove();
    }
  });
})();
