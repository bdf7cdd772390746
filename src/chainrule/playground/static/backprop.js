// Backpropagation view: the computation graph, stepped forward then backward.
"use strict";
const BACKPROP = (() => {
  // reverse mode: `forward` nodes have their value, then `backward` nodes their adjoint;
  // forward mode: `dual` steps done, one pass of every node per input variable
  const g = { data: null, forward: 0, backward: 0, order: [], mode: "reverse", dual: 0 };
  const fmt = v => (v === null || v === undefined ? "?" :
    Number.isInteger(v) ? String(v) : Number(v.toPrecision(5)).toString());

  async function build() {
    try {
      const data = await api("/api/backprop", {
        expression: $("bp-expr").value, values: $("bp-values").value });
      g.data = data; g.forward = 0; g.backward = 0; g.dual = 0;
      // backward order: reverse topological, nodes that carry a gradient
      g.order = data.nodes.slice().reverse().filter(n => n.grad !== null).map(n => n.id);
      showMessage("");
      costTable(data.cost);
    } catch (e) {
      g.data = null;
      showMessage(e.message);
    }
    render();
  }

  function costTable(c) {
    const fwd = Object.entries(c.forward_mode_gradient).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ");
    $("bp-cost").innerHTML =
      `<tr><th></th><th>passes</th><th>node evaluations</th></tr>` +
      `<tr><td>forward mode (dual numbers)</td><td id="bp-cost-forward">${c.forward_passes}</td>` +
      `<td>${c.forward_node_evaluations}</td></tr>` +
      `<tr><td>reverse mode</td><td id="bp-cost-reverse">${c.reverse_passes}</td>` +
      `<td>${c.reverse_node_evaluations}</td></tr>` +
      `<tr><td colspan="3">${c.inputs} inputs, ${c.operations} operations; ` +
      `forward mode needs one pass per input, reverse mode one forward and one backward ` +
      `pass for all of them. Dual numbers give ${fwd}.</td></tr>`;
  }

  function step(direction) {
    if (!g.data) return;
    if (g.mode === "forward") {
      if (direction === "backward") {
        showMessage("forward mode has no backward pass: it runs one forward pass per input");
        return;
      }
      g.dual = Math.min(g.data.nodes.length * g.data.cost.inputs, g.dual + 1);
      render();
      return;
    }
    if (direction === "forward") g.forward = Math.min(g.data.nodes.length, g.forward + 1);
    else if (g.forward < g.data.nodes.length) {
      showMessage("finish the forward pass first: backpropagation needs its values");
      return;
    } else g.backward = Math.min(g.order.length, g.backward + 1);
    render();
  }

  function runAll() {
    if (!g.data) return;
    g.forward = g.data.nodes.length; g.backward = g.order.length;
    g.dual = g.data.nodes.length * g.data.cost.inputs;
    render();
  }

  function render() {
    const canvas = $("bp-graph"), ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const d = g.data;
    $("bp-output").textContent = "?";
    $("bp-grads").innerHTML = "";
    if (!d) { $("bp-status").textContent = ""; return; }
    const N = d.nodes.length, names = Object.keys(d.cost.forward_mode_gradient);
    const pass = g.dual ? Math.floor((g.dual - 1) / N) : 0, inPass = g.dual - pass * N;
    const forwardMode = g.mode === "forward";
    const valueShown = id => (forwardMode ? id < inPass : id < g.forward);
    const gradShown = new Set(forwardMode ? [] : g.order.slice(0, g.backward));
    const tangent = id => (d.cost.forward_mode_tangents[names[pass]] || [])[id];
    const depth = Math.max(...d.nodes.map(n => n.depth));
    // leaves spread along the bottom; an operation sits above the mean of its inputs
    const pos = {}, W = canvas.width, H = canvas.height;
    const leaves = d.nodes.filter(n => n.depth === 0);
    const inputs = {};
    d.edges.forEach(e => { (inputs[e.to] = inputs[e.to] || []).push(e.from); });
    d.nodes.forEach(n => {
      const y = H - 50 - n.depth * (H - 100) / Math.max(1, depth);
      const x = n.depth === 0 ? (leaves.indexOf(n) + 1) * W / (leaves.length + 1)
        : inputs[n.id].reduce((a, c) => a + pos[c][1], 0) / inputs[n.id].length;
      pos[n.id] = [y, x];
    });
    // nudge apart operations that landed on one spot
    const taken = {};
    d.nodes.forEach(n => {
      const key = `${n.depth}:${Math.round(pos[n.id][1] / 30)}`;
      if (taken[key]) pos[n.id][1] += 45 * taken[key];
      taken[key] = (taken[key] || 0) + 1;
    });
    const seenEdge = {};
    d.edges.forEach(e => {
      const key = `${e.from}-${e.to}`, dup = seenEdge[key] = (seenEdge[key] || 0) + 1;
      const [y1, x1] = pos[e.from], [y2, x2] = pos[e.to];
      const bend = (dup - 1) * 30;
      const mx = (x1 + x2) / 2 + bend, my = (y1 + y2) / 2;
      ctx.strokeStyle = "#999"; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(x1, y1); ctx.quadraticCurveTo(mx + bend, my, x2, y2); ctx.stroke();
      if (gradShown.has(e.to) && e.grad !== null) {
        const text = fmt(e.grad), tx = mx + bend / 2 + 6;
        ctx.font = "bold 13px sans-serif";
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(tx - 2, my - 12, ctx.measureText(text).width + 4, 16);
        ctx.fillStyle = "#c0392b";
        ctx.fillText(text, tx, my);
      }
    });
    d.nodes.forEach(n => {
      const [y, x] = pos[n.id];
      const active = (n.id === g.forward - 1 && g.backward === 0) ||
                     (g.backward > 0 && n.id === g.order[g.backward - 1]);
      ctx.fillStyle = n.kind === "var" ? "#dbeafe" : n.kind === "const" ? "#eee" : "#fff7e6";
      ctx.strokeStyle = active ? "#f90" : "#555"; ctx.lineWidth = active ? 3 : 1.5;
      ctx.beginPath(); ctx.arc(x, y, 20, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ctx.fillStyle = "#222"; ctx.font = "15px sans-serif"; ctx.textAlign = "center";
      ctx.fillText(n.label, x, y + 5);
      ctx.font = "12px sans-serif";
      if (valueShown(n.id)) { ctx.fillStyle = "#1d4ed8"; ctx.fillText(`= ${fmt(n.value)}`, x, y + 36); }
      if (gradShown.has(n.id)) { ctx.fillStyle = "#c0392b"; ctx.fillText(`∂f = ${fmt(n.grad)}`, x, y - 26); }
      if (forwardMode && valueShown(n.id)) {
        ctx.fillStyle = "#7c3aed"; ctx.fillText(`ε = ${fmt(tangent(n.id))}`, x, y - 26);
      }
      ctx.textAlign = "start";
    });
    const root = d.nodes[d.nodes.length - 1];
    if (valueShown(root.id)) $("bp-output").textContent = fmt(d.output);
    const vars = d.nodes.filter(n => n.kind === "var");
    const known = n => (forwardMode ? names.indexOf(n.label) < pass ||
                        (names.indexOf(n.label) === pass && inPass === N) : gradShown.has(n.id));
    const grad = n => (forwardMode ? d.cost.forward_mode_gradient[n.label] : n.grad);
    $("bp-grads").innerHTML = vars.map(n =>
      `<div>∂f/∂${n.label} = <span id="bp-grad-${n.label}">${known(n) ? fmt(grad(n)) : "?"}</span></div>`).join("");
    if (forwardMode) {
      $("bp-status").textContent = g.dual ? `forward mode: pass ${pass + 1}/${names.length} ` +
        `(seed ${names[pass]}), node ${inPass}/${N}; ${g.dual} node steps so far`
        : `forward mode: ${names.length} passes of ${N} nodes`;
    } else {
      $("bp-status").textContent = g.backward
        ? `backward: ${g.backward}/${g.order.length} nodes; ${N + g.backward} node steps so far`
        : `forward: ${g.forward}/${N} nodes`;
    }
  }

  function init() {
    $("bp-build").addEventListener("click", build);
    $("bp-forward").addEventListener("click", () => step("forward"));
    $("bp-backward").addEventListener("click", () => step("backward"));
    $("bp-all").addEventListener("click", runAll);
    $("bp-mode").addEventListener("change", () => {
      g.mode = $("bp-mode").value; g.forward = g.backward = g.dual = 0;
      showMessage(""); render();
    });
    $("bp-example").addEventListener("change", () => {
      const v = $("bp-example").value;
      if (!v) return;
      const [expr, values] = v.split("|");
      $("bp-expr").value = expr; $("bp-values").value = values;
      build();
    });
    build();
  }

  return { init, build, step, runAll };
})();
