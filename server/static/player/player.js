/* Bluezone web player: follows a screen's manifest by the server's clock, offline first.
 *
 * Plain JavaScript, no build step. The device token comes from the URL fragment (#token=...) or
 * localStorage and is sent only in the Authorization header, never in a URL. See docs/PLAYERS.md.
 */
(() => {
  "use strict";

  const body = document.body;
  const VERSION = body.dataset.version;
  const PREVIEW = body.dataset.preview === "1";
  const PAGE_SCREEN = body.dataset.screen || "";
  const HEARTBEAT_S = 60;
  const FLUSH_S = 10;             // a batch of plays at most this often while things go well
  const MAX_BATCH = 500;          // the server's limit per batch
  const RETRY_MIN_S = 2;
  const RETRY_MAX_S = 60;
  const FETCH_TIMEOUT_MS = 10000; // a hanging network must not stall the poll loop

  // What tests and people at the screen can inspect: window.signagePlayer.
  const status = {
    version: VERSION, screen: PAGE_SCREEN, preview: PREVIEW, item: null, swaps: [], offsetMs: 0,
    clockExact: false, polls: 0, answers: {}, pollLog: [], offline: false, offlineReady: false, failed: [], sent: 0,
  };
  window.signagePlayer = status;

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const backoff = (attempt) => Math.min(RETRY_MAX_S, RETRY_MIN_S * 2 ** attempt) * 1000 * (0.75 + Math.random() / 2);

  function randomId(bytes) {
    // crypto.getRandomValues works in insecure contexts too (unlike crypto.randomUUID).
    const a = crypto.getRandomValues(new Uint8Array(bytes));
    return btoa(String.fromCharCode(...a)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function setState(state) {
    body.dataset.state = state;
  }

  function showMessage(text) {
    $("message").textContent = text;
    $("message").hidden = !text;
  }

  // ---- the device token: fragment -> storage, never in a URL sent to the server ----

  // A preview is an operator looking at a screen: the token must not outlive the tab.
  const tokenStore = PREVIEW ? sessionStorage : localStorage;
  const tokenKey = (id) => `signage.token.${id}`;

  /** Move #token=... into storage and off the address bar; returns nothing. */
  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has("token")) return;
    const token = params.get("token").trim();
    if (token && PAGE_SCREEN) tokenStore.setItem(tokenKey(PAGE_SCREEN), token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }

  const readToken = () => (PAGE_SCREEN ? tokenStore.getItem(tokenKey(PAGE_SCREEN)) : null);

  async function fetchWithTimeout(url, options = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      return await fetch(url, { ...options, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  function api(path, token, options = {}) {
    if (token === SESSION) {
      // An operator's preview without a device token: the console session (a cookie) opens the preview's
      // copy of the manifest instead; the cookie is the only credential, so nothing secret is in the URL.
      return fetchWithTimeout(path, { ...options, cache: "no-store", credentials: "same-origin" });
    }
    const headers = { ...(options.headers || {}), Authorization: `Bearer ${token}` };
    return fetchWithTimeout(path, { ...options, headers, cache: "no-store", credentials: "omit" });
  }

  // Stands for "no token: use the console session" (previews only).
  const SESSION = Symbol("session");

  // ---- the server's clock ----

  /* serverNow() = Date.now() + offset. Each manifest answer carries X-Server-Time (ms); the sample with the
   * shortest round trip among the last few is the most exact (NTP's rule). The offset is kept in storage so
   * a player that restarts offline with a wrong clock still plays in step. */
  const clock = {
    offset: Number(localStorage.getItem("signage.clock-offset-ms")) || 0,
    samples: [],
    now() {
      return Date.now() + this.offset;
    },
    /** True while no sample is exact enough: a slow answer (a manifest being built) says little of the time. */
    get rough() {
      return !this.samples.length || Math.min(...this.samples.map((s) => s.rtt)) > 300;
    },
    sample(serverMs, sentAt, receivedAt) {
      if (!Number.isFinite(serverMs)) return;
      this.samples.push({ rtt: receivedAt - sentAt, offset: serverMs - (sentAt + receivedAt) / 2 });
      this.samples = this.samples.slice(-5);
      const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
      this.offset = Math.round(best.offset);
      status.offsetMs = this.offset;
      status.clockExact = !this.rough;
      localStorage.setItem("signage.clock-offset-ms", String(this.offset));
    },
  };
  status.offsetMs = clock.offset;

  // ---- proof of play: IndexedDB queue, sent in batches with retry ----

  const queue = {
    db: null,
    memory: new Map(), // used when IndexedDB is unavailable (some private modes)
    async open() {
      try {
        this.db = await new Promise((resolve, reject) => {
          const req = indexedDB.open("signage-player", 1);
          req.onupgradeneeded = () => req.result.createObjectStore("plays", { keyPath: "id" });
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      } catch (err) {
        console.warn("IndexedDB unavailable; plays are kept in memory only", err);
      }
    },
    run(mode, work) {
      return new Promise((resolve, reject) => {
        const tx = this.db.transaction("plays", mode);
        const result = work(tx.objectStore("plays"));
        tx.oncomplete = () => resolve(result.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    },
    add(record) {
      if (!this.db) return Promise.resolve(this.memory.set(record.id, record));
      return this.run("readwrite", (store) => store.put(record));
    },
    take(n) {
      if (!this.db) return Promise.resolve([...this.memory.values()].slice(0, n));
      return this.run("readonly", (store) => store.getAll(null, n));
    },
    remove(ids) {
      if (!this.db) return Promise.resolve(ids.forEach((id) => this.memory.delete(id)));
      return this.run("readwrite", (store) => {
        ids.forEach((id) => store.delete(id));
        return { result: undefined };
      });
    },
    count() {
      if (!this.db) return Promise.resolve(this.memory.size);
      return this.run("readonly", (store) => store.count());
    },
  };

  const reporter = {
    token: null,
    attempt: 0,
    timer: null,
    busy: false,
    schedule(ms) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), ms);
    },
    /** Send what is queued, one batch after another; on failure keep it and try again later. */
    async flush() {
      if (this.busy || !this.token) return;
      this.busy = true;
      let delay = FLUSH_S * 1000;
      try {
        for (;;) {
          const batch = await queue.take(MAX_BATCH);
          if (!batch.length) break;
          const r = await api(`/api/v1/screens/${encodeURIComponent(PAGE_SCREEN)}/plays`, this.token, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ plays: batch }),
          });
          if (r.status === 400) {
            // A record the server will never take would block the queue forever: drop this batch, say so.
            console.error("plays batch refused", await r.text());
          } else if (r.status !== 202) {
            // A busy server (503) says when to come back: no sooner, so that it can recover.
            const wait = Number(r.headers.get("Retry-After")) || 0;
            throw Object.assign(new Error(`plays: HTTP ${r.status}`), { retryAfterMs: wait * 1000 });
          }
          await queue.remove(batch.map((p) => p.id));
          status.sent += batch.length;
          this.attempt = 0;
        }
      } catch (err) {
        delay = Math.max(backoff(this.attempt++), err.retryAfterMs || 0);
      } finally {
        this.busy = false;
        this.schedule(delay);
      }
    },
  };

  /** Queue one finished play; short cuts (under 50 ms) are not worth a record. */
  async function recordPlay(play, endMs) {
    const duration = (endMs - play.startMs) / 1000;
    if (PREVIEW || duration < 0.05) return;
    await queue.add({
      id: play.id, item: play.item, sha256: play.sha256,
      started_at: new Date(play.startMs).toISOString(), duration_s: Math.round(duration * 1000) / 1000,
    });
  }

  // ---- media: prefetched into the service worker's cache, skipped while they fail ----

  const media = {
    state: new Map(), // url -> {ok: bool, retryAt: ms, attempt}
    usable(url) {
      const s = this.state.get(url);
      return !s || s.ok || Date.now() >= s.retryAt;
    },
    failed(url) {
      const s = this.state.get(url) || { attempt: 0 };
      this.state.set(url, { ok: false, attempt: s.attempt + 1, retryAt: Date.now() + backoff(s.attempt) });
      status.failed = [...this.state].filter(([, v]) => !v.ok).map(([k]) => k);
    },
    loaded(url) {
      this.state.set(url, { ok: true, attempt: 0, retryAt: 0 });
      status.failed = [...this.state].filter(([, v]) => !v.ok).map(([k]) => k);
    },
    /** Fetch every item once (the service worker keeps them); true when all arrived whole. */
    async prefetch(items) {
      let all = true;
      for (const item of items) {
        if (!this.usable(item.url)) {
          all = false; // failed a moment ago: its retry time has not come
          continue;
        }
        try {
          const r = await fetchWithTimeout(item.url);
          const blob = await r.blob();
          if (!r.ok || blob.size !== item.bytes) throw new Error(`${item.url}: HTTP ${r.status}, ${blob.size} bytes`);
          this.loaded(item.url);
        } catch (err) {
          all = false;
          this.failed(item.url);
        }
      }
      return all;
    },
  };

  // ---- the screen: two stacked images, the hidden one decoded before it is shown ----

  const screen = {
    layers: [$("layer-a"), $("layer-b")],
    front: 0,
    url: null,         // what is on screen
    preparing: null,   // {url, promise} of the back layer
    get back() {
      return this.layers[1 - this.front];
    },
    layout(width, height) {
      const stage = $("stage");
      const dpr = window.devicePixelRatio || 1;
      // Exact pixels when the window has the panel's size; otherwise scaled to fit, aspect kept, centred.
      const w = width / dpr;
      const h = height / dpr;
      const scale = Math.min(window.innerWidth / w, window.innerHeight / h);
      stage.style.width = `${w}px`;
      stage.style.height = `${h}px`;
      stage.style.left = `${Math.round((window.innerWidth - w * scale) / 2)}px`;
      stage.style.top = `${Math.round((window.innerHeight - h * scale) / 2)}px`;
      stage.style.transform = scale === 1 ? "none" : `scale(${scale})`;
      stage.classList.toggle("pixelated", scale >= 2);
    },
    /** Load url into the back layer and decode it; resolves true when it can be shown at once. */
    prepare(url) {
      if (this.preparing && this.preparing.url === url) return this.preparing.promise;
      const img = this.back;
      img.classList.remove("shown");
      const promise = new Promise((resolve) => {
        img.onerror = () => resolve(false);
        img.dataset.url = url;
        img.src = url;
        img.decode().then(() => resolve(true), () => resolve(false));
      }).then((ok) => {
        // Another image took this layer meanwhile: that is no failure of this one.
        if (img.dataset.url !== url) return false;
        if (ok) media.loaded(url);
        else media.failed(url);
        return ok;
      });
      this.preparing = { url, promise };
      return promise;
    },
    /** Put the prepared back layer on top; the old one is hidden a frame later, so no frame is ever empty. */
    swap(url) {
      const old = this.layers[this.front];
      const next = this.back;
      next.style.zIndex = "2";
      old.style.zIndex = "1";
      next.classList.add("shown");
      this.front = 1 - this.front;
      this.url = url;
      this.preparing = null;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        if (this.layers[this.front] !== old) old.classList.remove("shown");
      }));
    },
  };

  // ---- following the timeline ----

  const player = {
    token: null,
    manifest: null,
    etag: null,
    fromMs: 0,
    play: null,     // {id, item, sha256, url, startMs, endMs}
    timer: null,
    seq: 0,

    starts: null,   // starts[k]: ms from "from" where timeline entry k begins; starts[n] is the end

    entryAt(ms) {
      const t = ms - this.fromMs;
      const starts = this.starts;
      const n = starts.length - 1;
      if (n < 1 || t < 0 || t >= starts[n]) return -1;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= t) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    },
    entry(i) {
      const item = this.manifest.items[this.manifest.timeline[i][1]];
      return { i, item, startMs: this.fromMs + this.starts[i], endMs: this.fromMs + this.starts[i + 1] };
    },
    /** The next entry after i whose image differs from the one on screen then: what to decode ahead. */
    nextDifferent(i) {
      const tl = this.manifest.timeline;
      const url = this.manifest.items[tl[i][1]].url;
      for (let j = i + 1; j < tl.length && j < i + 50; j++) {
        const e = this.entry(j);
        if (e.item.url !== url && media.usable(e.item.url)) return e;
      }
      return null;
    },
    /** Play this manifest from now on. Entries are [duration_ms, item, source], back to back from "from". */
    apply(manifest) {
      const starts = new Float64Array(manifest.timeline.length + 1);
      manifest.timeline.forEach((entry, k) => {
        starts[k + 1] = starts[k] + entry[0];
      });
      this.manifest = manifest;
      this.starts = starts;
      this.fromMs = Date.parse(manifest.from);
      screen.layout(manifest.profile.width, manifest.profile.height);
      this.tick();
    },

    /** Show what the timeline says for now, and set a timer for the end of that entry. */
    async tick() {
      clearTimeout(this.timer);
      if (!this.manifest) return;
      const seq = ++this.seq;
      const now = clock.now();
      const i = this.entryAt(now);
      if (i < 0) {
        // Beyond the 48 hours of the last manifest (or a clock far off): keep the last image, ask again soon.
        showMessage(this.play ? "" : "…");
        this.timer = setTimeout(() => this.tick(), 5000);
        return;
      }
      const e = this.entry(i);
      const same = this.play && this.play.due === e.startMs && this.play.item === e.item.key;
      if (!same) await this.show(e, now, seq);
      if (seq !== this.seq) return;
      this.timer = setTimeout(() => this.tick(), Math.max(0, e.endMs - clock.now()));
      const next = this.nextDifferent(i);
      if (next && next.item.url !== screen.url) screen.prepare(next.item.url);
    },

    async show(e, now, seq) {
      const url = e.item.url;
      if (screen.url !== url) {
        if (!media.usable(url) || !(await screen.prepare(url))) {
          // Skipped: the image on screen stays (never a broken one); the item is tried again later.
          this.finishPlay(now);
          this.play = null;
          return;
        }
        if (seq !== this.seq) return;
        now = clock.now();
        screen.swap(url);
      }
      this.finishPlay(now);
      this.play = { id: `${Date.now().toString(36)}.${randomId(12)}`, item: e.item.key, sha256: e.item.sha256,
                    startMs: now, due: e.startMs, endMs: e.endMs };
      const first = status.item === null;
      status.item = e.item.key;
      if (first && !PREVIEW) heartbeat(); // the first one says what is on screen
      body.dataset.item = e.item.key;
      status.swaps.push({ item: e.item.key, at: now, due: e.startMs, local: Date.now() });
      if (status.swaps.length > 200) status.swaps.shift();
      showMessage("");
      setState("playing");
    },

    finishPlay(now) {
      if (!this.play) return;
      const end = Math.min(now, this.play.endMs);
      // While reports go through, each play is sent at once; after a failure the reporter's backoff decides.
      recordPlay(this.play, end).then(() => reporter.attempt || reporter.schedule(0),
        (err) => console.warn("play not kept", err));
    },
  };

  // ---- polling the manifest ----

  const poller = {
    timer: null,
    attempt: 0,
    schedule(seconds) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.poll(), seconds * 1000);
    },
    /** Poll after poll_after_s plus up to a fifth of it at random, so thousands of players spread out. */
    quick: 0,
    scheduleNext() {
      // A few early polls while the clock is rough: a quick 304 is the exact time sample the player needs.
      if (clock.rough && this.quick < 3) {
        this.quick += 1;
        return this.schedule(0.5 + Math.random() * 0.5);
      }
      const base = player.manifest ? player.manifest.poll_after_s : 30;
      this.schedule(base + Math.random() * Math.max(1, base / 5));
    },
    async poll() {
      // Without a kept copy in the service worker, ask for the whole manifest so that the worker keeps one.
      const conditional = player.etag && (!navigator.serviceWorker?.controller || await keptOffline([manifestUrl()]));
      const headers = conditional ? { "If-None-Match": player.etag } : {};
      const sentAt = Date.now();
      let r;
      try {
        r = await api(manifestUrl(), player.token, { headers });
      } catch (err) {
        status.pollLog = [...status.pollLog.slice(-49), { sentAt, status: 0, error: String(err) }];
        return this.failed("network unreachable");
      }
      status.polls += 1;
      const fromCache = r.headers.get("X-Signage-From-Cache") === "1";
      status.offline = fromCache;
      if (!fromCache) {
        status.answers[r.status] = (status.answers[r.status] || 0) + 1;
        status.pollLog = [...status.pollLog.slice(-49), { sentAt, status: r.status }];
        // A cached answer carries the old server time: only a live one sets the clock.
        const before = clock.offset;
        clock.sample(Number(r.headers.get("X-Server-Time")), sentAt, Date.now());
        // The timer of the item on screen was set by the old clock: set it again by the new one.
        if (Math.abs(clock.offset - before) > 20 && r.status === 304) player.tick();
        // Back online: send what was kept offline now rather than at the end of a long backoff.
        if (reporter.attempt > 0) reporter.schedule(0);
      }
      if (r.status === 200) {
        const manifest = await r.json();
        player.etag = r.headers.get("ETag");
        player.apply(manifest);
        if (!fromCache) this.afterFresh(manifest);
      } else if (r.status === 401 || r.status === 404) {
        return this.unauthorised();
      } else if (r.status !== 304) {
        return this.failed(`HTTP ${r.status}`, Number(r.headers.get("Retry-After")) || 0);
      }
      this.attempt = 0;
      this.scheduleNext();
    },
    /** After a fresh manifest: fetch what it needs, then check that the service worker really keeps all of it
     * (what was fetched before the worker took over is not kept), and try again in a while if not. */
    async afterFresh(manifest) {
      const controlled = Boolean(navigator.serviceWorker && navigator.serviceWorker.controller);
      if (controlled) await cacheShell();
      await media.prefetch(manifest.items);
      if (manifest !== player.manifest) return;
      const kept = controlled && await keptOffline([manifestUrl(), ...manifest.items.map((i) => i.url)]);
      status.offlineReady = kept;
      body.dataset.offline = kept ? "ready" : "not-ready";
      this.keepAttempt = kept ? 0 : (this.keepAttempt || 0) + 1;
      if (!kept) setTimeout(() => manifest === player.manifest && this.afterFresh(manifest), backoff(this.keepAttempt - 1));
    },
    failed(reason, retryAfter = 0) {
      status.offline = true;
      if (!player.manifest) showMessage(`Đang kết nối… · Connecting… (${reason})`);
      this.schedule(retryAfter || Math.min(backoff(this.attempt++) / 1000, player.manifest?.poll_after_s || 30));
    },
    unauthorised() {
      // The token was replaced (re-paired or reissued): keep playing what we have; pair if there is nothing.
      if (!player.manifest) return pairing.start();
      showMessage("");
      this.scheduleNext();
    },
  };

  const manifestUrl = () => (player.token === SESSION
    ? `/preview/screens/${encodeURIComponent(PAGE_SCREEN)}/manifest`
    : `/api/v1/screens/${encodeURIComponent(PAGE_SCREEN)}/manifest`);

  /** True when the service worker's caches hold every one of urls (the page can read them, not change them). */
  async function keptOffline(urls) {
    if (!("caches" in window)) return false;
    const found = await Promise.all(urls.map((url) => caches.match(new URL(url, location.href).href)));
    return found.every(Boolean);
  }

  /** Fetch this page, its script and style through the service worker, which keeps them for offline reloads
   * (the first load happened before the worker was in charge). Failures are left to the next manifest. */
  async function cacheShell() {
    const urls = [location.pathname + location.search, $("player-js").src, $("player-css").href];
    await Promise.all(urls.map((url) => fetchWithTimeout(url, { cache: "no-cache" }).catch(() => null)));
  }

  // ---- heartbeats ----

  async function heartbeat() {
    try {
      await api(`/api/v1/screens/${encodeURIComponent(PAGE_SCREEN)}/heartbeat`, player.token, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          version: VERSION, item: status.item || "", manifest_etag: player.etag || "",
          clock_offset_ms: clock.offset, pending_plays: await queue.count(), offline_ready: status.offlineReady,
          window: `${window.innerWidth}x${window.innerHeight}@${window.devicePixelRatio || 1}`,
        }),
      });
    } catch (err) {
      // Offline: the next one will tell.
    }
    setTimeout(heartbeat, HEARTBEAT_S * 1000 * (0.9 + Math.random() / 5));
  }

  // ---- pairing: a short code on screen, approved by staff, then the token arrives ----

  const pairing = {
    running: false,
    async start() {
      if (this.running) return;
      this.running = true;
      setState("pairing");
      $("stage").hidden = true;
      $("pairing").hidden = false;
      for (;;) {
        try {
          if (await this.once()) return;
        } catch (err) {
          $("pair-code").textContent = "…";
          $("pair-hint").textContent = "Đang kết nối… · Connecting…";
          await sleep(5000);
        }
      }
    },
    /** One pairing code until it is claimed (navigates away, true) or expires (false). */
    async once() {
      const secret = randomId(32);
      const r = await fetchWithTimeout("/api/v1/pairings", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ secret }),
        cache: "no-store", credentials: "omit",
      });
      if (r.status !== 201) throw new Error(`pairing: HTTP ${r.status}`);
      const p = await r.json();
      $("pair-code").textContent = p.code;
      $("pair-qr").src = `/api/v1/pairings/${encodeURIComponent(p.code)}/qr.png`;
      // Staff approve on the console's pairing page (the QR leads there); no shell needed.
      $("pair-hint").textContent = `Duyệt mã tại · Approve at ${new URL(p.approve_url, location.href)}`;
      body.dataset.pairCode = p.code;
      const expires = Date.now() + p.expires_in_s * 1000;
      while (Date.now() < expires) {
        await sleep((p.poll_after_s || 3) * 1000);
        let c;
        try {
          c = await fetchWithTimeout(`/api/v1/pairings/${encodeURIComponent(p.code)}/claim`, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ secret }),
            cache: "no-store", credentials: "omit",
          });
        } catch (err) {
          continue; // offline for a moment: the code is still valid
        }
        if (c.status === 404) return false;
        if (c.status === 200) {
          const { screen_id: id, token } = await c.json();
          localStorage.setItem(tokenKey(id), token);
          location.replace(`/player/${encodeURIComponent(id)}`);
          return true;
        }
      }
      return false;
    },
  };

  // ---- start ----

  function registerServiceWorker() {
    if (!("serviceWorker" in navigator)) return; // plain http on a LAN address: no offline (docs/PLAYERS.md)
    navigator.serviceWorker.register(body.dataset.sw, { scope: "/player/" }).catch((err) => {
      console.warn("service worker not registered; no offline playback", err);
    });
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      // The worker now sees our requests: the next poll gives it the manifest to keep.
      if (player.token && player.manifest) poller.schedule(0);
    });
  }

  async function start() {
    takeTokenFromFragment();
    registerServiceWorker();
    player.token = readToken() || (PREVIEW ? SESSION : null);
    reporter.token = PREVIEW ? null : player.token;
    if (!player.token) return pairing.start();
    window.addEventListener("resize", () => player.manifest &&
      screen.layout(player.manifest.profile.width, player.manifest.profile.height));
    window.addEventListener("pagehide", () => player.finishPlay(clock.now()));
    await queue.open();
    await poller.poll();
    if (!PREVIEW) reporter.schedule(0);
  }

  start();
})();
