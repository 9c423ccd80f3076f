// Owns the one script of the console's delivery progress page: it listens
// to the page's server-sent events (EventSource, same origin) and updates
// the counts, the <progress> bar, the polite live region and the bounce
// and complaint table in place.
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
  // The bounce and complaint table (outside the counts' region): counts, the
  // mails sent they are rates of, and each rate with its threshold marker.
  function percentText(rate) { return String(Number((rate * 100).toFixed(2))) + ' %'; }
  function showHealth(health) {
    if (!health) return;
    var values = { 'sent': health.sent, 'hard-bounces': health.hardBounces, 'soft-bounces': health.softBounces, 'complaints': health.complaints };
    Object.keys(values).forEach(function (key) {
      var cell = document.querySelector('[data-health="' + key + '"]');
      if (cell) cell.textContent = String(values[key]);
    });
    var rates = { 'hard-bounces-rate': health.hardBounceRate, 'soft-bounces-rate': health.softBounceRate, 'complaints-rate': health.complaintRate };
    Object.keys(rates).forEach(function (key) {
      var cell = document.querySelector('[data-health="' + key + '"]');
      if (!cell) return;
      var rate = rates[key];
      var threshold = cell.getAttribute('data-threshold');
      cell.textContent = rate === null ? '\u2014' : percentText(rate);
      if (rate !== null && threshold !== '' && rate > Number(threshold)) {
        var marker = document.createElement('strong');
        marker.textContent = '(above ' + percentText(Number(threshold)) + ')';
        cell.appendChild(document.createTextNode(' '));
        cell.appendChild(marker);
      }
    });
  }
  source.addEventListener('progress', function (event) { var data = JSON.parse(event.data); show(data); showHealth(data.emailHealth); });
  source.addEventListener('done', function (event) {
    var data = JSON.parse(event.data);
    show(data);
    showHealth(data.emailHealth);
    source.close();
  });
})();
`

const hash = createHash('sha256').update(PROGRESS_SCRIPT).digest('hex').slice(0, 10)

/** Where the script is served (under the base path); it changes with its content. */
export const PROGRESS_SCRIPT_PATH = `/console/assets/console-progress.${hash}.js`
