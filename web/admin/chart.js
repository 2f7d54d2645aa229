// The throughput chart: tasks finished per minute (succeeded and failed, stacked bars) and the
// error rate (a line on its own 0-100 % scale), drawn on a canvas at the screen's pixel density.

const COLORS = { ok: "#1e8e3e", bad: "#c62828", rate: "#c26a00", grid: "#d9dde3", text: "#5b6470" };

/** Draws `minutes` ({minute, succeeded, failed, error_rate}, oldest first) on `canvas`. */
export function drawChart(canvas, minutes) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 180;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const pad = { left: 34, right: 38, top: 10, bottom: 20 };
  const plotW = Math.max(10, width - pad.left - pad.right);
  const plotH = Math.max(10, height - pad.top - pad.bottom);
  const peak = Math.max(1, ...minutes.map((m) => m.succeeded + m.failed));
  const top = niceCeiling(peak);

  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.text;
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i += 1) {
    const y = pad.top + plotH - (plotH * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y) + 0.5);
    ctx.lineTo(pad.left + plotW, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.textAlign = "right";
    ctx.fillText(String(Math.round((top * i) / 4)), pad.left - 6, y);
    ctx.textAlign = "left";
    ctx.fillText(`${i * 25}%`, pad.left + plotW + 6, y);
  }

  const slot = plotW / Math.max(1, minutes.length);
  const bar = Math.max(1, slot * 0.7);
  minutes.forEach((m, i) => {
    const x = pad.left + i * slot + (slot - bar) / 2;
    const okH = (m.succeeded / top) * plotH;
    const badH = (m.failed / top) * plotH;
    ctx.fillStyle = COLORS.ok;
    ctx.fillRect(x, pad.top + plotH - okH, bar, okH);
    ctx.fillStyle = COLORS.bad;
    ctx.fillRect(x, pad.top + plotH - okH - badH, bar, badH);
  });

  ctx.strokeStyle = COLORS.rate;
  ctx.lineWidth = 2;
  ctx.beginPath();
  minutes.forEach((m, i) => {
    const x = pad.left + i * slot + slot / 2;
    const y = pad.top + plotH - m.error_rate * plotH;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();

  ctx.fillStyle = COLORS.text;
  ctx.textBaseline = "alphabetic";
  ctx.textAlign = "left";
  ctx.fillText("-60 min", pad.left, height - 4);
  ctx.textAlign = "right";
  ctx.fillText("now", pad.left + plotW, height - 4);
}

/** 1, 2, 5, 10, 20, 50 ... at or above `n`. */
function niceCeiling(n) {
  let step = 1;
  for (;;) {
    for (const m of [1, 2, 5]) {
      if (m * step >= n) return m * step;
    }
    step *= 10;
  }
}
