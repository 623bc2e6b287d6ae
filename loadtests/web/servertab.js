// The locust web UI's "Server" tab (loadtests/servertab.py adds the tab and this script):
// live process-tree memory (PSS) and CPU of every running stack, polled from /server-data.
// Plain DOM and SVG, no library: locust's React bundle cannot render a chart in an extended tab,
// so this panel is placed under the tab bar while ?tab=server is selected.
(function () {
  "use strict";

  var TAB = "server";
  var POLL_MS = 1000;
  var WINDOW_S = 300; // the charts show at most the last five minutes ...
  var MIN_WINDOW_S = 30; // ... and at least half a minute, from the first sample on
  var KEEP_S = 900; // points kept per stack in the page
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];
  var SVG_NS = "http://www.w3.org/2000/svg";

  var stacks = []; // [{name, url, ..., points: [[t, pssMb, cpuPct], ...]}] in the feed's order
  var feed = { now: 0, wallT0: null, interval: null, error: null };
  var lastT = null;
  var panel = null;
  var busy = false;

  function selected() {
    return new URLSearchParams(window.location.search).get("tab") === TAB;
  }

  function tabBar() {
    return document.querySelector("#root [role=tablist]");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function merge(data) {
    feed.now = data.now || 0;
    feed.wallT0 = data.wall_t0 === undefined ? null : data.wall_t0;
    feed.interval = data.interval || null;
    feed.error = data.error || null;
    var byName = {};
    stacks.forEach(function (s) {
      byName[s.name] = s;
    });
    stacks = (data.stacks || []).map(function (fresh) {
      var old = byName[fresh.name];
      var points = old ? old.points : [];
      var newest = points.length ? points[points.length - 1][0] : -Infinity;
      (fresh.samples || []).forEach(function (p) {
        if (p[0] > newest) points.push(p);
      });
      var keepFrom = feed.now - KEEP_S;
      while (points.length && points[0][0] < keepFrom) points.shift();
      fresh.points = points;
      delete fresh.samples;
      return fresh;
    });
    stacks.forEach(function (s) {
      if (s.points.length) {
        var t = s.points[s.points.length - 1][0];
        if (lastT === null || t > lastT) lastT = t;
      }
    });
  }

  function poll() {
    if (busy) return;
    busy = true;
    var url = "/server-data" + (lastT === null ? "" : "?since=" + encodeURIComponent(lastT));
    fetch(url, { cache: "no-store" })
      .then(function (resp) {
        return resp.json();
      })
      .then(function (data) {
        merge(data);
      })
      .catch(function (err) {
        feed.error = "cannot read /server-data: " + err;
      })
      .then(function () {
        busy = false;
        render();
      });
  }

  function niceStep(span, ticks) {
    var raw = span / ticks;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  }

  function clock(t) {
    if (feed.wallT0 === null) return Math.round(t - feed.now) + " s";
    var d = new Date((feed.wallT0 + t) * 1000);
    return d.toTimeString().slice(0, 8);
  }

  // One line chart: column `index` of every stack's points over the last WINDOW_S seconds.
  function chart(title, unit, index, width) {
    var height = 230;
    var m = { left: 56, right: 16, top: 28, bottom: 28 };
    var x1 = feed.now;
    var first = x1;
    stacks.forEach(function (s) {
      if (s.points.length && s.points[0][0] < first) first = s.points[0][0];
    });
    var x0 = x1 - Math.min(WINDOW_S, Math.max(MIN_WINDOW_S, x1 - first));
    var ymax = 0;
    stacks.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[0] >= x0 && p[index] > ymax) ymax = p[index];
      });
    });
    var step = niceStep(ymax > 0 ? ymax * 1.1 : 1, 4);
    var top = Math.max(step, Math.ceil((ymax * 1.1) / step) * step);
    var w = width - m.left - m.right;
    var h = height - m.top - m.bottom;
    var sx = function (t) {
      return m.left + ((t - x0) / (x1 - x0)) * w;
    };
    var sy = function (v) {
      return m.top + h - (v / top) * h;
    };
    var root = svg("svg", {
      width: width,
      height: height,
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": title,
    });
    root.style.display = "block";
    root.appendChild(svg("text", { x: m.left, y: 16, "font-size": 14, fill: "currentColor" }, title));
    for (var v = 0; v <= top + step / 2; v += step) {
      root.appendChild(
        svg("line", {
          x1: m.left, x2: m.left + w, y1: sy(v), y2: sy(v),
          stroke: "currentColor", "stroke-opacity": v === 0 ? 0.5 : 0.12,
        })
      );
      root.appendChild(
        svg("text", {
          x: m.left - 6, y: sy(v) + 4, "text-anchor": "end", "font-size": 11,
          fill: "currentColor", "fill-opacity": 0.75,
        }, Number(v.toPrecision(6)) + (v === 0 ? "" : " " + unit))
      );
    }
    for (var k = 0; k <= 5; k++) {
      var t = x0 + (k * (x1 - x0)) / 5;
      root.appendChild(
        svg("text", {
          x: sx(t), y: height - 8, "font-size": 11, fill: "currentColor", "fill-opacity": 0.75,
          "text-anchor": k === 0 ? "start" : k === 5 ? "end" : "middle",
        }, clock(t))
      );
    }
    stacks.forEach(function (s, i) {
      var d = "";
      s.points.forEach(function (p) {
        if (p[0] < x0) return;
        d += (d ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[index]).toFixed(1);
      });
      if (d) {
        root.appendChild(
          svg("path", {
            d: d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
            "stroke-linejoin": "round", "data-stack": s.name,
          })
        );
      }
    });
    return root;
  }

  function table() {
    var headings = [
      "", "Stack", "Address (paste into Host)", "PSS now", "Over idle", "Peak PSS",
      "Largest process USS", "CPU now", "Processes",
    ];
    var tbl = el("table", { class: "dsc-server-table" });
    var head = el("tr");
    headings.forEach(function (text) {
      head.appendChild(el("th", {}, text));
    });
    tbl.appendChild(el("thead")).appendChild(head);
    var body = tbl.appendChild(el("tbody"));
    stacks.forEach(function (s, i) {
      var row = body.appendChild(el("tr", { "data-stack": s.name }));
      var swatch = el("span", { class: "dsc-swatch" });
      swatch.style.background = COLORS[i % COLORS.length];
      row.appendChild(el("td")).appendChild(swatch);
      row.appendChild(el("td", {}, s.name + " (" + s.interface + ")" + (s.running ? "" : " – exited")));
      row.appendChild(el("td")).appendChild(el("code", {}, s.url));
      var over = s.baseline_pss_mb === null || s.pss_mb === undefined ? null : s.pss_mb - s.baseline_pss_mb;
      [
        fmt(s.pss_mb, 1) + " MB",
        (over !== null && over >= 0 ? "+" : "") + fmt(over, 1) + " MB",
        fmt(s.peak_pss_mb, 1) + " MB",
        fmt(s.largest_uss_mb, 1) + " MB",
        fmt(s.cpu_percent, 0) + " %",
        fmt(s.processes, 0),
      ].forEach(function (text) {
        row.appendChild(el("td", { class: "dsc-num" }, text));
      });
    });
    return tbl;
  }

  function style() {
    if (document.getElementById("dsc-server-style")) return;
    var css = el("style", { id: "dsc-server-style" });
    css.textContent =
      "#dsc-server-panel{padding:8px 0 24px;font-size:14px}" +
      "#dsc-server-panel p{margin:4px 0 12px;opacity:.8}" +
      ".dsc-server-table{border-collapse:collapse;margin:0 0 16px;width:100%}" +
      ".dsc-server-table th,.dsc-server-table td{padding:6px 10px;text-align:left;" +
      "border-bottom:1px solid rgba(127,127,127,.3);white-space:nowrap}" +
      ".dsc-server-table th{font-weight:600}" +
      ".dsc-server-table .dsc-num{text-align:right;font-variant-numeric:tabular-nums}" +
      ".dsc-swatch{display:inline-block;width:14px;height:14px;border-radius:3px}" +
      ".dsc-error{color:#d32f2f;opacity:1!important}";
    document.head.appendChild(css);
  }

  function place() {
    var bar = tabBar();
    if (!selected() || !bar) {
      if (panel && panel.parentNode) panel.parentNode.removeChild(panel);
      return null;
    }
    // Under the tab bar, in the same container as locust's own tab panels.
    var box = bar.closest(".MuiContainer-root") || document.getElementById("root");
    if (!panel) {
      style();
      panel = el("div", { id: "dsc-server-panel" });
    }
    if (panel.parentNode !== box) box.appendChild(panel);
    return panel;
  }

  function render() {
    var target = place();
    if (!target) return;
    var width = Math.max(320, target.clientWidth || 800);
    var parts = [];
    var note = "Memory: PSS summed over each stack's process tree (shared pages counted once), " +
      "sampled every " + (feed.interval || "?") + " s; 'over idle' is against the first " +
      "samples, taken before any load. MB = 10^6 bytes, as in the reports. " +
      "CPU: the tree's CPU time, in % of one core.";
    parts.push(el("p", {}, note));
    if (feed.error) parts.push(el("p", { class: "dsc-error" }, feed.error));
    if (stacks.length) {
      parts.push(table());
      parts.push(chart("Memory: process-tree PSS", "MB", 1, width));
      parts.push(chart("CPU: process tree", "%", 2, width));
    }
    target.replaceChildren.apply(target, parts);
  }

  function tick() {
    if (selected() && tabBar()) poll();
    else place();
  }

  window.addEventListener("popstate", tick);
  // A click on a tab changes ?tab= at once: follow it without waiting for the next tick.
  document.addEventListener("click", function () {
    setTimeout(tick, 0);
  });
  window.addEventListener("resize", render);
  // React changes ?tab= with history.pushState, which fires no event: look once in a while.
  setInterval(tick, POLL_MS);
  tick();
})();
