// Owns the one script of the console's delivery progress page: it listens
// to the page's server-sent events (EventSource, same origin) and updates
// the counts, the <progress> bar and the polite live region in place.
// Progressive enhancement only: without it the page shows the counts as
// they were when it was rendered and a link to refresh. Served by the app
// (CSP script-src 'self') at a path naming its content, cached for good.
import { createHash } from 'node:crypto'

export const PROGRESS_SCRIPT = `// Live delivery progress (Urgent Appeals console). Talks to this origin only.
(function () {
  'use strict';
  var root = document.querySelector('[data-progress-stream]');
  if (!root || typeof window.EventSource !== 'function') return;
  var bar = root.querySelector('progress');
  var status = document.getElementById(root.getAttribute('data-status'));
  var source = new EventSource(root.getAttribute('data-progress-stream'));
  function set(name, value) {
    var cells = root.querySelectorAll('[data-count="' + name + '"]');
    Array.prototype.forEach.call(cells, function (cell) { cell.textContent = String(value); });
  }
  function show(data) {
    var done = data.total - data.pending;
    // Every cell of a channel: a status no longer counted (e.g. nothing left sending) is 0, not its last value.
    ['email', 'webhook'].forEach(function (channel) {
      var counts = data.channels[channel] || {};
      var cells = root.querySelectorAll('[data-count^="' + channel + '."]');
      Array.prototype.forEach.call(cells, function (cell) {
        cell.textContent = String(counts[cell.getAttribute('data-count').slice(channel.length + 1)] || 0);
      });
    });
    set('total', data.total);
    set('pending', data.pending);
    set('completed', done);
    var percent = data.total > 0 ? Math.floor((done / data.total) * 100) : (data.done ? 100 : 0);
    set('percent', percent);
    if (bar) { bar.max = data.total > 0 ? data.total : 1; bar.value = data.total > 0 ? done : (data.done ? 1 : 0); }
    if (status) status.textContent = data.done ? root.getAttribute('data-done-text').replace('{total}', String(data.total))
      : root.getAttribute('data-live-text').replace('{completed}', String(done)).replace('{total}', String(data.total)).replace('{percent}', String(percent));
  }
  source.addEventListener('progress', function (event) { show(JSON.parse(event.data)); });
  source.addEventListener('done', function (event) {
    show(JSON.parse(event.data));
    source.close();
  });
})();
`

const hash = createHash('sha256').update(PROGRESS_SCRIPT).digest('hex').slice(0, 10)

/** Where the script is served (under the base path); it changes with its content. */
export const PROGRESS_SCRIPT_PATH = `/console/assets/console-progress.${hash}.js`
