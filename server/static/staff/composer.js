// Poster composer: redraw the previews a moment after the person stops typing; only the latest answer counts.
"use strict";
(() => {
  const form = document.getElementById("composer");
  const box = document.getElementById("previews");
  const status = document.querySelector(".preview-status");
  const defaults = JSON.parse(form.dataset.defaults);
  const DELAY_MS = 400;
  let timer = null;
  let pending = null;

  // Empty fields take the official text: show it greyed, for the chosen template and language.
  // (form.lang would be the form's own lang attribute, so fields are looked up by name.)
  const field = (name) => form.elements.namedItem(name);

  function placeholders() {
    const copy = defaults[`${field("template").value}/${field("lang").value}`] || {};
    for (const name of ["headline", "body", "cta", "footer"]) field(name).placeholder = copy[name] || "";
  }

  function figure(p) {
    const fig = document.createElement("figure");
    fig.className = "preview";
    fig.dataset.profile = p.profile;
    const caption = document.createElement("figcaption");
    caption.textContent = `${p.profile} · ${p.width}×${p.height}`;
    const note = document.createElement("p");
    if (p.error) {
      fig.classList.add("bad");
      note.textContent = `${box.dataset.refused} ${p.error}`;
    } else {
      const img = document.createElement("img");
      img.src = p.image;
      img.alt = p.report;
      img.title = p.report;
      if (p.width < 400) img.classList.add("pixelated");
      fig.append(img);
      fig.classList.add(p.qr_ok ? "ok" : "warn");
      fig.dataset.qr = p.qr_ok ? "ok" : "none";
      let text = p.qr_ok ? box.dataset.qrOk : box.dataset.qrNone;
      if (p.qr_ok && p.scan_m) text += ", " + box.dataset.scan.replace("{m}", p.scan_m.toFixed(1));
      if (p.dropped.length) text += `; ${box.dataset.dropped} ${p.dropped.join(", ")}`;
      note.textContent = text;
    }
    fig.append(caption, note);
    return fig;
  }

  async function refresh() {
    if (pending) pending.abort();
    const controller = pending = new AbortController();
    status.textContent = status.dataset.busy;
    const fields = new FormData(form);
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST", body: fields, signal: controller.signal,
        headers: {"X-CSRFToken": window.consoleCsrf(), "Accept": "application/json"},
      });
      const answer = await response.json();
      if (controller !== pending) return;
      if (!response.ok) {
        status.textContent = `${status.dataset.failed} ${answer.message}`;
        return;
      }
      box.replaceChildren(...answer.previews.map(figure));
      status.textContent = "";
      // Which headline the previews show: lets a test (or a curious person) tell an old preview from a new one.
      box.dataset.headline = fields.get("headline");
    } catch (err) {
      if (err.name !== "AbortError") status.textContent = `${status.dataset.failed} ${err.message}`;
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY_MS);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", () => { placeholders(); later(); });
  placeholders();
  refresh();
})();
