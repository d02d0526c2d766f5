/* optlab explore: the page. State <-> URL, runs (optim.js), contours (d3-contour), paths, charts, phase diagram.
 * The URL contract (surface, x0, y0, steps, opt=JSON per run, schedule=JSON, dump=1) is documented in
 * src/optlab/explore/contract.py. */
(function () {
  "use strict";
  const CFG = window.OPTLAB_EXPLORE;
  const Core = window.OptlabCore;
  const SURFACES = CFG.surfaces;
  const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b"];
  const LABEL_COLORS = { converges: "#1b7f3b", oscillates: "#e08a00", diverges: "#b3261e", stalls: "#8a93a8" };
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------------ state
  // state = {surface, x0, y0, steps, t, sel, schedule (global default), runs: [{name, hp: {...given}, schedule}]}
  function parseState(search) {
    const q = new URLSearchParams(search);
    const names = Object.keys(SURFACES);
    const surface = q.get("surface") || names[0];
    if (!(surface in SURFACES)) throw new Error(`unknown surface '${surface}'; valid: ${names.join(", ")}`);
    const s = SURFACES[surface];
    const num = (key, fallback) => {
      if (!q.has(key)) return fallback;
      const v = Number(q.get(key));
      if (!Number.isFinite(v)) throw new Error(`${key}=${q.get(key)} is not a number`);
      return v;
    };
    const steps = num("steps", 1000);
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000000) throw new Error(`steps=${steps}: need an integer from 1 to 1000000`);
    let globalSchedule = null;
    if (q.has("schedule")) globalSchedule = parseJSON("schedule", q.get("schedule"));
    const runs = q.getAll("opt").map((text) => {
      const spec = parseJSON("opt", text);
      if (!spec || typeof spec !== "object" || !spec.name) throw new Error(`opt=${text}: need a JSON object with a "name"`);
      const hp = Object.assign({}, spec);
      delete hp.name;
      let schedule = globalSchedule;
      if ("schedule" in hp) { schedule = hp.schedule; delete hp.schedule; }
      return { name: spec.name, hp, schedule };
    });
    return {
      surface,
      x0: num("x0", s.start[0]),
      y0: num("y0", s.start[1]),
      steps,
      t: q.has("t") ? Math.max(0, Math.min(steps, Math.round(num("t", steps)))) : steps,
      sel: Math.max(0, Math.round(num("sel", 0))),
      runs: runs.length ? runs : defaultRuns(surface),
      dump: q.get("dump") === "1",
    };
  }
  function parseJSON(key, text) {
    try { return JSON.parse(text); } catch (e) { throw new Error(`${key}=${text} is not JSON (${e.message})`); }
  }
  function defaultRuns(surface) {
    const presets = {
      quadratic: [{ name: "sgd", hp: { lr: 0.015 } }, { name: "momentum", hp: { lr: 0.005, form: "lecture" } }, { name: "adam", hp: { lr: 0.05 } }],
      valley: [{ name: "sgd", hp: { lr: 0.01 } }, { name: "rmsprop", hp: { lr: 0.5, alpha: 0.9, init: "first_grad" } }, { name: "adam", hp: { lr: 1.0 } }],
      saddle_and_local_min: [{ name: "sgd", hp: { lr: 0.01 } }, { name: "momentum", hp: { lr: 0.01, momentum: 0.9, form: "lecture" } }],
      rosenbrock: [{ name: "sgd", hp: { lr: 0.001 } }, { name: "momentum", hp: { lr: 0.0005 } }, { name: "adam", hp: { lr: 0.05 } }],
      saddle: [{ name: "sgd", hp: { lr: 0.05 } }, { name: "momentum", hp: { lr: 0.05 } }, { name: "adam", hp: { lr: 0.02 } }],
    };
    return (presets[surface] || [{ name: "sgd", hp: { lr: 0.01 } }, { name: "adam", hp: { lr: 0.05 } }]).map((r) => ({ name: r.name, hp: Object.assign({}, r.hp), schedule: null }));
  }
  function stateQuery(state) {
    const parts = [`surface=${encodeURIComponent(state.surface)}`, `x0=${state.x0}`, `y0=${state.y0}`, `steps=${state.steps}`];
    for (const run of state.runs) {
      const body = Object.assign({ name: run.name }, run.hp);
      if (run.schedule) body.schedule = run.schedule;
      parts.push("opt=" + encodeURIComponent(JSON.stringify(body)));
    }
    parts.push(`t=${state.t}`, `sel=${state.sel}`);
    return parts.join("&");
  }

  // ------------------------------------------------------------------------------------------ compute
  function computeRuns(state) {
    const s = SURFACES[state.surface];
    return state.runs.map((run) => {
      try {
        const r = Core.simulate(s.vg, state.x0, state.y0, state.steps, run.name, run.hp, run.schedule);
        r.label = Core.classify(r, s.extent);
        return r;
      } catch (e) {
        return { error: e.message };
      }
    });
  }
  function dumpJSON(state, results) {
    const runs = state.runs.map((run, i) => {
      const r = results[i];
      if (r.error) return { name: run.name, hparams: run.hp, schedule: run.schedule, error: r.error };
      const trajectory = [], loss = [];
      for (let t = 0; t <= r.steps; t++) { trajectory.push([r.xs[t], r.ys[t]]); loss.push(r.loss[t]); }
      return { name: run.name, hparams: run.hp, schedule: run.schedule, trajectory, loss };
    });
    return JSON.stringify({ surface: state.surface, runs });
  }

  // the dump comes first and needs no drawing: `chromium --headless --dump-dom URL` prints it
  let state, urlError = null;
  try {
    state = parseState(location.search);
  } catch (e) {
    urlError = e.message;
    showError(urlError);
    state = parseState("");
  }
  let results = computeRuns(state);
  if (urlError && new URLSearchParams(location.search).get("dump") === "1") {
    $("dump").textContent = JSON.stringify({ error: urlError }); // a bad URL is an answer too
  } else if (state.dump) {
    $("dump").textContent = dumpJSON(state, results);
  }
  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  // ------------------------------------------------------------------------------------------ UI: hyperparameters
  const VARIANTS = [
    ["sgd", {}, "sgd"],
    ["momentum", {}, "momentum (torch form)"],
    ["momentum", { form: "lecture" }, "momentum (lecture: m ← λm − ηg)"],
    ["nesterov", {}, "nesterov"],
    ["adagrad", {}, "adagrad (sum of g²)"],
    ["adagrad", { average: true }, "adagrad (lecture: root mean square)"],
    ["rmsprop", {}, "rmsprop (v₀ = 0)"],
    ["rmsprop", { init: "first_grad" }, "rmsprop (lecture: σ₀ = |g₀|)"],
    ["adam", {}, "adam"], ["adamw", {}, "adamw"], ["radam", {}, "radam"], ["lars", {}, "lars"], ["lamb", {}, "lamb"],
  ];
  function variantIndex(run) {
    let best = 0;
    VARIANTS.forEach(([name, keys], i) => {
      if (name !== run.name) return;
      const ok = Object.keys(keys).every((k) => JSON.stringify(run.hp[k]) === JSON.stringify(keys[k]));
      if (ok && (VARIANTS[best][0] !== name || Object.keys(keys).length > Object.keys(VARIANTS[best][1]).length)) best = i;
    });
    return best;
  }
  // slider specs: key (with index for betas), symbol, scale, range
  function sliderSpecs(run) {
    const cls = CFG.optimizers[run.name].cls;
    const hp = Object.assign({}, CFG.optimizers[run.name].defaults, run.hp);
    const lr = { key: "lr", sym: "η", scale: "log", min: -8, max: 1.3 };
    const eps = { key: "eps", sym: "ε", scale: "log", min: -12, max: 0 };
    const b1 = { key: "betas", idx: 0, sym: "β₁", scale: "lin", min: 0, max: 0.999 };
    const b2 = { key: "betas", idx: 1, sym: "β₂", scale: "lin", min: 0, max: 0.9999 };
    if (cls === "SGD") {
      return [lr, { key: "momentum", sym: hp.form === "lecture" ? "λ" : "μ", scale: "lin", min: 0, max: 0.999 }];
    }
    if (cls === "Adagrad") return [lr, eps];
    if (cls === "RMSProp") return [lr, { key: "alpha", sym: "α", scale: "lin", min: 0, max: 0.9999 }, eps];
    if (cls === "LARS") return [lr, { key: "momentum", sym: "m", scale: "lin", min: 0, max: 0.999 }, { key: "trust_coefficient", sym: "η_tc", scale: "log", min: -6, max: 0 }];
    return [lr, b1, b2, eps];
  }
  function getHp(run, spec) {
    const hp = Object.assign({}, CFG.optimizers[run.name].defaults, run.hp);
    const v = hp[spec.key];
    return spec.idx !== undefined ? v[spec.idx] : v;
  }
  function setHp(run, spec, value) {
    if (spec.idx !== undefined) {
      const pair = (run.hp[spec.key] || CFG.optimizers[run.name].defaults[spec.key]).slice();
      pair[spec.idx] = value;
      run.hp[spec.key] = pair;
    } else {
      run.hp[spec.key] = value;
    }
  }
  function ruleText(run) {
    const cls = CFG.optimizers[run.name].cls;
    const hp = Object.assign({}, CFG.optimizers[run.name].defaults, run.hp);
    const wd = hp.weight_decay ? "g ← ∇f + wd·θ\n" : "";
    if (cls === "SGD") {
      if (hp.form === "lecture") return wd + "m ← λ·m − η·g\nθ ← θ + m";
      if (!hp.momentum) return wd + "θ ← θ − η·g";
      return wd + "b ← μ·b + g   (b₁ = g₁)\n" + (hp.nesterov ? "θ ← θ − η·(g + μ·b)" : "θ ← θ − η·b");
    }
    if (cls === "Adagrad") return wd + "s ← s + g²\n" + (hp.average ? "σ = √(s / t)   (root mean square)" : "σ = √s") + "\nθ ← θ − η·g / (σ + ε)";
    if (cls === "RMSProp") return wd + (hp.init === "first_grad" ? "v ← α·v + (1 − α)·g²,  v₁ = g₁²  (σ₀ = |g₀|)" : "v ← α·v + (1 − α)·g²,  v₀ = 0") + "\nσ = √v\n" + (hp.momentum ? "b ← μ·b + g/(σ + ε);  θ ← θ − η·b" : "θ ← θ − η·g / (σ + ε)");
    const adam = "m ← β₁·m + (1 − β₁)·g\nv ← β₂·v + (1 − β₂)·g²\nm̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)\n";
    if (cls === "Adam") return wd + adam + "θ ← θ − η·m̂ / (√v̂ + ε)";
    if (cls === "AdamW") return "θ ← (1 − η·wd)·θ\n" + adam + "θ ← θ − η·m̂ / (√v̂ + ε)";
    if (cls === "RAdam") return wd + adam + "ρₜ > 5: θ ← θ − η·m̂·rₜ/(√v̂ + ε), else θ ← θ − η·m̂";
    if (cls === "LARS") return "λ = η_tc·‖θ‖ / (‖g‖ + wd·‖θ‖ + ε)\nv ← m·v + η·λ·(g + wd·θ)\nθ ← θ − v";
    return adam + "u = m̂/(√v̂ + ε) + wd·θ\nθ ← θ − η·(‖θ‖ / ‖u‖)·u";
  }
  function fmt(v) {
    if (typeof v !== "number") return String(v);
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : String(+v.toPrecision(4));
  }

  // ------------------------------------------------------------------------------------------ UI: run cards
  function renderRuns() {
    const box = $("runs");
    box.textContent = "";
    state.runs.forEach((run, i) => box.appendChild(runCard(run, i)));
    updateLabels();
  }
  function runCard(run, i) {
    const card = document.createElement("div");
    card.className = "run" + (i === state.sel ? " selected" : "");
    card.style.setProperty("--c", COLORS[i % COLORS.length]);
    card.addEventListener("pointerdown", () => { if (state.sel !== i) { state.sel = i; markSelected(); scheduleDraw(); } });
    const head = document.createElement("div");
    head.className = "runhead";
    const select = document.createElement("select");
    VARIANTS.forEach(([, , label], k) => select.add(new Option(label, String(k))));
    select.value = String(variantIndex(run));
    select.addEventListener("change", () => {
      const [name, keys] = VARIANTS[Number(select.value)];
      const lr = run.hp.lr;
      run.name = name;
      run.hp = Object.assign({}, keys);
      if (lr !== undefined && name !== "lars") run.hp.lr = lr;
      renderRuns();
      recompute();
    });
    head.appendChild(select);
    const label = document.createElement("span");
    label.className = "label";
    head.appendChild(label);
    const close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.title = "remove this run";
    close.textContent = "×";
    close.addEventListener("click", (e) => {
      e.stopPropagation();
      state.runs.splice(i, 1);
      state.sel = Math.min(state.sel, Math.max(0, state.runs.length - 1));
      renderRuns();
      recompute();
    });
    head.appendChild(close);
    card.appendChild(head);
    const rule = document.createElement("div");
    rule.className = "rule";
    rule.textContent = ruleText(run);
    card.appendChild(rule);
    for (const spec of sliderSpecs(run)) card.appendChild(slider(run, spec));
    card.appendChild(extraRow(run));
    card.appendChild(scheduleRow(run));
    return card;
  }
  function slider(run, spec) {
    const row = document.createElement("div");
    row.className = "slider";
    const sym = document.createElement("span");
    sym.className = "sym";
    sym.innerHTML = `${spec.sym} <small>${spec.key}</small>`;
    const range = document.createElement("input");
    range.type = "range";
    range.min = spec.min;
    range.max = spec.max;
    range.step = spec.scale === "log" ? 0.01 : 0.001;
    range.setAttribute("aria-label", `${spec.sym} (${spec.key})`);
    const number = document.createElement("input");
    number.type = "number";
    number.step = "any";
    const value = getHp(run, spec);
    const toRange = (v) => (spec.scale === "log" ? Math.log10(Math.max(v, 1e-300)) : v);
    range.value = toRange(value);
    number.value = value;
    range.addEventListener("input", () => {
      const raw = Number(range.value);
      const v = spec.scale === "log" ? +Math.pow(10, raw).toPrecision(3) : +raw.toFixed(4);
      number.value = v;
      setHp(run, spec, v);
      refreshRule(row, run);
      recompute();
    });
    number.addEventListener("change", () => {
      const v = Number(number.value);
      if (!Number.isFinite(v)) return;
      range.value = toRange(v);
      setHp(run, spec, v);
      refreshRule(row, run);
      recompute();
    });
    row.append(sym, range, number);
    return row;
  }
  function refreshRule(row, run) {
    const rule = row.parentNode && row.parentNode.querySelector(".rule");
    if (rule) rule.textContent = ruleText(run);
  }
  function extraRow(run) {
    // the keywords without a slider, as JSON: weight_decay, amsgrad, form, nesterov, centered, …
    const row = document.createElement("label");
    row.className = "extra";
    const name = document.createElement("span");
    name.textContent = "other";
    const input = document.createElement("input");
    const sliderKeys = new Set(sliderSpecs(run).map((s) => s.key));
    const extra = {};
    for (const [k, v] of Object.entries(run.hp)) if (!sliderKeys.has(k)) extra[k] = v;
    input.value = JSON.stringify(extra);
    input.title = "other keywords of optlab.optim.create as JSON, e.g. {\"weight_decay\": 0.01}; valid: " + Object.keys(CFG.optimizers[run.name].defaults).join(", ");
    input.addEventListener("change", () => {
      let parsed;
      try { parsed = JSON.parse(input.value || "{}"); } catch (e) { showError(`other keywords: not JSON (${e.message})`); return; }
      for (const k of Object.keys(run.hp)) if (!sliderKeys.has(k)) delete run.hp[k];
      Object.assign(run.hp, parsed);
      renderRuns();
      recompute();
    });
    row.append(name, input);
    return row;
  }
  function scheduleRow(run) {
    const row = document.createElement("div");
    row.className = "extra";
    const name = document.createElement("span");
    name.textContent = "schedule";
    const box = document.createElement("span");
    box.className = "sched";
    const select = document.createElement("select");
    select.add(new Option("constant η", ""));
    for (const s of Object.keys(CFG.schedules)) if (s !== "constant") select.add(new Option(s, s));
    select.value = run.schedule ? run.schedule.name : "";
    const warm = document.createElement("input");
    warm.type = "number";
    warm.min = 0;
    warm.value = run.schedule && run.schedule.warmup_steps ? run.schedule.warmup_steps : 0;
    warm.title = "linear warm-up from 0 over this many updates";
    const warmLabel = document.createElement("span");
    warmLabel.textContent = "warm-up";
    const update = () => {
      const w = Math.max(0, Math.round(Number(warm.value) || 0));
      if (!select.value && !w) run.schedule = null;
      else {
        run.schedule = Object.assign({}, run.schedule || {}, { name: select.value || "constant", warmup_steps: w });
        if (run.schedule.name === "transformer" && w < 1) run.schedule.warmup_steps = Math.max(1, Math.round(state.steps / 10));
      }
      recompute();
    };
    select.addEventListener("change", update);
    warm.addEventListener("change", update);
    box.append(select, warmLabel, warm);
    row.append(name, box);
    return row;
  }
  function markSelected() {
    Array.from($("runs").children).forEach((c, i) => c.classList.toggle("selected", i === state.sel));
    phaseStale = true;
    drawPhase();
  }
  function updateLabels() {
    Array.from($("runs").children).forEach((card, i) => {
      const label = card.querySelector(".label");
      const r = results[i];
      if (!r) return;
      if (r.error) { label.className = "label error"; label.textContent = "error"; label.title = r.error; }
      else { label.className = "label " + r.label; label.textContent = r.label; label.title = Core.RULE; }
    });
    const errors = results.filter((r) => r && r.error).map((r) => r.error);
    showError(errors.length ? errors[0] : "");
  }

  // ------------------------------------------------------------------------------------------ contours
  let contourCache = null;
  function contours() {
    const s = SURFACES[state.surface];
    if (contourCache && contourCache.surface === state.surface) return contourCache;
    const n = 120, [x0, x1, y0, y1] = s.extent;
    const values = new Float64Array(n * n);
    let zmin = Infinity, zmax = -Infinity;
    for (let j = 0; j < n; j++) {
      const y = y0 + ((j + 0.5) * (y1 - y0)) / n;
      for (let i = 0; i < n; i++) {
        const z = s.vg(x0 + ((i + 0.5) * (x1 - x0)) / n, y)[0];
        values[j * n + i] = z;
        if (Number.isFinite(z)) { if (z < zmin) zmin = z; if (z > zmax) zmax = z; }
      }
    }
    // levels evenly spaced in log(f − f_low), as the report's contour plots: both the walls and the floor show
    let gapMin = Infinity;
    for (const z of values) { const g = z - zmin; if (g > 0 && g < gapMin) gapMin = g; }
    const top = zmax - zmin, bottom = Math.max(gapMin, top * 1e-6);
    const levels = [];
    for (let k = 0; k < 24; k++) levels.push(zmin + bottom * Math.pow(top / bottom, k / 23));
    const polys = d3.contours().size([n, n]).thresholds(levels)(Array.from(values, (z) => (Number.isFinite(z) ? z : zmax)));
    contourCache = { surface: state.surface, n, polys, zmin, levels };
    return contourCache;
  }

  // ------------------------------------------------------------------------------------------ drawing
  function setupCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h };
  }
  function plotFrame(w, h) {
    const s = SURFACES[state.surface];
    const [x0, x1, y0, y1] = s.extent;
    const pad = { l: 44, r: 8, t: 8, b: 24 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    return {
      pad, pw, ph,
      X: (x) => pad.l + ((x - x0) / (x1 - x0)) * pw,
      Y: (y) => pad.t + ((y1 - y) / (y1 - y0)) * ph,
      invX: (px) => x0 + ((px - pad.l) / pw) * (x1 - x0),
      invY: (py) => y1 - ((py - pad.t) / ph) * (y1 - y0),
    };
  }
  function drawPlot() {
    const { ctx, w, h } = setupCanvas($("plot"));
    const s = SURFACES[state.surface];
    const F = plotFrame(w, h);
    const c = contours();
    ctx.clearRect(0, 0, w, h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(F.pad.l, F.pad.t, F.pw, F.ph);
    ctx.clip();
    ctx.fillStyle = "rgb(150, 185, 225)";
    ctx.fillRect(F.pad.l, F.pad.t, F.pw, F.ph);
    const [x0, x1, y0, y1] = s.extent;
    const gx = (u) => F.X(x0 + (u / c.n) * (x1 - x0)), gy = (v) => F.Y(y0 + (v / c.n) * (y1 - y0));
    c.polys.forEach((poly, k) => {
      // opaque bands, low levels first: each region f ≥ level is painted over the one below it
      const shade = k / Math.max(1, c.polys.length - 1);
      ctx.beginPath();
      for (const polygon of poly.coordinates) for (const ring of polygon) {
        ring.forEach(([u, v], idx) => (idx ? ctx.lineTo(gx(u), gy(v)) : ctx.moveTo(gx(u), gy(v))));
        ctx.closePath();
      }
      ctx.fillStyle = `rgb(${Math.round(150 + 104 * shade)}, ${Math.round(185 + 67 * shade)}, ${Math.round(225 + 20 * shade)})`;
      ctx.fill("evenodd");
      ctx.strokeStyle = "rgba(60, 70, 90, 0.35)";
      ctx.lineWidth = 0.8;
      ctx.stroke();
    });
    if (s.minimum) star(ctx, F.X(s.minimum[0]), F.Y(s.minimum[1]));
    const t = state.t;
    results.forEach((r, i) => {
      if (r.error) return;
      const color = COLORS[i % COLORS.length];
      ctx.strokeStyle = color;
      ctx.lineWidth = i === state.sel ? 2 : 1.4;
      ctx.globalAlpha = r.steps > 300 && r.label === "oscillates" ? 0.45 : 0.95;
      ctx.beginPath();
      const last = Math.min(t, r.steps);
      let drawn = 0;
      for (let k = 0; k <= last; k++) {
        const px = F.X(r.xs[k]), py = F.Y(r.ys[k]);
        if (!Number.isFinite(px) || !Number.isFinite(py)) break;
        const cx = Math.max(-1e4, Math.min(1e4, px)), cy = Math.max(-1e4, Math.min(1e4, py));
        drawn++ ? ctx.lineTo(cx, cy) : ctx.moveTo(cx, cy);
      }
      ctx.stroke();
      ctx.globalAlpha = 1;
      const px = F.X(r.xs[last]), py = F.Y(r.ys[last]);
      if (Number.isFinite(px) && Number.isFinite(py)) {
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.arc(px, py, i === state.sel ? 5 : 4, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
    drawInner(ctx, F);
    // the start: drag it
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.fillStyle = "rgba(255,255,255,0.8)";
    ctx.beginPath();
    ctx.arc(F.X(state.x0), F.Y(state.y0), 7, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
    ctx.restore();
    axes(ctx, F, s.extent, w, h);
  }
  function star(ctx, x, y) {
    ctx.fillStyle = "#111";
    ctx.beginPath();
    for (let k = 0; k < 10; k++) {
      const r = k % 2 ? 3 : 7, a = -Math.PI / 2 + (k * Math.PI) / 5;
      k ? ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a)) : ctx.moveTo(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    ctx.closePath();
    ctx.fill();
  }
  function axes(ctx, F, extent, w, h) {
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.strokeRect(F.pad.l, F.pad.t, F.pw, F.ph);
    ctx.fillStyle = "#444";
    ctx.font = "11px system-ui, sans-serif";
    const xt = d3.ticks(extent[0], extent[1], 6), yt = d3.ticks(extent[2], extent[3], 5);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of xt) ctx.fillText(fmt(v), F.X(v), F.pad.t + F.ph + 4);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yt) ctx.fillText(fmt(v), F.pad.l - 4, F.Y(v));
    ctx.textAlign = "left";
    ctx.fillText("x", F.pad.l + F.pw - 10, F.pad.t + F.ph + 12);
    ctx.fillText("y", 4, F.pad.t + 8);
  }
  function arrow(ctx, x, y, dx, dy, color) {
    const len = Math.hypot(dx, dy);
    if (!(len > 0.5)) return;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + dx, y + dy);
    ctx.stroke();
    const a = Math.atan2(dy, dx);
    ctx.beginPath();
    ctx.moveTo(x + dx, y + dy);
    ctx.lineTo(x + dx - 8 * Math.cos(a - 0.4), y + dy - 8 * Math.sin(a - 0.4));
    ctx.lineTo(x + dx - 8 * Math.cos(a + 0.4), y + dy - 8 * Math.sin(a + 0.4));
    ctx.fill();
  }
  function drawInner(ctx, F) {
    const run = state.runs[state.sel], r = results[state.sel];
    const box = $("inner");
    if (!run || !r || r.error) { box.textContent = ""; return; }
    const t = Math.min(state.t, r.steps);
    let inner;
    try { inner = Core.innerState(SURFACES[state.surface].vg, state.x0, state.y0, t, run.name, run.hp, run.schedule, state.steps); }
    catch (e) { box.textContent = e.message; return; }
    const x = r.xs[t], y = r.ys[t];
    const px = F.X(x), py = F.Y(y);
    const lines = [`<b style="color:${COLORS[state.sel % COLORS.length]}">run ${state.sel + 1}</b> after ${t} updates: θ = (${fmt(x)}, ${fmt(y)}), f = ${fmt(r.loss[t])}, ‖∇f‖ = ${fmt(r.gnorm[t])}, η = ${fmt(inner.lr)}`];
    if (inner.velocity && Number.isFinite(px)) {
      // the next displacement, scaled so that it is visible; the scale is printed
      const dx = F.X(x + inner.velocity[0]) - px, dy = F.Y(y + inner.velocity[1]) - py;
      const len = Math.hypot(dx, dy);
      const k = len > 0 && len < 25 ? Math.pow(10, Math.ceil(Math.log10(25 / len))) : 1;
      arrow(ctx, px, py, dx * k, dy * k, "#b3261e");
      lines.push(`<span style="color:#b3261e">→ velocity / step</span> (${fmt(inner.velocity[0])}, ${fmt(inner.velocity[1])})${k > 1 ? `, drawn ×${fmt(k)}` : ""}`);
    }
    if (inner.sigma) lines.push(`σ per coordinate (${fmt(inner.sigma[0])}, ${fmt(inner.sigma[1])})`);
    if (inner.effective) {
      lines.push(`effective step η/σ (${fmt(inner.effective[0])}, ${fmt(inner.effective[1])}) <span class="muted">(dashed ellipse, half-axes ∝ η/σ)</span>`);
      const e0 = inner.effective[0], e1 = inner.effective[1];
      const m = Math.max(e0, e1);
      if (m > 0 && Number.isFinite(px)) {
        ctx.setLineDash([4, 3]);
        ctx.strokeStyle = "#6a3d9a";
        ctx.lineWidth = 1.2;
        ctx.beginPath();
        ctx.ellipse(px, py, Math.max(2, (30 * e0) / m), Math.max(2, (30 * e1) / m), 0, 0, 2 * Math.PI);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    }
    if (inner.trust !== undefined) lines.push(`trust ratio ${fmt(inner.trust)}`);
    if (inner.rectified !== undefined) lines.push(inner.rectified ? "rectified (ρₜ > 5)" : "not yet rectified: momentum SGD");
    box.innerHTML = lines.join("<br>");
  }
  function drawChart(canvas, key) {
    const { ctx, w, h } = setupCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    const pad = { l: 46, r: 22, t: 6, b: 18 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    let low = Infinity;
    if (key === "loss") {
      low = contours().zmin;
      for (const r of results) if (!r.error) for (let k = 0; k <= r.steps; k++) if (r.loss[k] < low) low = r.loss[k];
    }
    const val = (r, k) => (key === "loss" ? r.loss[k] - low : r.gnorm[k]);
    let vmin = Infinity, vmax = -Infinity;
    for (const r of results) {
      if (r.error) continue;
      for (let k = 0; k <= r.steps; k++) { const v = val(r, k); if (v > 0 && Number.isFinite(v)) { if (v < vmin) vmin = v; if (v > vmax) vmax = v; } }
    }
    if (!(vmax > 0)) return;
    let l0 = Math.floor(Math.log10(vmin)), l1 = Math.ceil(Math.log10(vmax));
    if (l1 - l0 > 24) l0 = l1 - 24;
    if (l1 === l0) l1 = l0 + 1;
    const steps = state.steps;
    const X = (k) => pad.l + (k / steps) * pw, Y = (v) => pad.t + ((l1 - Math.log10(v)) / (l1 - l0)) * ph;
    ctx.strokeStyle = "#ccc";
    ctx.fillStyle = "#555";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const every = Math.max(1, Math.ceil((l1 - l0) / 5));
    for (let e = l0; e <= l1; e += every) {
      ctx.beginPath(); ctx.moveTo(pad.l, Y(Math.pow(10, e))); ctx.lineTo(pad.l + pw, Y(Math.pow(10, e))); ctx.stroke();
      ctx.fillText(`1e${e}`, pad.l - 3, Y(Math.pow(10, e)));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const k of d3.ticks(0, steps, 4)) ctx.fillText(String(k), X(k), pad.t + ph + 3);
    ctx.save();
    ctx.beginPath(); ctx.rect(pad.l, pad.t, pw, ph); ctx.clip();
    results.forEach((r, i) => {
      if (r.error) return;
      ctx.strokeStyle = COLORS[i % COLORS.length];
      ctx.lineWidth = i === state.sel ? 1.8 : 1.2;
      ctx.beginPath();
      let pen = false;
      for (let k = 0; k <= Math.min(state.t, r.steps); k++) {
        const v = val(r, k);
        if (!(v > 0) || !Number.isFinite(v)) { pen = false; continue; }
        pen ? ctx.lineTo(X(k), Y(v)) : ctx.moveTo(X(k), Y(v));
        pen = true;
      }
      ctx.stroke();
    });
    ctx.restore();
    ctx.strokeStyle = "#888";
    ctx.strokeRect(pad.l, pad.t, pw, ph);
  }

  // ------------------------------------------------------------------------------------------ phase diagram
  let phase = null, phaseStale = true;
  const PHASE_N = 40, PHASE_STEPS = 500;
  function phaseAxes(run) {
    const specs = sliderSpecs(run);
    const lr = specs[0];
    const second = specs.find((s) => s.scale === "lin") || specs[1];
    return { lr, second };
  }
  function computePhase(n, steps) {
    const run = state.runs[state.sel];
    if (!run) return null;
    const s = SURFACES[state.surface];
    const { lr, second } = phaseAxes(run);
    const c = Math.log10(Math.max(getHp(run, lr), 1e-12));
    const xr = [Math.round((c - 2) * 2) / 2, Math.round((c + 1) * 2) / 2];
    const yr = second.scale === "log" ? [second.min, second.max] : [0, second.max];
    const buf = { xs: new Float64Array(steps + 1), ys: new Float64Array(steps + 1), loss: new Float64Array(steps + 1), gnorm: new Float64Array(steps + 1) };
    const labels = new Array(n * n);
    const probe = { name: run.name, hp: JSON.parse(JSON.stringify(run.hp)) };
    for (let j = 0; j < n; j++) {
      const yv = yr[0] + ((j + 0.5) / n) * (yr[1] - yr[0]);
      for (let i = 0; i < n; i++) {
        const xv = Math.pow(10, xr[0] + ((i + 0.5) / n) * (xr[1] - xr[0]));
        setHp(probe, lr, xv);
        setHp(probe, second, second.scale === "log" ? Math.pow(10, yv) : yv);
        try {
          const r = Core.simulate(s.vg, state.x0, state.y0, steps, probe.name, probe.hp, run.schedule, buf);
          labels[j * n + i] = Core.classify(r, s.extent);
        } catch (e) {
          labels[j * n + i] = "error";
        }
      }
    }
    return { n, steps, xr, yr, lr, second, labels, run: state.sel };
  }
  function drawPhase() {
    const canvas = $("phase");
    const { ctx, w, h } = setupCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    const run = state.runs[state.sel];
    $("phasesteps").textContent = String(Math.min(PHASE_STEPS, state.steps));
    if (!run) return;
    if (phaseStale || !phase) {
      phase = computePhase(PHASE_N, Math.min(PHASE_STEPS, state.steps));
      phaseStale = false;
    }
    if (!phase) return;
    $("phasetitle").textContent = `over (η, ${phase.second.sym}), run ${phase.run + 1}`;
    const pad = { l: 40, r: 16, t: 6, b: 30 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    const cw = pw / phase.n, chh = ph / phase.n;
    for (let j = 0; j < phase.n; j++) for (let i = 0; i < phase.n; i++) {
      ctx.fillStyle = LABEL_COLORS[phase.labels[j * phase.n + i]] || "#000";
      ctx.fillRect(pad.l + i * cw, pad.t + ph - (j + 1) * chh, Math.ceil(cw), Math.ceil(chh));
    }
    // the current setting
    const lx = Math.log10(getHp(run, phase.lr)), yv = getHp(run, phase.second);
    const yy = phase.second.scale === "log" ? Math.log10(yv) : yv;
    const mx = pad.l + ((lx - phase.xr[0]) / (phase.xr[1] - phase.xr[0])) * pw;
    const my = pad.t + ph - ((yy - phase.yr[0]) / (phase.yr[1] - phase.yr[0])) * ph;
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.arc(mx, my, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(mx, my, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#444";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let e = Math.ceil(phase.xr[0]); e <= phase.xr[1]; e++) ctx.fillText(`1e${e}`, pad.l + ((e - phase.xr[0]) / (phase.xr[1] - phase.xr[0])) * pw, pad.t + ph + 3);
    ctx.fillText("η (log)", pad.l + pw / 2, pad.t + ph + 16);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yLabel = (v) => (phase.second.scale === "log" ? `1e${v}` : String(v));
    ctx.fillText(yLabel(phase.yr[0]), pad.l - 3, pad.t + ph - 4);
    ctx.fillText(yLabel(phase.yr[1]), pad.l - 3, pad.t + 6);
    ctx.save();
    ctx.translate(10, pad.t + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(phase.second.sym + (phase.second.scale === "log" ? " (log)" : ""), 0, 0);
    ctx.restore();
    phase.frame = { pad, pw, ph };
  }
  function phaseClick(ev) {
    if (!phase || !phase.frame) return;
    const rect = $("phase").getBoundingClientRect();
    const { pad, pw, ph } = phase.frame;
    const fx = (ev.clientX - rect.left - pad.l) / pw, fy = 1 - (ev.clientY - rect.top - pad.t) / ph;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    const run = state.runs[phase.run];
    if (!run) return;
    setHp(run, phase.lr, +Math.pow(10, phase.xr[0] + fx * (phase.xr[1] - phase.xr[0])).toPrecision(3));
    const yv = phase.yr[0] + fy * (phase.yr[1] - phase.yr[0]);
    setHp(run, phase.second, phase.second.scale === "log" ? +Math.pow(10, yv).toPrecision(3) : +yv.toFixed(3));
    state.sel = phase.run;
    renderRuns();
    recompute(true);
  }

  // ------------------------------------------------------------------------------------------ loop
  let drawPending = false, urlTimer = null, playing = false, lastTick = 0;
  function drawAll() {
    drawPlot();
    drawChart($("losschart"), "loss");
    drawChart($("gradchart"), "grad");
    $("frame").textContent = `update ${state.t} / ${state.steps}`;
  }
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawAll(); });
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const query = stateQuery(state);
      history.replaceState(null, "", "?" + query);
      $("share").href = "?" + query;
    }, 150);
  }
  /** Re-run every run (after a slider move) and redraw; keepPhase: the phase diagram stays as it is. */
  function recompute(keepPhase) {
    results = computeRuns(state);
    updateLabels();
    if (!keepPhase) phaseStale = true;
    scheduleDraw();
    if (!keepPhase) schedulePhase();
    else drawPhase();
  }
  let phaseTimer = null;
  function schedulePhase() {
    clearTimeout(phaseTimer);
    phaseTimer = setTimeout(drawPhase, 250); // after the slider rests: the diagram costs ~0.1 s
  }
  function tick(now) {
    if (!playing) return;
    const per = Math.max(1, Math.round(state.steps / 300)); // a run plays in ~5 s
    if (now - lastTick > 14) {
      state.t = Math.min(state.steps, state.t + per);
      lastTick = now;
      drawAll();
    }
    if (state.t >= state.steps) { setPlaying(false); scheduleDraw(); return; }
    requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    playing = on;
    $("play").textContent = on ? "⏸ pause" : "▶ play";
    if (on) {
      if (state.t >= state.steps) state.t = 0;
      requestAnimationFrame(tick);
    }
  }

  // ------------------------------------------------------------------------------------------ wiring
  function init() {
    const select = $("surface");
    for (const name of Object.keys(SURFACES)) select.add(new Option(name, name));
    select.value = state.surface;
    select.addEventListener("change", () => {
      const s = SURFACES[select.value];
      state.surface = select.value;
      state.x0 = s.start[0];
      state.y0 = s.start[1];
      state.runs = defaultRuns(state.surface);
      state.sel = 0;
      state.t = state.steps;
      contourCache = null;
      showSurface();
      renderRuns();
      recompute();
    });
    $("steps").value = state.steps;
    $("steps").addEventListener("change", () => {
      const v = Math.round(Number($("steps").value));
      if (!(v >= 1 && v <= 100000)) { showError(`updates must be from 1 to 100000, got ${$("steps").value}`); return; }
      state.steps = v;
      state.t = v;
      recompute();
    });
    $("play").addEventListener("click", () => setPlaying(!playing));
    $("stepbtn").addEventListener("click", () => {
      setPlaying(false);
      state.t = state.t >= state.steps ? 0 : state.t + 1;
      scheduleDraw();
    });
    $("reset").addEventListener("click", () => { setPlaying(false); state.t = 0; scheduleDraw(); });
    $("addrun").addEventListener("click", () => {
      const names = ["adam", "rmsprop", "momentum", "adagrad", "nesterov", "radam", "lamb", "lars"];
      const used = new Set(state.runs.map((r) => r.name));
      const name = names.find((n) => !used.has(n)) || "sgd";
      const lr = state.runs.length ? state.runs[0].hp.lr : undefined;
      state.runs.push({ name, hp: lr !== undefined && name !== "lars" ? { lr } : {}, schedule: null });
      state.sel = state.runs.length - 1;
      renderRuns();
      recompute();
    });
    $("phase").addEventListener("click", phaseClick);
    $("phasebtn").addEventListener("click", () => { phaseStale = true; drawPhase(); });
    // drag the start
    const plot = $("plot");
    let dragging = false;
    const moveStart = (ev) => {
      const rect = plot.getBoundingClientRect();
      const F = plotFrame(rect.width, rect.height);
      const x = F.invX(ev.clientX - rect.left), y = F.invY(ev.clientY - rect.top);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return;
      state.x0 = +x.toPrecision(4);
      state.y0 = +y.toPrecision(4);
      results = computeRuns(state);
      updateLabels();
      phaseStale = true;
      scheduleDraw();
    };
    plot.addEventListener("pointerdown", (ev) => { dragging = true; plot.setPointerCapture(ev.pointerId); moveStart(ev); });
    plot.addEventListener("pointermove", (ev) => { if (dragging) moveStart(ev); });
    plot.addEventListener("pointerup", () => { if (dragging) { dragging = false; schedulePhase(); } });
    document.addEventListener("keydown", (ev) => {
      if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
      if (ev.key === " ") { ev.preventDefault(); setPlaying(!playing); }
      if (ev.key === "ArrowRight") { state.t = Math.min(state.steps, state.t + 1); scheduleDraw(); }
      if (ev.key === "ArrowLeft") { state.t = Math.max(0, state.t - 1); scheduleDraw(); }
    });
    window.addEventListener("resize", () => { scheduleDraw(); drawPhase(); });
    $("rule").textContent = Core.RULE;
    $("legend").innerHTML = Object.entries(LABEL_COLORS).map(([k, c]) => `<span style="--c:${c}">${k}</span>`).join("");
    showSurface();
    renderRuns();
    drawAll();
    drawPhase();
    $("share").href = "?" + stateQuery(state);
  }
  function showSurface() {
    const s = SURFACES[state.surface];
    $("formula").textContent = s.formula + (s.note ? `  (${s.note})` : "");
  }

  // hooks for benchmarks/explore_page.py and the tests
  window.OptlabExplore = {
    state: () => state,
    recomputeAndDraw() { results = computeRuns(state); updateLabels(); drawAll(); },
    phaseDiagram(n, steps) { return computePhase(n, steps); },
    setRuns(runs) { state.runs = runs; renderRuns(); },
  };
  if (!state.dump || new URLSearchParams(location.search).get("ui") === "1") init();
})();
