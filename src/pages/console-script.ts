// Owns the console's two scripts, served by the app itself (CSP script-src
// 'self') at paths that name their content, so they are cached for good:
// - @simplewebauthn/browser's own bundle (UMD, no dependencies; the global
//   `SimpleWebAuthnBrowser`), read from node_modules at start — the
//   WebAuthn glue (base64url, option decoding, error names) the library's
//   authors maintain for every browser, rather than our own copy;
// - our few lines: a form marked `data-passkey` asks the server for
//   options, runs the ceremony, posts the answer and follows the server's
//   `location`. Without JavaScript the forms stay hidden and a paragraph
//   says why (passkeys need it).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
// The package's `exports` does not list its bundle: found beside its main file.
const browserPackage = dirname(dirname(require.resolve('@simplewebauthn/browser')))
export const WEBAUTHN_SCRIPT = readFileSync(join(browserPackage, 'dist', 'bundle', 'index.umd.min.js'), 'utf8')

export const PASSKEY_SCRIPT = `// Passkey forms of the console (Urgent Appeals). Talks to this origin only.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  var forms = document.querySelectorAll('form[data-passkey]');
  function post(url, form, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'accept': 'application/json', 'x-csrf-token': form.getAttribute('data-csrf') || '' },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Error(json.detail || json.title || ('HTTP ' + response.status));
        return json;
      });
    });
  }
  Array.prototype.forEach.call(forms, function (form) {
    var status = document.getElementById(form.getAttribute('data-status'));
    var button = form.querySelector('button[type=submit]');
    var noScript = document.getElementById(form.getAttribute('data-noscript'));
    if (!lib || !lib.browserSupportsWebAuthn()) {
      if (noScript) noScript.textContent = form.getAttribute('data-unsupported');
      return;
    }
    if (noScript) noScript.hidden = true;
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var register = form.getAttribute('data-passkey') === 'register';
      var nameField = form.querySelector('input[name=name]');
      button.disabled = true;
      status.textContent = form.getAttribute('data-working');
      post(form.getAttribute('data-options'), form, {}).then(function (started) {
        var ceremony = register ? lib.startRegistration({ optionsJSON: started.options }) : lib.startAuthentication({ optionsJSON: started.options });
        return ceremony.then(function (answer) {
          var body = { flow: started.flow, response: answer };
          if (nameField) body.name = nameField.value;
          return post(form.action, form, body);
        });
      }).then(function (done) {
        window.location.assign(done.location);
      }, function (error) {
        var message = error && error.name === 'NotAllowedError' ? form.getAttribute('data-cancelled') : (error && error.message) || String(error);
        status.textContent = message;
        button.disabled = false;
      });
    });
  });
})();
`

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10)

/** Where the scripts are served (under the base path); each changes with its content. */
export const WEBAUTHN_SCRIPT_PATH = `/assets/simplewebauthn-browser.${digest(WEBAUTHN_SCRIPT)}.js`
export const PASSKEY_SCRIPT_PATH = `/assets/console-passkeys.${digest(PASSKEY_SCRIPT)}.js`
