// A count with its noun for text people read: "1 row", "2 rows", "1,234 rows", "1 row/s" (the one browser helper;
// xolap/counted.py is Python's, with the same rule): singular for exactly 1, else `plural` (default noun + "s").
// Loaded by base.html before every page's own scripts: window.xolapCounted(count, noun, plural).
(function () {
  "use strict";
  window.xolapCounted = function (count, noun, plural) {
    const number = Number(count);
    return `${number.toLocaleString("en-US")} ${number === 1 ? noun : (plural || noun + "s")}`;
  };
})();
