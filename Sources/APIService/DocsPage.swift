// DocsPage: GET /docs — the API described from /openapi.json, and a form to try it. Self-contained
// (no CDN; works offline), and its script and style are files of their own, so the page's
// Content-Security-Policy needs no 'unsafe-inline': injected markup could not run script.

enum DocsPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>alertmesh API</title>
        <link rel="stylesheet" href="/docs/docs.css">
        </head>
        <body>
        <h1>alertmesh</h1>
        <p class="lead" id="description"></p>

        <h2>Try it</h2>
        <label for="message">Message</label>
        <textarea id="message">my secret email is test@mail.com and my card is 1234567890123456</textarea>
        <label for="key">API key, if this service asks for one</label>
        <input id="key" type="password" autocomplete="off" spellcheck="false">
        <button id="submit">Submit</button>
        <p>Task: <code id="task">–</code> &nbsp; State: <span id="state" class="state">–</span></p>
        <p id="alerts"></p>
        <pre id="output"></pre>

        <h2>Alert codes</h2>
        <p>Each code is decided on the message alone; findings show masked excerpts only.</p>
        <table id="codes"><tr><th>code</th><th>fires on, for example</th><th>finding shows</th></tr>
        <tr><td><code>api_key_detected</code></td><td><code>token ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ</code> (AWS, GitHub, Slack, Stripe, Google, npm formats)</td><td><code>ghp_…WXYZ</code></td></tr>
        <tr><td><code>card_number_detected</code></td><td><code>card 4111 1111 1111 1111</code></td><td><code>**** **** **** 1111</code></td></tr>
        <tr><td><code>email_detected</code></td><td><code>mail john.doe@example.com</code></td><td><code>j***@example.com</code></td></tr>
        <tr><td><code>fraud_attempt</code></td><td><code>this is a scam</code></td><td><code>s***</code></td></tr>
        <tr><td><code>iban_detected</code></td><td><code>IBAN: DE89 3704 0044 0532 0130 00</code> (checksum verified)</td><td><code>DE89 **** **** **** **** 00</code></td></tr>
        <tr><td><code>jwt_detected</code></td><td><code>Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz</code></td><td><code>alg=HS256</code></td></tr>
        <tr><td><code>personal_data</code></td><td><code>my Password: x</code></td><td><code>P*******</code></td></tr>
        <tr><td><code>phone_detected</code></td><td><code>call +44 20 7946 0958</code></td><td><code>+44 ********58</code></td></tr>
        <tr><td><code>private_key_detected</code></td><td><code>-----BEGIN RSA PRIVATE KEY-----</code></td><td>the header line only</td></tr>
        </table>

        <h2>Endpoints</h2>
        <table id="endpoints"><tr><th>request</th><th>what</th><th>answers</th></tr></table>
        <p>The machine-readable description: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1).</p>

        <script src="/docs/docs.js"></script>
        </body>
        </html>
        """#

    static let script = #"""
        "use strict";
        const $ = (id) => document.getElementById(id);

        async function describe() {
          const spec = await (await fetch("/openapi.json")).json();
          $("description").textContent = spec.info.description;
          for (const [path, methods] of Object.entries(spec.paths)) {
            for (const [method, op] of Object.entries(methods)) {
              const row = $("endpoints").insertRow();
              row.insertCell().innerHTML = '<span class="method">' + method.toUpperCase() + '</span> <code></code>';
              row.cells[0].querySelector("code").textContent = path;
              row.insertCell().textContent = op.summary;
              row.insertCell().textContent = Object.keys(op.responses).join(", ");
            }
          }
        }

        function show(body) {
          $("output").textContent = JSON.stringify(body, null, 2);
          if (body.state) {
            $("state").textContent = body.state;
            $("state").className = "state " + body.state;
          }
          if (body.result) {
            $("alerts").innerHTML = "";
            for (const a of body.result.alerts) {
              const span = document.createElement("span");
              span.className = "alert";
              span.textContent = a;
              $("alerts").appendChild(span);
            }
            if (body.result.alerts.length === 0) $("alerts").textContent = "no alerts";
          }
        }

        // The key goes in a header, never a URL (nor storage): it is typed again after a reload.
        function auth() {
          const key = $("key").value.trim();
          return key ? {"Authorization": "Bearer " + key} : {};
        }

        async function poll(id) {
          for (let i = 0; i < 600; i++) {
            const r = await fetch("/status/" + encodeURIComponent(id), {headers: auth()});
            const body = await r.json();
            show(body);
            if (!r.ok || body.state === "SUCCESS" || body.state === "FAILURE") return;
            await new Promise((done) => setTimeout(done, 250));
          }
        }

        async function submit() {
          $("submit").disabled = true;
          $("state").textContent = "…"; $("alerts").textContent = ""; $("task").textContent = "–";
          try {
            const r = await fetch("/submit", {
              method: "POST", headers: {"Content-Type": "application/json", ...auth()},
              body: JSON.stringify({message: $("message").value}),
            });
            const body = await r.json();
            show(body);
            if (r.status === 202) {
              $("task").textContent = body.task_id;
              $("state").textContent = "PENDING";
              await poll(body.task_id);
            } else {
              // error is the short reason ("status 401" when there is no better one), detail the rest.
              const why = [body.error, body.detail].filter((t) => t && t !== "status " + r.status).join(": ");
              const hint = r.status === 401 ? " (enter an API key above)" : "";
              $("state").textContent = r.status + " " + why + hint;
            }
          } catch (e) {
            $("state").textContent = "request failed: " + e;
          } finally {
            $("submit").disabled = false;
          }
        }

        $("submit").addEventListener("click", submit);
        describe();
        // /docs?try=1 presses the button once the page has loaded (the headless-browser test) — never
        // inside a frame, where another site could have a visitor submit without seeing it.
        if (new URLSearchParams(location.search).has("try") && window.top === window.self) $("submit").click();
        """#

    static let style = """
          body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
          h1 { font-size: 1.6rem; margin-bottom: 0; } .lead { color: #555; margin-top: .3rem; }
          textarea { width: 100%; min-height: 5rem; font: 14px ui-monospace, monospace; box-sizing: border-box; }
          label { display: block; margin-top: .5rem; } #key { width: 22rem; max-width: 100%; font: 14px ui-monospace, monospace; }
          button { font-size: 1rem; padding: .4rem 1.2rem; margin-top: .5rem; cursor: pointer; }
          pre { background: #f5f5f5; padding: .8rem; overflow-x: auto; font-size: 13px; }
          table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
          code, .method { font-family: ui-monospace, monospace; } .method { font-weight: 600; }
          .state { font-weight: 700; } .SUCCESS { color: #087f23; } .FAILURE { color: #b00020; } .RETRY { color: #b26a00; }
          .alert { display: inline-block; background: #fde7e9; color: #8a1020; border-radius: 3px; padding: 0 .4rem; margin-right: .3rem; font-family: ui-monospace, monospace; }
        """
}
