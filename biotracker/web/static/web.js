// Progressive enhancement only: every page works without this file.
// "Select all" checkboxes tick every row checkbox of their form (data-select-all="<form id>").
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  var form = document.getElementById(box.getAttribute("data-select-all"));
  if (!form) return;
  form.querySelectorAll('input[type="checkbox"][name="alert_id"]').forEach(function (row) {
    row.checked = box.checked;
  });
});
