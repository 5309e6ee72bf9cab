// Customer-facing survey pages. Every page works without this file; it only
//  * swaps the text of an NPS follow-up question to the one written for the customer's
//    group (detractor 0-6, passive 7-8, promoter 9-10) when the score and the follow-up
//    share a page (the builder's preview; the answer page asks them on two steps),
//  * ignores a second tap on a form that is already on its way (the server would store
//    the same answer once anyway),
//  * moves the focus to the error summary when a page comes back with errors.
(() => {
  const groupOf = (score) => (score <= 6 ? "detractor" : score <= 8 ? "passive" : "promoter");

  const update = (radio) => {
    const score = Number.parseInt(radio.value, 10);
    if (Number.isNaN(score)) return;
    const group = groupOf(score);
    const key = `text${group.charAt(0).toUpperCase()}${group.slice(1)}`;
    document.querySelectorAll("[data-follow-up-for]").forEach((text) => {
      if (text.dataset.followUpFor === radio.name) {
        text.textContent = text.dataset[key] || text.dataset.textDefault || text.textContent;
      }
    });
  };

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "radio" && target.checked) {
      update(target);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
  });

  // Back/forward cache: a page shown again must accept a new submit.
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-sending]").forEach((form) => {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
    });
  });

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[type=radio]:checked").forEach(update);
    const summary = document.querySelector(".error-summary");
    if (summary instanceof HTMLElement) summary.focus();
  });
})();
