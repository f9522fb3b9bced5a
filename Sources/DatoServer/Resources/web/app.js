// The dato web page: calls the same /sdapi/v1 API as any AUTOMATIC1111 client.
"use strict";
const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function errorText(body, status) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".") || "body"}: ${d.msg}`).join("; ");
  }
  if (body && body.detail) return String(body.detail);
  return `HTTP ${status}`;
}

async function init() {
  try {
    const [samplers, schedulers, options] = await Promise.all([
      getJSON("/sdapi/v1/samplers"), getJSON("/sdapi/v1/schedulers"), getJSON("/sdapi/v1/options")]);
    for (const s of samplers) $("sampler_name").add(new Option(s.name, s.name));
    $("sampler_name").value = "Euler";
    for (const s of schedulers) $("scheduler").add(new Option(s.label, s.name));
    $("model").textContent = `${options.sd_model_checkpoint} · default plan ${options.dato_accel}`;
    if (options.dato_native_size) { $("width").value = options.dato_native_size; $("height").value = options.dato_native_size; }
    showCost();
  } catch (e) {
    setStatus(`cannot reach the server: ${e.message}`, true);
  }
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function request() {
  const accel = $("accel").value.trim() || $("preset").value;
  const body = {
    prompt: $("prompt").value, negative_prompt: $("negative_prompt").value,
    width: Number($("width").value), height: Number($("height").value), steps: Number($("steps").value),
    cfg_scale: Number($("cfg_scale").value), seed: Number($("seed").value),
    sampler_name: $("sampler_name").value, scheduler: $("scheduler").value,
  };
  if (accel) body.accel = accel;
  return body;
}

// What the chosen plan keeps of the UNet's MACs, before generating (the caching part; pruning is measured).
let costTimer = null;
function showCost() {
  clearTimeout(costTimer);
  costTimer = setTimeout(async () => {
    const b = request();
    const fields = { steps: b.steps, width: b.width, height: b.height, sampler_name: b.sampler_name, scheduler: b.scheduler };
    if (b.accel) fields.accel = b.accel;
    // encodeURIComponent, not URLSearchParams: a plan's "+" must stay "+" and spaces become %20.
    const q = Object.entries(fields).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    const r = await fetch(`/dato/v1/plan-cost?${q}`);
    const body = await r.json().catch(() => null);
    const el = $("cost");
    el.className = r.ok ? "" : "error";
    if (!r.ok) { el.textContent = errorText(body, r.status); return; }
    const pct = (100 * body.caching_mac_ratio).toFixed(1);
    const saving = body.caching_mac_ratio < 1 ? `caching runs ${pct}% of the full model's UNet MACs (${(1 / body.caching_mac_ratio).toFixed(2)}x fewer)` : "every UNet call in full";
    el.textContent = `${body.plan}: ${saving}` + (body.pruning !== "none" ? `; pruning ${body.pruning} saves more (measured per image)` : "");
  }, 200);
}
for (const id of ["preset", "accel", "steps", "width", "height", "sampler_name", "scheduler"]) $(id).addEventListener("input", showCost);

let polling = null;
function pollProgress() {
  polling = setInterval(async () => {
    try {
      const p = await getJSON("/sdapi/v1/progress");
      $("progress").value = p.progress;
      const s = p.state;
      if (s.sampling_steps) setStatus(`step ${s.sampling_step}/${s.sampling_steps}, about ${p.eta_relative.toFixed(1)} s left`);
    } catch (e) { /* the next poll tries again */ }
  }, 250);
}

function addResult(image, infotext, info) {
  const fig = document.createElement("figure");
  const img = document.createElement("img");
  img.src = `data:image/png;base64,${image}`;
  img.alt = info.prompt;
  const link = document.createElement("a");
  link.href = img.src;
  link.download = `dato-${info.seed}.png`;
  link.textContent = "download";
  const cap = document.createElement("figcaption");
  const ratio = info.dato_mac_ratio != null ? `\nPlan: ${info.dato_plan} (${(100 * info.dato_mac_ratio).toFixed(1)}% of the full model's MACs)` : "";
  const t = info.dato_timings || {};
  cap.textContent = `${infotext}${ratio}\nTime: ${(t.total_seconds || 0).toFixed(2)} s`;
  fig.append(img, cap, link);
  $("gallery").prepend(fig);
}

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("generate").disabled = true;
  $("progress").value = 0;
  setStatus("queued…");
  pollProgress();
  try {
    const r = await fetch("/sdapi/v1/txt2img", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()) });
    const body = await r.json().catch(() => null);
    if (!r.ok) { setStatus(errorText(body, r.status), true); return; }
    const info = JSON.parse(body.info);
    body.images.forEach((image, i) => addResult(image, info.infotexts[i] || "", info));
    $("progress").value = 1;
    setStatus(info.dato_interrupted ? "interrupted" : `done: ${body.images.length} image(s)`);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    clearInterval(polling);
    $("generate").disabled = false;
  }
});

$("interrupt").addEventListener("click", () => fetch("/sdapi/v1/interrupt", { method: "POST" }));
init();
