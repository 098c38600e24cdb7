// Behaviour every page shares, kept out of the templates so the Content-Security-Policy needs no inline script:
// a form with data-confirm="question" asks that question before it submits; the answer to a form post (a page
// with <meta name="page-address">) takes the page's own address in the history, so a reload or going back asks for
// the page instead of posting the form again (a second API token or LRS credential, its secret shown again).
(function () {
  "use strict";
  // a table too wide for the screen scrolls sideways in its wrapper (.table-wrap, whose cells break between words
  // only) instead of breaking its words letter by letter on a phone
  // (tables a page swaps in later, htmx's refreshed cards, are wrapped as they arrive)
  function wrapTables() {
    for (const table of document.querySelectorAll("main table")) {
      if (table.parentElement.closest(".table-wrap, .log")) continue;
      const wrap = document.createElement("div");
      wrap.className = "table-wrap";
      table.replaceWith(wrap);
      wrap.append(table);
    }
  }
  wrapTables();
  const main = document.querySelector("main");
  if (main) new MutationObserver(wrapTables).observe(main, { childList: true, subtree: true });
  const address = document.querySelector('meta[name="page-address"]');
  if (address && address.content.startsWith("/") && !address.content.startsWith("//")) {
    history.replaceState(null, "", address.content);
  }
  document.addEventListener("submit", (event) => {
    const form = event.target instanceof Element ? event.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
