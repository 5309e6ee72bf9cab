// Small progressive enhancements; every page works without them.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.requestSubmit();
  }
});
document.addEventListener("focusin", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-focus")) {
    target.select();
  }
});
