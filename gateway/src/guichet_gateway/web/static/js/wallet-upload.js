// The wallet's file forms with a progress bar (F43). Without JavaScript the same forms post as
// plain multipart forms and everything works; with it, the form is sent by XMLHttpRequest (the
// only browser API that reports an upload's progress), the same body to the same address.
//
// Markup it reads (templates/my/wallet_*.html):
//   <form ... enctype="multipart/form-data" data-upload>           a form to send this way
//     <div data-upload-progress hidden> <progress> <p data-upload-status data-sent-text=…
//          data-checking-text=… data-failed-text=…> </div>           texts in the page's language
// The answer decides what is shown: a page reached after the redirect (the form was taken) is
// opened; a page with the errors (422) or an error page replaces the main content in place,
// focused on its error summary, as the browser would show it after a plain post.
"use strict";
(() => {
  const sentText = (status, percent) =>
    (status.dataset.sentText || "{percent}").replace("{percent}", `${percent} %`);

  const showAnswer = (request) => {
    const answered = new DOMParser().parseFromString(request.responseText, "text/html");
    const main = answered.querySelector("main");
    const current = document.querySelector("main");
    if (!main || !current) {
      window.location.assign(request.responseURL);
      return;
    }
    current.replaceWith(main);
    document.title = answered.title;
    const summary = main.querySelector("#error-summary") || main;
    summary.focus();
  };

  const send = (form) => {
    const progress = form.querySelector("[data-upload-progress]");
    const bar = progress ? progress.querySelector("progress") : null;
    const status = progress ? progress.querySelector("[data-upload-status]") : null;
    const button = form.querySelector("button[type=submit]");
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable || !bar || !status) {
        return;
      }
      const percent = Math.floor((event.loaded / event.total) * 100);
      bar.value = percent;
      status.textContent = sentText(status, percent);
    });
    request.upload.addEventListener("load", () => {
      if (status) {
        status.textContent = status.dataset.checkingText || "";
      }
    });
    request.addEventListener("load", () => {
      const here = new URL(form.action, window.location.href);
      const answeredAt = new URL(request.responseURL || form.action, window.location.href);
      if (request.status === 200 && answeredAt.pathname !== here.pathname) {
        // Taken: the browser goes where the redirect led, as after a plain post.
        window.location.assign(answeredAt.href);
        return;
      }
      showAnswer(request);
    });
    request.addEventListener("error", () => {
      if (button) {
        button.disabled = false;
      }
      if (status) {
        status.textContent = status.dataset.failedText || "";
      }
    });
    if (progress) {
      progress.hidden = false;
    }
    if (button) {
      button.disabled = true;
    }
    request.send(new FormData(form));
  };

  // On the document: a form put in place after an answer is sent this way too.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form[data-upload]")) {
      return;
    }
    if (!("FormData" in window) || !("upload" in XMLHttpRequest.prototype)) {
      return; // an old browser: the plain post
    }
    event.preventDefault();
    send(form);
  });
})();
