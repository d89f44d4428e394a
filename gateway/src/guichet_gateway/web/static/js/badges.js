// Live badges (F85): the counts next to "My eTrackings" follow the person's events while the
// page is open. Without JavaScript (or without EventSource) nothing happens: the badges stay
// hidden and every page works as it is.
//
// Markup it reads (in the signed-in layout):
//   <span class="usa-tag" data-badge="etrackings" hidden></span>     one per place it shows
//   <div class="usa-sr-only" aria-live="polite" data-badge-announcer></div>   exactly one
// The stream (/api/v1/events) sends `badges` events: {"etrackings": {"open": n, "changed": n},
// "labels": {"etrackings": "n with news"}, "announcement": "..."}; the texts come in the page's
// language. The announcement, sent only for a change (not when the page opens), goes to the
// polite live region, so a screen reader says it once.
"use strict";
(() => {
  const badges = document.querySelectorAll("[data-badge]");
  if (badges.length === 0 || !("EventSource" in window)) {
    return;
  }
  const announcer = document.querySelector("[data-badge-announcer]");
  const language = document.documentElement.lang || "";
  const source = new EventSource(`/api/v1/events?lang=${encodeURIComponent(language)}`);

  const show = (badge, count, label) => {
    // The number for the eye, the sentence for the ear (a bare number says nothing).
    const seen = document.createElement("span");
    seen.setAttribute("aria-hidden", "true");
    seen.textContent = String(count);
    const heard = document.createElement("span");
    heard.className = "usa-sr-only";
    heard.textContent = label || String(count);
    badge.replaceChildren(seen, heard);
    badge.hidden = count === 0;
  };

  source.addEventListener("badges", (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    const labels = data.labels || {};
    for (const badge of badges) {
      const name = badge.dataset.badge;
      const counts = data[name];
      if (counts && Number.isInteger(counts.changed)) {
        show(badge, counts.changed, labels[name]);
      }
    }
    if (announcer && data.announcement) {
      // Emptied first: the same sentence twice in a row is still read out.
      announcer.textContent = "";
      window.setTimeout(() => {
        announcer.textContent = data.announcement;
      }, 100);
    }
  });
  // A refused stream (signed out) is not retried by the browser; a dropped one is, by itself.
})();
