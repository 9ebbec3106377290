/* Ruche's page behaviour: quick-add dialog, board drag and drop (with a keyboard
   alternative), and the deal lines' totals as you type. Writes always go to the server,
   which applies the same services as the API; the page only shows the outcome. */
(function () {
  "use strict";

  const csrf = () => document.body.dataset.csrf;

  function toast(message, isError) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  async function post(url, data) {
    const body = new URLSearchParams(data);
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "X-Requested-With": "fetch" },
    });
    const text = await response.text();
    if (!response.ok) throw new Error(text || response.statusText);
    return text;
  }

  /* Quick add ------------------------------------------------------------------------- */
  function openQuickAdd(kind) {
    const dialog = document.getElementById("quick-add");
    if (!dialog) return;
    dialog.querySelectorAll(".tabs [data-kind]").forEach((tab) => {
      tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
    });
    const board = document.getElementById("board");
    const firstStage = board && board.querySelector(".cards");
    const stage = firstStage ? `?stage=${firstStage.dataset.stageId}` : "";
    htmx.ajax("GET", `/quick-add/${kind}/${stage}`, { target: "#quick-add-body", swap: "innerHTML" })
      .then(() => {
        const first = dialog.querySelector("#quick-add-body input:not([type=hidden])");
        if (first) first.focus();
      });
    if (!dialog.open) dialog.showModal();
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest(".quick-add-open, #quick-add .tabs [data-kind], .quick-add-again");
    if (opener) { openQuickAdd(opener.dataset.kind); return; }
    if (event.target.closest("#quick-add .close-dialog")) {
      document.getElementById("quick-add").close();
    }
  });


  /* Board ----------------------------------------------------------------------------- */
  function board() { return document.getElementById("board"); }

  async function refreshSummaries() {
    const element = board();
    if (!element) return;
    const response = await fetch(element.dataset.summaryUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    holder.querySelectorAll(".stage-header").forEach((header) => {
      const current = document.getElementById(header.id);
      if (current) current.replaceWith(header);
    });
  }

  function reloadBoard() {
    const element = board();
    if (!element) return;
    element.querySelectorAll(".cards").forEach((column) => {
      htmx.ajax("GET", column.dataset.url, { target: column, swap: "innerHTML" });
    });
    refreshSummaries();
  }

  function askLossReason() {
    const dialog = document.getElementById("lost-dialog");
    const select = document.getElementById("lost-reason");
    return new Promise((resolve) => {
      select.value = "";
      const finish = (value) => {
        dialog.removeEventListener("close", onClose);
        resolve(value);
      };
      const onClose = () => finish(dialog.returnValue === "confirm" && select.value ? select.value : null);
      dialog.addEventListener("close", onClose);
      document.getElementById("lost-cancel").onclick = () => dialog.close("cancel");
      document.getElementById("lost-form").onsubmit = (event) => {
        event.preventDefault();
        if (!select.value) { select.focus(); return; }
        dialog.close("confirm");
      };
      dialog.showModal();
      select.focus();
    });
  }

  /* Close a deal from the board: won, or lost with a reason. True when saved. */
  async function closeDeal(card, status) {
    const data = { status };
    if (status === "lost") {
      const reason = await askLossReason();
      if (!reason) return false;
      data.lost_reason_id = reason;
    }
    try {
      await post(card.dataset.statusUrl, data);
    } catch (error) {
      toast(error.message, true);
      return false;
    }
    card.remove();
    toast(status === "won" ? board().dataset.wonText : board().dataset.lostText, false);
    refreshSummaries();
    return true;
  }

  /* Move a card to a stage; returns the new card element, or null when refused. */
  async function moveDeal(card, stageId) {
    let html;
    try {
      html = await post(card.dataset.moveUrl, { target: stageId });
    } catch (error) {
      toast(error.message, true);
      return null;
    }
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    const fresh = holder.firstElementChild;
    card.replaceWith(fresh);
    htmx.process(fresh);
    refreshSummaries();
    return fresh;
  }

  function putBack(evt) {
    evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] || null);
  }

  function initBoard() {
    const element = board();
    if (!element || typeof Sortable === "undefined") return;
    element.querySelectorAll(".cards").forEach((column) => {
      Sortable.create(column, {
        group: "deals",
        draggable: ".card",
        filter: "select, button, input, option",
        preventOnFilter: false,
        animation: 120,
        onEnd: async (evt) => {
          if (evt.to === evt.from) return;
          const card = evt.item;
          const saved = evt.to.classList.contains("dropzone")
            ? await closeDeal(card, evt.to.dataset.status)
            : await moveDeal(card, evt.to.dataset.stageId);
          if (!saved) putBack(evt);
        },
      });
    });
    document.querySelectorAll(".dropzone").forEach((zone) => {
      Sortable.create(zone, { group: { name: "deals", pull: false, put: true }, draggable: ".card" });
    });
  }

  /* The keyboard alternative: each card's stage menu and "Move" button. */
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest(".card-move");
    if (!form || !board()) return;
    event.preventDefault();
    const card = form.closest(".card");
    const target = form.elements.target.value;
    if (target === "won" || target === "lost") {
      await closeDeal(card, target);
      return;
    }
    const column = board().querySelector(`.cards[data-stage-id="${target}"]`);
    if (card.parentElement === column) return;
    const fresh = await moveDeal(card, target);
    if (fresh && column) {
      column.prepend(fresh);
      const select = fresh.querySelector("select");
      if (select) select.focus();
    } else if (fresh) {
      fresh.remove();
    }
  });

  /* Deal lines: totals as you type (the server recomputes them exactly on save) --------- */
  function parseNumber(text) {
    const cleaned = String(text || "").replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    const value = Number(cleaned);
    return cleaned === "" || Number.isNaN(value) ? 0 : value;
  }

  function roundHalfUp(value) {
    return Math.sign(value) * Math.round(Math.abs(value) + 1e-9);
  }

  function updateLineTotals(section) {
    const currency = section.dataset.currency;
    const scale = 10 ** Number(section.dataset.exponent || 2);
    const format = new Intl.NumberFormat(document.documentElement.lang || "fr", { style: "currency", currency });
    let net = 0;
    let vat = 0;
    section.querySelectorAll(".line-row").forEach((row) => {
      const f = row.elements;
      const filled = f.name.value.trim() !== "" || row.dataset.lineId;
      const price = roundHalfUp(parseNumber(f.unit_price.value) * scale);
      const total = roundHalfUp((parseNumber(f.quantity.value) * price * (100 - parseNumber(f.discount_percent.value))) / 100);
      const lineVat = roundHalfUp((total * parseNumber(f.vat_rate.value)) / 100);
      row.querySelector(".line-total").textContent = filled ? format.format(total / scale) : "";
      if (filled) { net += total; vat += lineVat; }
    });
    section.querySelector('[data-total="net"]').textContent = format.format(net / scale);
    section.querySelector('[data-total="vat"]').textContent = format.format(vat / scale);
    section.querySelector('[data-total="gross"]').textContent = format.format((net + vat) / scale);
  }

  document.addEventListener("input", (event) => {
    const section = event.target.closest("#deal-lines");
    if (section) updateLineTotals(section);
  });

  function initLines() {
    const section = document.getElementById("deal-lines");
    if (section) updateLineTotals(section);
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target.id === "deal-lines" || event.target.closest && event.target.closest("#deal-lines")) initLines();
  });
  document.addEventListener("htmx:responseError", (event) => {
    toast(event.detail.xhr.responseText || event.detail.xhr.statusText, true);
  });

  /* Settings: stages reordered by dragging (the Up/Down buttons are the keyboard way) ---- */
  function initStageOrder() {
    const list = document.getElementById("stage-list");
    if (!list || typeof Sortable === "undefined") return;
    let before = null;
    Sortable.create(list, {
      handle: ".drag-handle",
      draggable: ".stage-item",
      forceFallback: true, // pointer events: the same on mouse, pen and touch
      animation: 120,
      onStart: () => { before = Array.from(list.children); },
      onEnd: async (evt) => {
        if (evt.oldIndex === evt.newIndex) return;
        const ids = Array.from(list.querySelectorAll(".stage-item")).map((item) => ["stage_ids", item.dataset.id]);
        try {
          await post(list.dataset.orderUrl, ids);
          window.location.reload();
        } catch (error) {
          before.forEach((item) => list.appendChild(item));
          toast(error.message, true);
        }
      },
    });
  }

  /* Lists: tick every shown row, and show the value the chosen bulk action needs ------- */
  function showBulkValue() {
    const action = document.getElementById("bulk-action");
    if (!action) return;
    document.querySelectorAll("#bulk-form [data-bulk]").forEach((field) => {
      field.hidden = field.dataset.bulk !== action.value;
    });
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches(".select-all")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach((box) => {
        box.checked = event.target.checked;
      });
    }
    if (event.target.id === "bulk-action") showBulkValue();
  });

  function init() {
    initBoard();
    initStageOrder();
    initLines();
    showBulkValue();
    document.body.addEventListener("ruche:created", (event) => {
      if (event.detail && event.detail.kind === "deal") reloadBoard();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
