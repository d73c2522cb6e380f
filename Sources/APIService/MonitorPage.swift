// MonitorPage: GET /monitor — the mesh at a glance: throughput over 15 minutes, the queue,
// end-to-end latency, workers and alert-services, refreshed every 1.5 s from /monitor/api/overview;
// recent alerts every 3 s; dead letters every 5 s, with a re-drive button under --monitor-admin.
// Self-contained (no CDN, works offline); script and style are files of their own, so the page's
// Content-Security-Policy needs no 'unsafe-inline'. Data goes into the page as text, never as HTML.

enum MonitorPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>alertmesh monitor</title>
        <link rel="stylesheet" href="/monitor/monitor.css">
        <script src="/monitor/monitor.js" defer></script>
        </head>
        <body>
        <header><h1>alertmesh monitor</h1><span id="updated">connecting…</span></header>

        <section>
        <h2>Throughput <small>tasks per second, last 15 minutes</small></h2>
        <svg id="chart" viewBox="0 0 900 200" preserveAspectRatio="none" role="img" aria-label="throughput" data-points="0">
          <polyline id="line-submitted" class="submitted" points=""></polyline>
          <polyline id="line-completed" class="completed" points=""></polyline>
          <polyline id="line-failed" class="failed" points=""></polyline>
        </svg>
        <p class="legend"><span class="submitted">■ submitted <b id="now-submitted">–</b></span>
          <span class="completed">■ completed <b id="now-completed">–</b></span>
          <span class="failed">■ failed <b id="now-failed">–</b></span> <span id="chart-max"></span></p>
        </section>

        <section class="cards">
          <div><h3>Backlog</h3><b id="backlog">–</b><small id="backlog-parts"></small></div>
          <div><h3>Oldest pending</h3><b id="oldest-pending">–</b></div>
          <div><h3>Dead letters</h3><b id="dead-letters">–</b></div>
          <div><h3>Submit → done, last minute</h3><b id="e2e">–</b><small id="e2e-tasks"></small></div>
          <div><h3>Redis</h3><b id="redis">–</b></div>
        </section>

        <section>
        <h2>Workers</h2>
        <table id="workers"><thead><tr><th>worker</th><th>state</th><th>in flight</th><th>done</th><th>last seen</th></tr></thead><tbody></tbody></table>
        </section>

        <section>
        <h2>Alert-services</h2>
        <table id="alert-services"><thead><tr><th>alert-service</th><th>state</th><th>calls/s</th><th>p99</th><th>last seen</th></tr></thead><tbody></tbody></table>
        </section>
        <section>
        <h2>Look up a task</h2>
        <form id="lookup"><input id="lookup-id" placeholder="task id" size="40" autocomplete="off" spellcheck="false"> <button type="submit">Show</button></form>
        <table id="task"><tbody></tbody></table>
        </section>

        <section>
        <h2>Recent alerts <small>the last 50 tasks with alerts: masked excerpts only</small></h2>
        <table id="recent-alerts"><thead><tr><th>time</th><th>task</th><th>alerts</th><th>findings</th></tr></thead><tbody></tbody></table>
        </section>

        <section>
        <h2>Dead letters <small id="dead-total"></small></h2>
        <p id="dead-note"></p>
        <p><button id="redrive-all" type="button" hidden>Re-drive all</button></p>
        <table id="dead-letters-table"><thead><tr><th>task</th><th>attempts</th><th>last error</th><th>failed at</th><th></th></tr></thead><tbody></tbody></table>
        </section>
        <footer>JSON: <a href="/monitor/api/overview"><code>/monitor/api/overview</code></a> · <a href="/metrics">/metrics</a> · <a href="/docs">API</a></footer>
        </body>
        </html>

        """#

    static let style = #"""
        body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: .5rem 1rem; color: #222; }
        header { display: flex; justify-content: space-between; align-items: baseline; flex-wrap: wrap; }
        h1 { font-size: 1.4rem; margin: .3rem 0; } h2 { font-size: 1.1rem; margin: 1rem 0 .4rem; } h2 small { color: #666; font-weight: normal; }
        #updated { color: #666; } #updated.stale { color: #b00020; }
        svg { width: 100%; height: 12rem; background: #fafafa; border: 1px solid #ddd; }
        polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
        polyline.submitted { stroke: #1565c0; } polyline.completed { stroke: #2e7d32; } polyline.failed { stroke: #c62828; }
        .legend span { margin-right: 1rem; } .legend .submitted { color: #1565c0; } .legend .completed { color: #2e7d32; } .legend .failed { color: #c62828; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .5rem; margin-top: 1rem; }
        .cards div { border: 1px solid #ddd; border-radius: 4px; padding: .5rem; } .cards h3 { font-size: .8rem; color: #666; margin: 0; font-weight: normal; }
        .cards b { font-size: 1.4rem; display: block; } .cards small { color: #666; }
        table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid #eee; }
        td.state-serving { color: #2e7d32; font-weight: 600; } td.state-paused, td.state-down, td.state-not-serving { color: #c62828; font-weight: 600; }
        td small { display: block; color: #666; font-weight: normal; }
        .code { display: inline-block; background: #fde7e9; color: #8a1020; border-radius: 3px; padding: 0 .3rem; margin: 0 .2rem .1rem 0; font: 12px ui-monospace, monospace; }
        footer { margin: 1.5rem 0; color: #666; } code { font-family: ui-monospace, monospace; }
        @media (max-width: 30rem) { th:nth-child(4), td:nth-child(4), th:nth-child(5), td:nth-child(5) { display: none; } svg { height: 9rem; } }

        """#

    static let script = #"""
        "use strict";
        const $ = (id) => document.getElementById(id);
        const fmt = (v, unit) => v === undefined || v === null ? "–" : (Math.round(v * 100) / 100) + (unit || "");
        const seconds = (s) => s === undefined || s === null ? "–" : s < 1 ? Math.round(s * 1000) + " ms" : fmt(s, " s");
        const ago = (ms, now) => ms ? Math.max(0, Math.round((now - ms) / 1000)) + " s ago" : "never";

        function chart(points) {
          const svg = $("chart");
          const max = Math.max(1, ...points.map((p) => Math.max(p[1], p[2], p[3])));
          const width = 900, height = 200, start = points.length ? points[points.length - 1][0] - 899000 : 0;
          const line = (col) => points.map((p) => ((p[0] - start) / 1000).toFixed(0) + "," + (height - (p[col] / max) * (height - 10)).toFixed(1)).join(" ");
          $("line-submitted").setAttribute("points", line(1));
          $("line-completed").setAttribute("points", line(2));
          $("line-failed").setAttribute("points", line(3));
          svg.setAttribute("data-points", String(points.length));
          $("chart-max").textContent = "scale: 0–" + fmt(max) + "/s";
          const last = points[points.length - 1];
          if (last) { $("now-submitted").textContent = fmt(last[1], "/s"); $("now-completed").textContent = fmt(last[2], "/s"); $("now-failed").textContent = fmt(last[3], "/s"); }
        }

        function rows(table, items, cells) {
          const body = $(table).tBodies[0];
          body.replaceChildren();
          for (const item of items) {
            const row = body.insertRow();
            row.dataset.instance = item.instance;
            for (const [text, note, cls] of cells(item)) {
              const cell = row.insertCell();
              cell.textContent = text;
              if (cls) cell.className = cls;
              if (note) { const small = document.createElement("small"); small.textContent = note; cell.appendChild(small); }
            }
          }
        }

        async function refresh() {
          try {
            const o = await (await fetch("/monitor/api/overview", { cache: "no-store" })).json();
            chart(o.throughput.points);
            const q = o.queue;
            $("backlog").textContent = fmt(q.backlog);
            $("backlog-parts").textContent = "lag " + fmt(q.lag) + " · pending " + fmt(q.pending) + " · delayed " + fmt(q.delayed);
            $("oldest-pending").textContent = seconds(q.oldest_pending_age_s);
            $("dead-letters").textContent = fmt(q.dead_letters);
            $("redis").textContent = q.redis_up ? "up" : "unreachable";
            $("e2e").textContent = "p50 " + seconds(o.e2e.p50_s) + " · p99 " + seconds(o.e2e.p99_s);
            $("e2e-tasks").textContent = fmt(o.e2e.tasks) + " tasks";
            rows("workers", o.workers, (w) => [[w.instance], [w.state, w.reason, "state-" + w.state.replace(" ", "-")],
              [w.in_flight + " / " + w.concurrency], [String(w.succeeded)], [ago(w.last_seen_ms, o.now_ms)]]);
            rows("alert-services", o.alert_services, (a) => [[a.instance], [a.state, a.reason, "state-" + a.state.replace(" ", "-")],
              [fmt(a.calls_per_s)], [a.p99_ms === undefined ? "–" : fmt(a.p99_ms, " ms")], [ago(a.last_seen_ms, o.now_ms)]]);
            $("updated").textContent = "updated " + new Date(o.now_ms).toLocaleTimeString();
            $("updated").className = "";
          } catch (e) {
            $("updated").textContent = "cannot reach api-service: " + e;
            $("updated").className = "stale";
          }
        }

        async function redrive(body) {
          const r = await fetch("/monitor/api/dead-letters/redrive", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
          const answer = await r.json();
          $("dead-note").textContent = r.ok ? "re-driven: " + answer.redriven.length + (answer.refused.length ? ", refused: " + answer.refused.map((x) => x.join(": ")).join("; ") : "")
            : (answer.detail || answer.error);
          deadLetters();
        }

        async function deadLetters() {
          try {
            const r = await fetch("/monitor/api/dead-letters", { cache: "no-store" });
            const d = await r.json();
            if (!r.ok) { $("dead-total").textContent = ""; $("dead-note").textContent = d.detail || d.error; return; }
            $("dead-total").textContent = d.total + " in all" + (d.total > d.dead_letters.length ? ", newest " + d.dead_letters.length + " shown" : "");
            $("redrive-all").hidden = !d.redrive_enabled || d.total === 0;
            const body = $("dead-letters-table").tBodies[0];
            body.replaceChildren();
            for (const letter of d.dead_letters) {
              const row = body.insertRow();
              row.dataset.task = letter.task_id;
              const link = document.createElement("a");
              link.href = "/status/" + encodeURIComponent(letter.task_id);
              link.textContent = letter.task_id;
              row.insertCell().appendChild(link);
              row.insertCell().textContent = String(letter.attempts);
              row.insertCell().textContent = letter.last_error;
              row.insertCell().textContent = letter.failed_at;
              const cell = row.insertCell();
              if (d.redrive_enabled) {
                const button = document.createElement("button");
                button.type = "button";
                button.textContent = "re-drive";
                button.addEventListener("click", () => redrive({ task_ids: [letter.task_id] }));
                cell.appendChild(button);
              }
            }
            if (!d.redrive_enabled && d.total > 0) $("dead-note").textContent = "Re-driving from this page is off (api-service --monitor-admin turns it on).";
          } catch (e) {
            $("dead-note").textContent = "cannot read dead letters: " + e;
          }
        }

        async function recentAlerts() {
          try {
            const r = await (await fetch("/monitor/api/recent-alerts", { cache: "no-store" })).json();
            const body = $("recent-alerts").tBodies[0];
            body.replaceChildren();
            for (const a of r.alerts) {
              const row = body.insertRow();
              row.className = "recent-alert";
              row.insertCell().textContent = new Date(a.at_ms).toLocaleTimeString();
              const link = document.createElement("a");
              link.href = "/status/" + encodeURIComponent(a.task_id);
              link.textContent = a.task_id;
              link.addEventListener("click", (e) => { e.preventDefault(); $("lookup-id").value = a.task_id; lookup(a.task_id); });
              row.insertCell().appendChild(link);
              const codes = row.insertCell();
              for (const code of a.alerts) {
                const tag = document.createElement("span");
                tag.className = "code";
                tag.textContent = code;
                codes.appendChild(tag);
              }
              row.insertCell().textContent = a.findings.map((f) => f[1]).join("  ");
            }
          } catch (e) { /* the overview shows whether api-service is reachable */ }
        }

        async function lookup(id) {
          const body = $("task").tBodies[0];
          body.replaceChildren();
          const add = (name, value) => { const row = body.insertRow(); row.insertCell().textContent = name; row.insertCell().textContent = value; };
          const r = await fetch("/status/" + encodeURIComponent(id), { cache: "no-store" });
          const t = await r.json();
          if (!r.ok) { add("error", t.detail || t.error); return; }
          add("state", t.state);
          add("attempts", String(t.attempts));
          add("submitted", t.created_at);
          add("last change", t.updated_at);
          if (t.retry_at) add("next attempt", t.retry_at);
          if (t.last_error) add("last error", t.last_error);
          if (t.error) add("error", t.error);
          if (t.result) {
            add("alerts", t.result.alerts.join(", ") || "none");
            add("findings", t.result.findings.map((f) => f.code + " " + f.masked).join("  ") || "none");
          }
          for (const h of t.history || []) add("  " + h.at, h.state + (h.detail ? " — " + h.detail : ""));
        }

        $("lookup").addEventListener("submit", (e) => { e.preventDefault(); const id = $("lookup-id").value.trim(); if (id) lookup(id); });
        $("redrive-all").addEventListener("click", () => redrive({ all: true }));
        // /monitor?task=<id> opens with that task looked up (a link to share, and the browser test's way in).
        const asked = new URLSearchParams(location.search).get("task");
        if (asked) { $("lookup-id").value = asked; lookup(asked); }
        refresh();
        recentAlerts();
        deadLetters();
        setInterval(refresh, 1500);
        setInterval(recentAlerts, 3000);
        setInterval(deadLetters, 5000);

        """#
}
