/* optlab explore: the update rules of optlab.optim and the schedules of optlab.schedules, in JavaScript.
 *
 * A second implementation, kept line by line next to the Python reference steps (src/optlab/optim/*.py,
 * src/optlab/schedules/{core,registry}.py) with the same order of operations, and checked against them in
 * headless Chromium (tests/explore/test_equality.py): every optimizer x {constant, warm-up} x every surface,
 * 1000 float64 updates, max difference <= 1e-9 * max(|theta|, 1).
 *
 * theta = (x, y) is one (1, 2) tensor on the Python side: LARS/LAMB's trust ratio uses the norm of the whole
 * 2-vector, and LARS's exclude_1d never applies (the tensor is 2-D).
 *
 * No DOM here: explore.js draws; the benchmark and the tests call these functions directly.
 */
(function (root) {
  "use strict";

  const CONFIG = root.OPTLAB_EXPLORE || {};

  // torch's CPU lerp (ATen/native/Lerp.h): two formulas, switched at weight 0.5, for its rounding
  function lerp(a, b, w) {
    return Math.abs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
  }

  function checkNonNegative(name, value) {
    if (typeof value !== "number" || !(value >= 0)) throw new Error(`Invalid ${name} value: ${value}`);
  }
  function checkLr(lr) {
    if (typeof lr !== "number" || !(lr >= 0)) throw new Error(`Invalid learning rate: ${lr}`);
  }
  function checkBetas(betas) {
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`Invalid betas: ${JSON.stringify(betas)}`);
    betas.forEach((b, i) => {
      if (!(b >= 0 && b < 1)) throw new Error(`Invalid beta parameter at index ${i}: ${b}`);
    });
  }

  // ---------------------------------------------------------------------------------------------- SGD
  // sgd.py: torch form b_1 = g_1; b_t = mu b + (1 - tau) g; d = g + mu b (nesterov) or b; theta -= lr d.
  // lecture form: m = lambda m - eta g; theta += m (m_0 = 0).
  function SGD(hp) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("momentum", hp.momentum);
    checkNonNegative("weight_decay", hp.weight_decay);
    checkNonNegative("dampening", hp.dampening);
    if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0))
      throw new Error("Nesterov momentum requires a momentum and zero dampening");
    if (hp.form !== "torch" && hp.form !== "lecture") throw new Error(`Invalid form: '${hp.form}' (valid: torch, lecture)`);
    if (hp.form === "lecture" && (hp.nesterov || hp.dampening !== 0))
      throw new Error("Invalid form: 'lecture' supports neither nesterov nor dampening");
    const mu = hp.momentum, tau = hp.dampening, wd = hp.weight_decay, nesterov = hp.nesterov;
    const lecture = hp.form === "lecture";
    const b = [0, 0];
    let hasBuffer = false, lastLr = hp.lr;
    return {
      step(theta, grad, lr) {
        lastLr = lr;
        for (let i = 0; i < 2; i++) {
          let g = neg ? -grad[i] : grad[i]; // −∇f where maximising
          if (wd !== 0) g = g + wd * theta[i]; // L2 penalty
          if (lecture) {
            b[i] = b[i] * mu - lr * g; // m_t = λ·m_{t−1} − η·g_t
            theta[i] = theta[i] + b[i]; // θ_t = θ_{t−1} + m_t
            continue;
          }
          if (mu === 0) {
            theta[i] = theta[i] - lr * g; // θ_t = θ_{t−1} − η·g_t
            continue;
          }
          if (!hasBuffer) b[i] = g; // b_1 = g_1
          else b[i] = b[i] * mu + (1 - tau) * g; // b_t = μ·b_{t−1} + (1 − τ)·g_t
          const d = nesterov ? g + mu * b[i] : b[i];
          theta[i] = theta[i] - lr * d; // θ_t = θ_{t−1} − η·d_t
        }
        hasBuffer = true;
      },
      inner() {
        if (mu === 0 && !lecture) return {};
        // the velocity as a displacement: the lecture's m, or torch's −η·b
        return { velocity: lecture ? b.slice() : [-lastLr * b[0], -lastLr * b[1]] };
      },
    };
  }

  // ------------------------------------------------------------------------------------------ Adagrad
  // adagrad.py: eta_t = eta / (1 + (t-1) lr_decay); s += g^2; sigma = sqrt(s) or sqrt(s/t) (average);
  // theta -= eta_t * (g / (sigma + eps)).
  function Adagrad(hp) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("lr_decay", hp.lr_decay);
    checkNonNegative("weight_decay", hp.weight_decay);
    checkNonNegative("initial_accumulator_value", hp.initial_accumulator_value);
    checkNonNegative("epsilon", hp.eps);
    const eps = hp.eps, wd = hp.weight_decay, average = !!hp.average;
    const s = [hp.initial_accumulator_value, hp.initial_accumulator_value];
    const sigma = [0, 0];
    let t = 0, lastLr = hp.lr;
    return {
      step(theta, grad, lr) {
        t += 1;
        const lrT = lr / (1 + (t - 1) * hp.lr_decay); // η_t
        lastLr = lrT;
        for (let i = 0; i < 2; i++) {
          let g = neg ? -grad[i] : grad[i]; // −∇f where maximising
          if (wd !== 0) g = g + wd * theta[i];
          s[i] = s[i] + g * g; // s_t = s_{t−1} + g_t²
          sigma[i] = average ? Math.sqrt(s[i] / t) : Math.sqrt(s[i]); // σ_t
          theta[i] = theta[i] - lrT * (g / (sigma[i] + eps)); // θ_t = θ_{t−1} − η_t·g_t/(σ_t + ε)
        }
      },
      inner() {
        if (t === 0) return {};
        return { sigma: sigma.slice(), effective: [lastLr / (sigma[0] + eps), lastLr / (sigma[1] + eps)] };
      },
    };
  }

  // ------------------------------------------------------------------------------------------ RMSProp
  // rmsprop.py: v = alpha v + (1-alpha) g^2 (or v = g^2 on the first update with init="first_grad");
  // sigma = sqrt(v) (centered: sqrt(v - gbar^2)); momentum b = mu b + g/(sigma+eps); theta -= lr b.
  function RMSProp(hp) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("epsilon", hp.eps);
    checkNonNegative("momentum", hp.momentum);
    checkNonNegative("weight_decay", hp.weight_decay);
    if (!(hp.alpha >= 0 && hp.alpha <= 1)) throw new Error(`Invalid alpha value: ${hp.alpha}`);
    if (hp.init !== "zero" && hp.init !== "first_grad") throw new Error(`Invalid init: '${hp.init}' (valid: zero, first_grad)`);
    if (hp.init === "first_grad" && hp.centered)
      throw new Error("Invalid init: 'first_grad' is the lecture's uncentered form; use centered=False");
    const alpha = hp.alpha, eps = hp.eps, wd = hp.weight_decay, mu = hp.momentum;
    const centered = !!hp.centered, firstGrad = hp.init === "first_grad";
    const v = [0, 0], gBar = [0, 0], b = [0, 0], sigma = [0, 0];
    let t = 0, lastLr = hp.lr;
    return {
      step(theta, grad, lr) {
        t += 1;
        lastLr = lr;
        for (let i = 0; i < 2; i++) {
          let g = neg ? -grad[i] : grad[i]; // −∇f where maximising
          if (wd !== 0) g = g + wd * theta[i];
          if (firstGrad && t === 1) v[i] = g * g; // σ_0² = g_0² (the lecture)
          else v[i] = v[i] * alpha + (1 - alpha) * g * g; // v_t = α·v_{t−1} + (1 − α)·g_t²
          if (centered) {
            gBar[i] = lerp(gBar[i], g, 1 - alpha); // ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t
            sigma[i] = Math.sqrt(Math.max(v[i] - gBar[i] * gBar[i], 0)); // √max(v − ḡ², 0)
          } else {
            sigma[i] = Math.sqrt(v[i]); // σ_t = √v_t
          }
          if (mu > 0) {
            b[i] = b[i] * mu + g / (sigma[i] + eps); // b_t = μ·b_{t−1} + g_t/(σ_t + ε)
            theta[i] = theta[i] - lr * b[i];
          } else {
            theta[i] = theta[i] - lr * (g / (sigma[i] + eps)); // θ_t = θ_{t−1} − η·g_t/(σ_t + ε)
          }
        }
      },
      inner() {
        if (t === 0) return {};
        const out = { sigma: sigma.slice(), effective: [lastLr / (sigma[0] + eps), lastLr / (sigma[1] + eps)] };
        if (mu > 0) out.velocity = [-lastLr * b[0], -lastLr * b[1]];
        return out;
      },
    };
  }

  // ------------------------------------------------------------------------------------- Adam / AdamW
  // adam.py: m = lerp(m, g, 1-beta1); v = beta2 v + (1-beta2) g^2; (amsgrad: v = max(vmax, v));
  // theta -= alpha * (m/(1-beta1^t)) / (sqrt(v)/sqrt(1-beta2^t) + eps). AdamW decays theta first.
  function Adam(hp, adamw) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("epsilon", hp.eps);
    checkBetas(hp.betas);
    checkNonNegative("weight_decay", hp.weight_decay);
    const beta1 = hp.betas[0], beta2 = hp.betas[1], eps = hp.eps, wd = hp.weight_decay, amsgrad = !!hp.amsgrad;
    const decoupled = adamw || !!hp.decoupled_weight_decay;
    const m = [0, 0], v = [0, 0], vMax = [0, 0], sqrtVHat = [0, 0], mHat = [0, 0];
    let t = 0, lastLr = hp.lr;
    return {
      step(theta, grad, lr) {
        t += 1;
        lastLr = lr;
        const alpha = lr;
        const biasCorrection1 = 1 - Math.pow(beta1, t);
        const biasCorrection2 = 1 - Math.pow(beta2, t);
        for (let i = 0; i < 2; i++) {
          let g = neg ? -grad[i] : grad[i]; // −∇f where maximising
          if (wd !== 0) {
            if (decoupled) theta[i] = theta[i] * (1 - alpha * wd); // AdamW: θ ← (1 − α·λ)·θ
            else g = g + wd * theta[i]; // L2 penalty
          }
          m[i] = lerp(m[i], g, 1 - beta1); // m_t = β1·m_{t−1} + (1 − β1)·g_t
          v[i] = v[i] * beta2 + (1 - beta2) * g * g; // v_t = β2·v_{t−1} + (1 − β2)·g_t²
          let vv = v[i];
          if (amsgrad) {
            vMax[i] = Math.max(vMax[i], v[i]); // v_max,t = max(v_max,t−1, v_t)
            vv = vMax[i];
          }
          mHat[i] = m[i] / biasCorrection1; // m̂_t
          sqrtVHat[i] = Math.sqrt(vv) / Math.pow(biasCorrection2, 0.5); // √v̂_t
          theta[i] = theta[i] - alpha * (mHat[i] / (sqrtVHat[i] + eps)); // θ_t = θ_{t−1} − α·m̂_t/(√v̂_t + ε)
        }
      },
      inner() {
        if (t === 0) return {};
        return {
          velocity: [-lastLr * mHat[0] / (sqrtVHat[0] + eps), -lastLr * mHat[1] / (sqrtVHat[1] + eps)],
          sigma: sqrtVHat.slice(),
          effective: [lastLr / (sqrtVHat[0] + eps), lastLr / (sqrtVHat[1] + eps)],
        };
      },
    };
  }

  // -------------------------------------------------------------------------------------------- RAdam
  // radam.py: rectified when rho_t > 5 (torch's threshold), else un-adapted momentum SGD.
  const RHO_THRESHOLD = 5.0;
  function RAdam(hp) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("epsilon", hp.eps);
    checkBetas(hp.betas);
    checkNonNegative("weight_decay", hp.weight_decay);
    const beta1 = hp.betas[0], beta2 = hp.betas[1], eps = hp.eps, wd = hp.weight_decay;
    const decoupled = !!hp.decoupled_weight_decay;
    const rhoInf = 2 / (1 - beta2) - 1; // ρ_∞
    const m = [0, 0], v = [0, 0], step = [0, 0];
    let t = 0, lastRect = false;
    return {
      step(theta, grad, lr) {
        t += 1;
        const alpha = lr;
        const biasCorrection1 = 1 - Math.pow(beta1, t);
        const biasCorrection2 = 1 - Math.pow(beta2, t);
        const rhoT = rhoInf - (2 * t * Math.pow(beta2, t)) / biasCorrection2; // ρ_t
        lastRect = rhoT > RHO_THRESHOLD;
        for (let i = 0; i < 2; i++) {
          let g = neg ? -grad[i] : grad[i]; // −∇f where maximising
          if (wd !== 0) {
            if (decoupled) theta[i] = theta[i] * (1 - alpha * wd);
            else g = g + wd * theta[i];
          }
          m[i] = lerp(m[i], g, 1 - beta1);
          v[i] = v[i] * beta2 + (1 - beta2) * g * g;
          const mHat = m[i] / biasCorrection1; // m̂_t
          if (lastRect) {
            const l = Math.pow(biasCorrection2, 0.5) / (Math.sqrt(v[i]) + eps); // l_t
            const r = Math.pow(
              ((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT), 0.5); // r_t
            step[i] = mHat * alpha * l * r;
          } else {
            step[i] = mHat * alpha; // un-adapted momentum SGD
          }
          theta[i] = theta[i] - step[i];
        }
      },
      inner() {
        if (t === 0) return {};
        return { velocity: [-step[0], -step[1]], rectified: lastRect };
      },
    };
  }

  // --------------------------------------------------------------------------------- trust ratio, norm
  function norm2(a, b) {
    return Math.sqrt(a * a + b * b);
  }
  function trustRatio(numerator, denominator, wNorm, updateNorm) {
    return wNorm > 0 && updateNorm > 0 ? numerator / denominator : 1;
  }

  // --------------------------------------------------------------------------------------------- LARS
  // lars.py: lambda = eta ||w|| / (||g|| + beta ||w|| + eps); v = m v + gamma lambda (g + beta w); w -= v.
  function LARS(hp) {
    const neg = !!hp.maximize;
    if (hp.lr === null || hp.lr === undefined) throw new Error("LARS needs an lr");
    checkLr(hp.lr);
    checkNonNegative("momentum", hp.momentum);
    checkNonNegative("weight_decay", hp.weight_decay);
    checkNonNegative("trust_coefficient", hp.trust_coefficient);
    checkNonNegative("epsilon", hp.eps);
    const mom = hp.momentum, beta = hp.weight_decay, eta = hp.trust_coefficient, eps = hp.eps;
    const v = [0, 0];
    let localLr = 1, lastLr = hp.lr;
    return {
      step(w, grad, gamma) {
        lastLr = gamma;
        const wNorm = norm2(w[0], w[1]);
        const g0 = neg ? -grad[0] : grad[0], g1 = neg ? -grad[1] : grad[1]; // −∇f where maximising
        const gNorm = norm2(g0, g1);
        localLr = trustRatio(eta * wNorm, gNorm + beta * wNorm + eps, wNorm, gNorm); // λ
        const scale = gamma * localLr;
        for (let i = 0; i < 2; i++) {
          v[i] = v[i] * mom + scale * ((i ? g1 : g0) + beta * w[i]); // v ← m·v + γ·λ·(∇L(w) + β·w)
          w[i] = w[i] - v[i]; // w ← w − v
        }
      },
      inner() {
        return { velocity: [-v[0], -v[1]], trust: localLr, effective: [lastLr * localLr, lastLr * localLr] };
      },
    };
  }

  // --------------------------------------------------------------------------------------------- LAMB
  // lamb.py: r = m_hat / (sqrt(v_hat) + eps); u = r + lambda w; w -= eta * (||w|| / ||u||) * u.
  function LAMB(hp) {
    const neg = !!hp.maximize;
    checkLr(hp.lr);
    checkNonNegative("epsilon", hp.eps);
    checkBetas(hp.betas);
    checkNonNegative("weight_decay", hp.weight_decay);
    const beta1 = hp.betas[0], beta2 = hp.betas[1], eps = hp.eps, lam = hp.weight_decay;
    const m = [0, 0], v = [0, 0], u = [0, 0], sqrtVHat = [0, 0];
    let t = 0, ratio = 1, lastLr = hp.lr;
    return {
      step(w, grad, eta) {
        t += 1;
        lastLr = eta;
        const biasCorrection1 = 1 - Math.pow(beta1, t);
        const biasCorrection2 = 1 - Math.pow(beta2, t);
        for (let i = 0; i < 2; i++) {
          const g = neg ? -grad[i] : grad[i];
          m[i] = m[i] * beta1 + (1 - beta1) * g; // m_t
          v[i] = v[i] * beta2 + (1 - beta2) * g * g; // v_t
          const mHat = m[i] / biasCorrection1;
          const vHat = v[i] / biasCorrection2;
          sqrtVHat[i] = Math.sqrt(vHat);
          u[i] = mHat / (sqrtVHat[i] + eps) + lam * w[i]; // u_t = r_t + λ·w_{t−1}
        }
        const wNorm = norm2(w[0], w[1]);
        const uNorm = norm2(u[0], u[1]);
        ratio = trustRatio(wNorm, uNorm, wNorm, uNorm); // ‖w‖/‖u‖, or 1
        const scale = eta * ratio;
        for (let i = 0; i < 2; i++) w[i] = w[i] - scale * u[i]; // w_t = w_{t−1} − η·ratio·u_t
      },
      inner() {
        if (t === 0) return {};
        return {
          velocity: [-lastLr * ratio * u[0], -lastLr * ratio * u[1]],
          sigma: sqrtVHat.slice(),
          trust: ratio,
        };
      },
    };
  }

  const CLASSES = { SGD, Adagrad, RMSProp, Adam, AdamW: (hp) => Adam(hp, true), RAdam, LARS, LAMB };

  /** The optimizer `name` (a registry name) with keywords `given` over the registry's defaults. */
  function makeOptimizer(name, given) {
    const record = (CONFIG.optimizers || {})[name];
    if (!record) throw new Error(`unknown optimizer '${name}'; valid names: ${Object.keys(CONFIG.optimizers || {}).join(", ")}`);
    for (const key of Object.keys(given || {})) {
      if (!(key in record.defaults)) throw new Error(`opt '${name}': unknown keyword '${key}'; valid: ${Object.keys(record.defaults).join(", ")}`);
    }
    const hp = Object.assign({}, record.defaults, given || {});
    if (!(record.cls in CLASSES)) throw new Error(`this page has no JavaScript rule for ${record.cls} ('${name}')`);
    const opt = CLASSES[record.cls](hp);
    opt.hp = hp;
    return opt;
  }

  // ---------------------------------------------------------------------------------------- schedules
  // schedules/registry.py's builders with their defaults for a run of `total` updates; step 0 = update 0.
  function checkInt(owner, name, value, minimum) {
    if (!Number.isInteger(value) || value < minimum) throw new Error(`${owner}: ${name} must be an integer >= ${minimum}, got ${value}`);
    return value;
  }
  function bisectRight(list, x) {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x < list[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  const SCHEDULES = {
    constant: (lr) => () => lr,
    step(lr, total, o) {
      const stepSize = o.step_size != null ? o.step_size : Math.max(1, Math.floor(total / 3));
      const gamma = o.gamma != null ? o.gamma : 0.1;
      checkInt("step_decay", "step_size", stepSize, 1);
      return (t) => lr * Math.pow(gamma, Math.floor(t / stepSize));
    },
    multistep(lr, total, o) {
      let milestones = o.milestones;
      if (milestones == null) {
        milestones = [...new Set([Math.floor(total / 2), Math.floor((3 * total) / 4)])].filter((m) => m >= 1).sort((a, b) => a - b);
      }
      const gamma = o.gamma != null ? o.gamma : 0.1;
      return (t) => lr * Math.pow(gamma, bisectRight(milestones, t));
    },
    exponential(lr, total, o) {
      const gamma = o.gamma != null ? o.gamma : Math.pow(0.01, 1.0 / total);
      return (t) => lr * Math.pow(gamma, t);
    },
    inverse_time(lr, total, o) {
      const power = o.power != null ? o.power : 0.5;
      return (t) => lr / Math.pow(t + 1, power);
    },
    cosine(lr, total, o) {
      const finalLr = o.final_lr != null ? o.final_lr : 0.0;
      return (t) => finalLr + ((lr - finalLr) * (1.0 + Math.cos(Math.PI * (Math.min(t, total) / total)))) / 2.0;
    },
    wsd(lr, total, o) {
      // warmup–stable–decay: lr, then a linear or 1 − √ cool-down over the last decay_fraction of the run
      const fraction = o.decay_fraction != null ? o.decay_fraction : 0.2;
      if (!(fraction > 0 && fraction <= 1)) throw new Error(`wsd: decay_fraction must be > 0 and <= 1, got ${fraction}`);
      const finalLr = o.final_lr != null ? o.final_lr : 0.0;
      const shape = o.shape != null ? o.shape : "linear";
      if (shape !== "linear" && shape !== "1-sqrt") throw new Error(`wsd: shape must be one of linear, 1-sqrt, got '${shape}'`);
      const decay = Math.max(1, pyRound(fraction * total));
      const start = total - decay;
      return (t) => {
        if (t <= start) return lr;
        const p = Math.min(t - start, decay) / decay;
        return finalLr + (lr - finalLr) * (1.0 - (shape === "linear" ? p : Math.sqrt(p)));
      };
    },
    one_cycle(lr, total, o) {
      // Smith & Topin's 1cycle, as torch's OneCycleLR: up to lr over pct_start of the run, then down
      const pct = o.pct_start != null ? o.pct_start : 0.3;
      if (!(pct > 0 && pct < 1)) throw new Error(`one_cycle: pct_start must be a number in (0, 1), got ${pct}`);
      const div = o.div_factor != null ? o.div_factor : 25.0;
      const finalDiv = o.final_div_factor != null ? o.final_div_factor : 1e4;
      const anneal = o.anneal != null ? o.anneal : "cos";
      if (anneal !== "cos" && anneal !== "linear") throw new Error(`one_cycle: anneal must be 'cos' or 'linear', got '${anneal}'`);
      const initial = lr / div;
      const finalLr = initial / finalDiv;
      const peak = pct * total - 1;
      const last = total - 1;
      const ramp = (a, b, p) => (anneal === "linear" ? (b - a) * p + a : b + ((a - b) / 2.0) * (Math.cos(Math.PI * p) + 1));
      return (t) => {
        if (peak > 0 && t <= peak) return ramp(initial, lr, t / peak);
        if (t >= last) return finalLr;
        const start = Math.max(peak, 0.0);
        return ramp(lr, finalLr, (t - start) / (last - start));
      };
    },
    transformer(lr, total, o, warmup) {
      const d = o.d_model != null ? o.d_model : 512;
      checkInt("transformer", "d_model", d, 1);
      const scale = lr * Math.sqrt(d * warmup);
      return (t) => {
        const s = t + 1;
        return scale * Math.pow(d, -0.5) * Math.min(Math.pow(s, -0.5), s * Math.pow(warmup, -1.5));
      };
    },
  };
  const SCHEDULE_OPTIONS = {
    constant: [], step: ["step_size", "gamma"], multistep: ["milestones", "gamma"], exponential: ["gamma"],
    inverse_time: ["power"], cosine: ["final_lr"], transformer: ["d_model"],
    wsd: ["decay_fraction", "final_lr", "shape"],
    one_cycle: ["pct_start", "div_factor", "final_div_factor", "anneal"],
  };
  // Python's round(): halves go to the even neighbour
  function pyRound(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  /** schedules.create(spec.name, lr, total_steps, warmup_steps, **options) as a function t -> lr. */
  function makeSchedule(spec, lr, steps) {
    if (!spec) return null;
    const options = Object.assign({}, spec);
    const name = options.name;
    delete options.name;
    const warmup = options.warmup_steps != null ? options.warmup_steps : 0;
    delete options.warmup_steps;
    const total = options.total_steps != null ? options.total_steps : steps;
    delete options.total_steps;
    if (!(name in SCHEDULES)) throw new Error(`unknown schedule '${name}'; valid: ${Object.keys(SCHEDULES).join(", ")}`);
    if (!(lr > 0)) throw new Error(`schedule: lr must be a finite number > 0, got ${lr}`);
    checkInt("schedule", "total_steps", total, 1);
    checkInt("schedule", "warmup_steps", warmup, 0);
    if (warmup > total) throw new Error(`schedule: warmup_steps must be <= total_steps (${total}), got ${warmup}`);
    for (const key of Object.keys(options)) {
      if (!SCHEDULE_OPTIONS[name].includes(key))
        throw new Error(`schedule '${name}': unknown option '${key}'; valid options: ${SCHEDULE_OPTIONS[name].join(", ") || "none"}`);
    }
    if (name === "transformer") {
      if (warmup < 1) throw new Error("schedule 'transformer': warmup_steps must be >= 1 (it sets where the lr peaks)");
      return SCHEDULES.transformer(lr, total, options, warmup);
    }
    const base = SCHEDULES[name](lr, total, options);
    if (warmup === 0) return base;
    // linear_warmup(schedule, W): start_lr + (schedule(W) − start_lr)·t/W for t < W (start_lr = 0), not shifted
    const target = base(warmup);
    return (t) => (t >= warmup ? base(t) : ((target - 0.0) * t) / warmup);
  }

  // ------------------------------------------------------------------------------------------ running
  /**
   * One run: `steps` updates from (x0, y0). Returns the points, f and |grad f| at each of the steps + 1
   * points (the start first). `out` may carry preallocated arrays (the phase diagram reuses them).
   */
  function simulate(vg, x0, y0, steps, name, hparams, scheduleSpec, out) {
    const opt = makeOptimizer(name, hparams);
    const schedule = makeSchedule(scheduleSpec, opt.hp.lr, steps);
    const n = steps + 1;
    const xs = out && out.xs.length >= n ? out.xs : new Float64Array(n);
    const ys = out && out.ys.length >= n ? out.ys : new Float64Array(n);
    const loss = out && out.loss.length >= n ? out.loss : new Float64Array(n);
    const gnorm = out && out.gnorm.length >= n ? out.gnorm : new Float64Array(n);
    const theta = [x0, y0], grad = [0, 0];
    for (let t = 0; t <= steps; t++) {
      const r = vg(theta[0], theta[1]);
      xs[t] = theta[0];
      ys[t] = theta[1];
      loss[t] = r[0];
      gnorm[t] = Math.sqrt(r[1] * r[1] + r[2] * r[2]);
      if (t === steps) break;
      grad[0] = r[1];
      grad[1] = r[2];
      opt.step(theta, grad, schedule ? schedule(t) : opt.hp.lr);
    }
    return { xs, ys, loss, gnorm, steps, hp: opt.hp };
  }

  /** The optimizer's inner state after `t` updates of the same run (replayed: a few microseconds). */
  function innerState(vg, x0, y0, t, name, hparams, scheduleSpec, steps) {
    const opt = makeOptimizer(name, hparams);
    const schedule = makeSchedule(scheduleSpec, opt.hp.lr, steps);
    const theta = [x0, y0], grad = [0, 0];
    for (let k = 0; k < t; k++) {
      const r = vg(theta[0], theta[1]);
      grad[0] = r[1];
      grad[1] = r[2];
      opt.step(theta, grad, schedule ? schedule(k) : opt.hp.lr);
    }
    const state = opt.inner();
    state.lr = schedule ? schedule(Math.max(t - 1, 0)) : opt.hp.lr;
    return state;
  }

  // ------------------------------------------------------------------------------------------ labels
  const RULE =
    "diverges: a value becomes non-finite or θ leaves the plot window by more than 10 window widths; " +
    "oscillates if it erupts: in the second half of the run f − f_min leaps above 100 × its lowest value so " +
    "far and above 10⁻⁶ of its start; " +
    "converges: ‖∇f‖ at the end ≤ 10⁻⁴ × its largest value along the run and θ moved less than 10⁻⁵ of " +
    "the window's width over the last tenth of the updates (it arrived at a point of zero slope and stays); " +
    "oscillates: otherwise, if the loss went up on at least a quarter of the updates of the second half; " +
    "stalls: otherwise (still crawling: too slow to arrive, or creeping onto a flat saddle).";

  function classify(run, extent) {
    const n = run.steps + 1;
    const w = Math.max(extent[1] - extent[0], extent[3] - extent[2]);
    let gMax = 0;
    for (let t = 0; t < n; t++) {
      const x = run.xs[t], y = run.ys[t], f = run.loss[t], g = run.gnorm[t];
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(f) || !Number.isFinite(g)) return "diverges";
      if (x < extent[0] - 10 * w || x > extent[1] + 10 * w || y < extent[2] - 10 * w || y > extent[3] + 10 * w) return "diverges";
      if (g > gMax) gMax = g;
    }
    // an eruption (Adagrad's root mean square, S3): the loss leaps far above where it had already been
    let fMin = Infinity;
    for (let t = 0; t < n; t++) if (run.loss[t] < fMin) fMin = run.loss[t];
    const floor = 1e-6 * (run.loss[0] - fMin);
    let lowest = Infinity;
    for (let t = 0; t < n; t++) {
      const gap = run.loss[t] - fMin;
      if (t > n / 2 && gap > floor && gap > 100 * lowest) return "oscillates";
      if (gap < lowest) lowest = gap;
    }
    const tenth = Math.max(0, n - 1 - Math.ceil((n - 1) / 10));
    const moved = Math.hypot(run.xs[n - 1] - run.xs[tenth], run.ys[n - 1] - run.ys[tenth]);
    if (run.gnorm[n - 1] <= 1e-4 * gMax && moved <= 1e-5 * w) return "converges";
    const half = Math.floor(n / 2);
    let ups = 0;
    for (let t = half + 1; t < n; t++) if (run.loss[t] > run.loss[t - 1]) ups++;
    if (n - half - 1 > 0 && ups >= 0.25 * (n - half - 1)) return "oscillates";
    return "stalls";
  }

  const api = { lerp, makeOptimizer, makeSchedule, simulate, innerState, classify, RULE };
  root.OptlabCore = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
