// A saved report's chart: data from the page's json_script, drawn by chart.js.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("report-chart");
  const source = document.getElementById("report-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const chart = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: chart.type,
    data: { labels: chart.labels, datasets: chart.datasets },
    options: {
      plugins: { legend: { display: chart.datasets.length > 1 || chart.type === "pie" } },
      scales: chart.type === "pie" ? {} : { y: { beginAtZero: true } },
    },
  });
});
