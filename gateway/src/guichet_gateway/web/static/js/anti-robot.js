// The anti-robot widget's proof-of-work worker, loaded as a file from this site: the strict
// Content-Security-Policy allows no inline or blob: worker, so the widget's CSP build registers
// none itself. The widget (altcha.min.js) is loaded before this file and creates $altcha.
"use strict";
globalThis.$altcha.algorithms.set(
  "PBKDF2/SHA-256",
  () => new Worker("/static/vendor/altcha/workers/pbkdf2.js"),
);
