// Owns the one script of the public site: copy buttons for the ready
// letters of the appeal page. Progressive enhancement only: the buttons are
// rendered `hidden` and this script shows them; without it the letter is
// text to select. Served by the app itself (CSP script-src 'self') at a
// path that names its content, so it can be cached for good.
import { createHash } from 'node:crypto'

export const COPY_SCRIPT = `// Copy buttons of the ready letters (Urgent Appeals). No network, no storage.
(function () {
  'use strict';
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  var buttons = document.querySelectorAll('button[data-copy]');
  Array.prototype.forEach.call(buttons, function (button) {
    var letter = document.getElementById(button.getAttribute('data-copy'));
    var status = document.getElementById(button.getAttribute('data-status'));
    if (!letter || !status) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = letter.textContent;
      function done() { status.textContent = button.getAttribute('data-copied'); }
      function failed() { select(letter); status.textContent = button.getAttribute('data-failed'); }
      function fallback() {
        select(letter);
        try { if (document.execCommand('copy')) done(); else failed(); } catch (e) { failed(); }
      }
      status.textContent = '';
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
    });
  });
})();
`

const hash = createHash('sha256').update(COPY_SCRIPT).digest('hex').slice(0, 10)

/** Where the script is served (under the base path); changes with its content. */
export const COPY_SCRIPT_PATH = `/assets/copy-button.${hash}.js`
