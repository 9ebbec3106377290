// The report form offers only the groupings of the chosen kind (the server checks them too).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("report-groupings");
  const kind = document.querySelector("select[name=kind]");
  const grouping = document.querySelector("select[name=grouping]");
  if (!source || !kind || !grouping) return;
  const offered = JSON.parse(source.textContent);
  const update = () => {
    const allowed = offered[kind.value] || [];
    for (const option of grouping.options) option.hidden = option.disabled = !allowed.includes(option.value);
    if (!allowed.includes(grouping.value) && allowed.length) grouping.value = allowed[0];
  };
  kind.addEventListener("change", update);
  update();
  // The dates matter for a custom period only.
  const period = document.querySelector("select[name=period]");
  const dates = ["date_from", "date_to"].map((name) => document.querySelector(`input[name=${name}]`)?.closest("label"));
  const showDates = () => dates.forEach((label) => label && (label.hidden = period.value !== "custom"));
  if (period) {
    period.addEventListener("change", showDates);
    showDates();
  }
});
