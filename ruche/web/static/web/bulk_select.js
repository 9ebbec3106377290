/* Deals list, "select all matching" (as Gmail and Pipedrive do it): once every shown row is
   ticked, the server says how many deals match the filters and offers to act on all of them.
   Choosing it enables the banner's hidden inputs, so the bulk form posts the list's filters
   and that count instead of ids; unticking a row goes back to the ticked rows only. The server
   reads the deals again through the list's own filters and visibility rule. */
(function () {
  "use strict";

  const rowBoxes = () => document.querySelectorAll('input[name="ids"][form="bulk-form"]');
  const banner = () => document.getElementById("select-all-banner");

  const matchingChosen = () =>
    Boolean(document.querySelector('#select-all-banner input[name="matching"]:enabled'));

  function chooseMatching() {
    const box = banner();
    box.querySelectorAll("input[form=bulk-form]").forEach((input) => { input.disabled = false; });
    box.querySelector("[data-matching-offer]").hidden = true;
    box.querySelector("[data-matching-chosen]").hidden = false;
  }

  function clearBanner() {
    const box = banner();
    if (!box) return;
    box.replaceChildren();
    delete box.dataset.shown;
  }

  async function offerMatching(shown) {
    const box = banner();
    const response = await fetch(`${box.dataset.url}&shown=${shown}`, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    box.innerHTML = await response.text();
    box.dataset.shown = shown;
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!banner() || !target.matches('.select-all, input[name="ids"]')) return;
    // app.js ticks the rows after this listener runs: the select-all box says what they become.
    const everyRowTicked = target.matches(".select-all")
      ? target.checked
      : [...rowBoxes()].every((box) => box.checked);
    if (everyRowTicked && rowBoxes().length) offerMatching(rowBoxes().length);
    else clearBanner();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-select-matching]")) chooseMatching();
    if (event.target.closest("[data-clear-matching]")) {
      rowBoxes().forEach((box) => { box.checked = false; });
      document.querySelectorAll(".select-all").forEach((box) => { box.checked = false; });
      clearBanner();
    }
  });

  // "Load more" adds unticked rows: they belong to a chosen "all matching" selection; else the
  // offer, made for the rows shown before, no longer holds.
  document.addEventListener("htmx:afterSettle", () => {
    const box = banner();
    if (!box || !box.dataset.shown || Number(box.dataset.shown) === rowBoxes().length) return;
    if (matchingChosen()) rowBoxes().forEach((row) => { row.checked = true; });
    else clearBanner();
  });
})();
