// The device page's charts: one uPlot chart per stream, all over the same time range. The
// server sends one bucket per pixel column (min, max and mean of the readings in it), so a
// year draws as fast as a day; zooming or panning asks the server again for the new range.
(function () {
  "use strict";
  var form = document.getElementById("chart-range");
  if (!form || typeof uPlot === "undefined") return;
  var device = form.getAttribute("data-device");
  var startInput = document.getElementById("range-start");
  var endInput = document.getElementById("range-end");
  var live = document.getElementById("range-live");
  var DAY = 86400;
  var range = { end: now(), width: DAY };
  var history = [];
  var charts = [];
  var timer = null;

  // A range's end is excluded, so "until now" runs to the end of the current second: a
  // reading stamped this second is shown.
  function now() { return Math.floor(Date.now() / 1000) + 1; }

  // datetime-local inputs show UTC, as the rest of the page does.
  function toInput(secs) { return new Date(secs * 1000).toISOString().slice(0, 19); }
  function fromInput(text) {
    if (!text) return null;
    var ms = Date.parse(text + (text.length === 16 ? ":00Z" : "Z"));
    return isNaN(ms) ? null : Math.floor(ms / 1000);
  }

  function setRange(end, width, following) {
    range = { end: Math.floor(end), width: Math.max(60, Math.floor(width)) };
    live.checked = !!following;
    startInput.value = toInput(range.end - range.width);
    endInput.value = toInput(range.end);
    charts.forEach(load);
  }

  function width(el) { return Math.max(280, el.clientWidth - 8); }

  function makeChart(el) {
    var opts = {
      width: width(el),
      height: 220,
      scales: { x: { time: true } },
      series: [
        { value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" },
        { label: "max", stroke: "#9bb7d9", width: 1 },
        { label: "mean", stroke: "#0b5cad", width: 2 },
        { label: "min", stroke: "#9bb7d9", width: 1 }
      ],
      bands: [{ series: [1, 3], fill: "rgba(11, 92, 173, 0.12)" }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [function (u) {
          if (u.select.width < 4) return;
          var from = u.posToVal(u.select.left, "x");
          var to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0 }, false);
          history.push(range);
          setRange(to, to - from, false);
        }]
      },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }
    };
    var chart = { el: el, stream: el.getAttribute("data-stream"), status: el.nextElementSibling };
    chart.plot = new uPlot(opts, [[], [], [], []], el);
    el.addEventListener("dblclick", function () {
      var previous = history.pop();
      if (previous) setRange(previous.end, previous.width, false);
    });
    return chart;
  }

  function load(chart) {
    var start = range.end - range.width;
    var url = "/device/" + encodeURIComponent(device) + "/chart?stream=" +
      encodeURIComponent(chart.stream) + "&start=" + start + "&end=" + range.end +
      "&buckets=" + width(chart.el);
    var asked = range;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); throw new Error("signed out"); }
        if (!r.ok) throw new Error("the server answered " + r.status);
        return r.json();
      })
      .then(function (body) {
        firstAnswer(chart, asked, body);
        if (asked !== range) return; // a newer range was asked for meanwhile
        chart.plot.setData([body.t, body.max, body.mean, body.min], false);
        chart.plot.setScale("x", { min: start, max: asked.end });
        var readings = body.count.reduce(function (a, b) { return a + b; }, 0);
        chart.status.textContent = readings === 0 ? "No readings in this range." :
          readings + (readings === 1 ? " reading" : " readings") + " in " + body.t.length +
          (body.t.length === 1 ? " bucket" : " buckets") + " of " + describe(body.bucket_secs) + ".";
      })
      .catch(function (e) {
        firstAnswer(chart, asked, null);
        chart.status.textContent = "Could not load the chart: " + e.message;
      });
  }

  // The first view is a day; when every reading in it is from the last hour (a device just
  // claimed), an hour shows them better. Decided once every chart has answered, whichever
  // answers first (a stream without readings says nothing about the others).
  var opening = null;
  function firstAnswer(chart, asked, body) {
    if (!opening || asked !== opening.range || opening.answered.indexOf(chart) >= 0) return;
    opening.answered.push(chart);
    if (body && body.t.length) opening.oldest = Math.min(opening.oldest, body.t[0]);
    if (opening.answered.length < charts.length) return;
    var oldest = opening.oldest;
    opening = null;
    if (asked === range && oldest !== Infinity && oldest >= now() - 3600) setRange(now(), 3600, true);
  }

  function describe(secs) {
    if (secs < 120) return secs + " s";
    if (secs < 7200) return Math.round(secs / 60) + " min";
    if (secs < 172800) return Math.round(secs / 3600) + " h";
    return Math.round(secs / 86400) + " days";
  }

  document.querySelectorAll(".plot[data-stream]").forEach(function (el) {
    charts.push(makeChart(el));
  });
  form.querySelectorAll("button[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      history = [];
      setRange(now(), Number(b.getAttribute("data-range")), true);
    });
  });
  form.querySelectorAll("button[data-pan]").forEach(function (b) {
    b.addEventListener("click", function () {
      var end = range.end + Number(b.getAttribute("data-pan")) * range.width / 2;
      setRange(Math.min(end, now()), range.width, false);
    });
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var start = fromInput(startInput.value), end = fromInput(endInput.value);
    if (start === null || end === null || end <= start) {
      charts.forEach(function (c) { c.status.textContent = "Choose a start before the end."; });
      return;
    }
    history.push(range);
    setRange(end, end - start, false);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.plot.setSize({ width: width(c.el), height: 220 }); });
  });
  // Following new readings: the range slides to now every 10 s.
  timer = setInterval(function () {
    if (live.checked && !document.hidden) setRange(now(), range.width, true);
  }, 10000);
  setRange(now(), DAY, true);
  opening = { range: range, answered: [], oldest: Infinity };
})();
