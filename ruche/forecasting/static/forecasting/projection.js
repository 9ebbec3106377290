// The dashboard's projection chart: the projected revenue per month and its 90% interval as a
// band, from the page's json_script, drawn by chart.js.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("projection-chart");
  const source = document.getElementById("projection-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const band = { pointRadius: 0, borderWidth: 0, backgroundColor: "rgba(54, 162, 235, 0.15)" };
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.label, data: data.projected, borderColor: "rgb(54, 162, 235)" },
        { label: data.interval_label, data: data.high, fill: "+1", ...band },
        { label: data.interval_label, data: data.low, fill: false, ...band },
      ],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
});
