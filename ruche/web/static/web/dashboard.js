// The dashboard's won-revenue chart: data from the page's json_script, drawn by chart.js.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("won-chart");
  const source = document.getElementById("won-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: [{ label: data.label, data: data.amounts }] },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => data.texts[item.dataIndex] } },
      },
      scales: { y: { beginAtZero: true } },
    },
  });
});
