// Customer-facing survey pages. Every page works without this file; it only swaps the
// text of an NPS follow-up question to the one written for the customer's group
// (detractor 0-6, passive 7-8, promoter 9-10) once a score is chosen.
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
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[type=radio]:checked").forEach(update);
  });
})();
