// Network view drawing: heat maps, weight lines, data points and the loss curve.
"use strict";
const NET = (() => {
  const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [255, 255, 255];

  function colour(v) {  // v in [-1, 1] -> [r, g, b]
    const t = Math.min(1, Math.abs(v)), end = v < 0 ? NEG : POS;
    return MID.map((m, i) => Math.round(m + (end[i] - m) * t));
  }

  function decode(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  const scratch = document.createElement("canvas");
  function mapImage(b64, grid) {  // a grid x grid canvas of the map
    scratch.width = scratch.height = grid;
    const ctx = scratch.getContext("2d"), img = ctx.createImageData(grid, grid);
    const bytes = decode(b64);
    for (let i = 0; i < bytes.length; i++) {
      const c = colour(bytes[i] / 127.5 - 1);
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return scratch;
  }

  const hits = [];  // where each neuron was drawn: clicking one explains it
  function neuronAt(px, py) {
    return hits.find(h => px >= h.x && px <= h.x + h.size && py >= h.y && py <= h.y + h.size);
  }

  function drawNetwork(canvas, frame) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    const cols = frame.maps.length, size = Math.min(40, (H - 20) / 9);
    const xs = [...Array(cols).keys()].map(c => 30 + c * (W - 60 - size) / Math.max(1, cols - 1));
    const pos = frame.maps.map((col, c) => col.map((_, j) => {
      const gap = (H - col.length * size) / (col.length + 1);
      return [xs[c], gap + j * (size + gap)];
    }));
    // weights: from unit j of column c to unit k of column c+1, weights[c][k][j]
    frame.weights.forEach((w, c) => w.forEach((row, k) => row.forEach((v, j) => {
      const a = pos[c][j], b = pos[c + 1][k], col = colour(Math.max(-1, Math.min(1, v)));
      ctx.strokeStyle = `rgb(${col[0]},${col[1]},${col[2]})`;
      ctx.lineWidth = Math.min(8, 0.5 + 2 * Math.abs(v));
      ctx.beginPath();
      ctx.moveTo(a[0] + size, a[1] + size / 2);
      ctx.lineTo(b[0], b[1] + size / 2);
      ctx.stroke();
    })));
    ctx.imageSmoothingEnabled = false;
    hits.length = 0;
    frame.maps.forEach((col, c) => col.forEach((m, j) => {
      const [x, y] = pos[c][j];
      if (c > 0) hits.push({ layer: c, unit: j, x, y, size });
      ctx.drawImage(mapImage(m, frame.grid), x, y, size, size);
      ctx.strokeStyle = "#444"; ctx.lineWidth = 1; ctx.strokeRect(x, y, size, size);
      if (c === 0) {
        ctx.fillStyle = "#222"; ctx.font = "11px sans-serif";
        ctx.fillText(frame.features[j], Math.max(0, x - 28), y - 2);
      }
    }));
  }

  function drawSurface(canvas, frame, points) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const out = frame.maps[frame.maps.length - 1][0];
    ctx.imageSmoothingEnabled = true;
    ctx.globalAlpha = 0.8;
    ctx.drawImage(mapImage(out, frame.grid), 0, 0, W, H);
    ctx.globalAlpha = 1;
    if (!points) return;
    const e = frame.extent;
    const draw = (list, stroke) => list.forEach(([x, y, label]) => {
      const px = (x + e) / (2 * e) * W, py = (e - y) / (2 * e) * H, c = colour(label ? 1 : -1);
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.strokeStyle = stroke;
      ctx.beginPath(); ctx.arc(px, py, 3, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    });
    draw(points.train, "white");
    draw(points.test, "black");
  }

  function drawCurve(canvas, history) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    if (history.length < 2) return;
    const top = Math.max(...history.map(h => Math.max(h[1], h[2]))) || 1;
    const last = history[history.length - 1][0] || 1;
    [[1, "#888"], [2, "#222"]].forEach(([k, style]) => {
      ctx.strokeStyle = style; ctx.lineWidth = 1.5; ctx.beginPath();
      history.forEach((h, i) => {
        const x = h[0] / last * (W - 4) + 2, y = H - 2 - h[k] / top * (H - 4);
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.stroke();
    });
    ctx.fillStyle = "#444"; ctx.font = "10px sans-serif";
    ctx.fillText("test (black), train (grey)", 6, 12);
  }

  return { colour, drawNetwork, drawSurface, drawCurve, neuronAt };
})();
