// persona-bench leaderboard: sort by clicking a column header, filter by key columns and free text.
// Plain DOM, no dependencies; works from file:// as from any static host.
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  if (!table) return;
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

  function cellValue(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }

  function sortBy(col) {
    var th = headers[col];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col), y = cellValue(b, col);
      if (x === null && y === null) return 0;
      if (x === null) return 1;   // missing values last, whatever the direction
      if (y === null) return -1;
      var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  headers.forEach(function (th, col) {
    th.addEventListener("click", function () { sortBy(col); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(col); });
  });

  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter-col]"));
  var text = document.getElementById("filter-text");
  var count = document.getElementById("shown-count");

  function applyFilters() {
    var needle = text ? text.value.trim().toLowerCase() : "";
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var ok = selects.every(function (s) {
        return s.value === "" || row.cells[Number(s.getAttribute("data-filter-col"))].textContent === s.value;
      });
      if (ok && needle) ok = row.textContent.toLowerCase().indexOf(needle) !== -1;
      row.hidden = !ok;
      if (ok) shown++;
    });
    if (count) count.textContent = String(shown);
  }
  selects.forEach(function (s) { s.addEventListener("change", applyFilters); });
  if (text) text.addEventListener("input", applyFilters);
})();
