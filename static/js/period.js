// The report form's period: choosing a month, a quarter, a year or typing a date selects that kind of period, so the
// radio never says one thing while the fields say another. Without this script the radio is chosen by hand.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#period .period-choice").forEach(function (row) {
      const radio = row.querySelector("input[type=radio]");
      row.querySelectorAll("input:not([type=radio]), select").forEach(function (field) {
        ["focus", "change", "input"].forEach(function (event) {
          field.addEventListener(event, function () { radio.checked = true; });
        });
      });
    });
  });
})();
