// Behaviour every page shares, kept out of the templates so the Content-Security-Policy needs no inline script:
// a form with data-confirm="question" asks that question before it submits.
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const form = event.target instanceof Element ? event.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
