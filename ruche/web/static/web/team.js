/* Forecast board: drag an open deal's card to another month. The server changes the expected
   close date through the deal service; on refusal the card goes back and the reason shows.
   Each card's form does the same without a mouse. */
(function () {
  "use strict";

  function toast(message) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.className = "error";
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  async function moveToMonth(card, month) {
    const response = await fetch(card.dataset.moveUrl, {
      method: "POST",
      body: new URLSearchParams({ month }),
      credentials: "same-origin",
      headers: { "X-CSRFToken": document.body.dataset.csrf, "X-Requested-With": "fetch" },
    });
    if (!response.ok) throw new Error((await response.text()) || response.statusText);
  }

  /* Columns' totals and cards come from the server again, with the page's filters. */
  function reloadBoard() {
    return htmx.ajax("GET", window.location.href, { target: "#forecast", select: "#forecast", swap: "outerHTML" })
      .then(initForecast);
  }

  function initForecast() {
    const board = document.getElementById("forecast");
    if (!board || typeof Sortable === "undefined") return;
    board.querySelectorAll(".cards").forEach((column) => {
      Sortable.create(column, {
        group: "forecast",
        draggable: ".forecast-card.open",
        filter: "select, button, input, option",
        preventOnFilter: false,
        animation: 120,
        onEnd: async (evt) => {
          if (evt.from === evt.to) return;
          try {
            await moveToMonth(evt.item, evt.to.dataset.month);
          } catch (error) {
            evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] || null);
            toast(error.message || board.dataset.moveError);
            return;
          }
          reloadBoard();
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", initForecast);
})();
