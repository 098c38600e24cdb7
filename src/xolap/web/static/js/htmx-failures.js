// When a part of a page that htmx loads cannot be loaded, that part says why in plain words and the console stays
// clean. htmx logs every failure event (console.error) before any listener runs, so failures are taken over earlier:
// - an answer of 400 or more: before the swap (no swap, not an error), shown with the server's reason and detail;
//   signed out (401), with a link to the login page that leads back here;
// - no answer (server stopped, connection refused, timed out, or the request aborted): the request is ended as an
//   empty load the page has already handled, so htmx still releases the element for its next request.
// The element names what failed with data-load-failure ("The event summary could not be loaded").
(function () {
  "use strict";

  const NO_ANSWER = {
    error: "the server could not be reached. Check your connection and try again.",
    timeout: "the server could not be reached. Check your connection and try again.",
    abort: "the request was stopped before the server answered. Try again.",
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // "<what failed>: <reason>" first; a technical detail only behind a disclosure.
  function show(target, source, reason, detail) {
    if (!target) return;
    const what = (source && source.dataset && source.dataset.loadFailure) || "This part of the page could not be loaded";
    const box = el("div", { class: "error load-failure", role: "alert" });
    box.append(el("p", { class: "error-message" }, `${what}: ${reason}`));
    if (detail && detail !== reason) {
      const disclosure = el("details", { class: "error-detail" });
      disclosure.append(el("summary", {}, "Technical detail"), el("pre", {}, detail));
      box.append(disclosure);
    }
    target.replaceChildren(box);
  }

  function answerReason(xhr) {
    let reason = `the server answered ${xhr.status}${xhr.statusText ? " " + xhr.statusText : ""}`;
    let detail = null;
    try {
      const body = JSON.parse(xhr.responseText);
      const error = body.error;
      if (typeof error === "string") reason = error;
      else if (error) {
        reason = error.message || reason;
        detail = typeof error.detail === "string" ? error.detail : null;
      } else if (typeof body.detail === "string") reason = body.detail; // an HTTP refusal's own words
    } catch (_) { /* not JSON: the status says enough */ }
    return { reason, detail };
  }

  // Signed out (401): a link to the login page that leads back to this page.
  function loginLink() {
    const here = location.pathname + location.search + location.hash;
    return el("a", { href: "/login?next=" + encodeURIComponent(here), class: "login-again" }, "Log in again");
  }

  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!xhr || xhr.status < 400) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    const { reason, detail } = answerReason(xhr);
    const target = event.detail.target || event.detail.elt;
    show(target, event.detail.elt, reason, detail);
    if (xhr.status === 401 && target) {
      const line = el("p");
      line.append(loginLink());
      target.querySelector(".load-failure").append(line);
    }
  });

  document.addEventListener("htmx:beforeSend", (event) => {
    const xhr = event.detail.xhr;
    if (!xhr || typeof xhr.onload !== "function") return;
    const finish = xhr.onload; // htmx's own end of a request: indicators off, afterRequest, the element released
    const source = event.detail.elt;
    const target = event.detail.target || source;
    for (const kind of Object.keys(NO_ANSWER)) {
      xhr["on" + kind] = function () {
        xhr.xolapNoAnswer = kind;
        show(target, source, NO_ANSWER[kind]);
        finish.call(xhr);
      };
    }
  });

  // the ended request carries no answer to swap: stop htmx before it reads one
  document.addEventListener("htmx:beforeOnLoad", (event) => {
    if (event.detail.xhr && event.detail.xhr.xolapNoAnswer) event.preventDefault();
  });
})();
