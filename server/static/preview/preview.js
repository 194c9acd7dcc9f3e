/* Operator preview: keep the "on screen now" image in step with the screen, by the server's clock.
 * Each change time comes from the server (the resolver); the page only waits for it and asks again. */
(() => {
  "use strict";
  const img = document.getElementById("now-image");
  if (!img || img.dataset.live !== "1") return;
  const offset = Number(img.dataset.serverMs) - Date.now();
  const caption = document.getElementById("now-caption");

  function wait(until) {
    const ms = Math.max(250, until - (Date.now() + offset));
    setTimeout(refresh, Math.min(ms, 60000)); // at least once a minute, in case the content was changed
  }

  async function refresh() {
    try {
      const r = await fetch(img.dataset.nowUrl, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const now = await r.json();
      if (img.getAttribute("src") !== now.url) {
        img.src = now.url;
        img.width = now.width;
        img.height = now.height;
        const strong = caption && caption.querySelector("strong");
        if (strong) {
          strong.dataset.item = now.item;
          strong.textContent = now.name;
        }
        document.body.dataset.previewItem = now.item;
      }
      // Why it shows and until when, in the page's language as the server words them.
      for (const [id, text] of [["now-why", now.why], ["now-until", now.until]]) {
        const el = document.getElementById(id);
        if (el && text) el.textContent = text;
      }
      wait(Date.parse(now.end));
    } catch (err) {
      setTimeout(refresh, 10000);
    }
  }

  wait(Number(img.dataset.until));
})();
