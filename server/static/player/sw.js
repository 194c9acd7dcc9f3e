/* Service worker of the web player (scope /player/): what lets a screen play on with the server gone.
 *
 * - the page and its script: network first, the last good copy when the server cannot be reached;
 * - the manifest: network first; every 200 is kept; offline, the kept one is answered (a 304 when the
 *   player already has it) with X-Signage-From-Cache: 1 so that the player does not take its old
 *   X-Server-Time for the current one;
 * - media (/media/<sha256>.<ext>, immutable): cache first, kept for as long as a kept manifest names them.
 */
"use strict";

const SHELL = "signage-shell-v1";
const MANIFESTS = "signage-manifests-v1";
const MEDIA = "signage-media-v1";
const KEEP = [SHELL, MANIFESTS, MEDIA];
const NETWORK_TIMEOUT_MS = 8000;
const MANIFEST_PATH = /^\/api\/v1\/screens\/[^/]+\/manifest$/;

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (!KEEP.includes(name)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return;
  if (url.pathname.startsWith("/media/")) event.respondWith(mediaFirstFromCache(request));
  else if (MANIFEST_PATH.test(url.pathname)) event.respondWith(manifest(request));
  else if (url.pathname.startsWith("/player/") || url.pathname.startsWith("/static/player/")) {
    event.respondWith(shell(request));
  }
});

/** fetch() that gives up after NETWORK_TIMEOUT_MS: a half-dead network must not freeze the player. */
function fetchSoon(request) {
  return Promise.race([
    fetch(request),
    new Promise((_, reject) => setTimeout(() => reject(new Error("network timeout")), NETWORK_TIMEOUT_MS)),
  ]);
}

async function shell(request) {
  const cache = await caches.open(SHELL);
  try {
    const response = await fetchSoon(request);
    if (response.ok) await cache.put(request.url, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(request.url);
    if (kept) return kept;
    throw err;
  }
}

/** A response holding only the headers the player reads; the body of a cached response is already decoded. */
function offlineCopy(kept, status) {
  const headers = new Headers({ "X-Signage-From-Cache": "1", "Cache-Control": "no-cache" });
  for (const name of ["Content-Type", "ETag"]) {
    if (kept.headers.has(name)) headers.set(name, kept.headers.get(name));
  }
  return status === 304 ? new Response(null, { status, headers }) : new Response(kept.body, { status, headers });
}

async function manifest(request) {
  const cache = await caches.open(MANIFESTS);
  let response;
  try {
    response = await fetchSoon(request);
  } catch (err) {
    response = null;
  }
  if (response && response.status === 200) {
    const copy = offlineCopy(response.clone(), 200);
    copy.headers.delete("X-Signage-From-Cache");
    await cache.put(request.url, copy);
    pruneMedia();
    return response;
  }
  // Wrong tokens (401/404) and "not modified" go to the player as they are; it decides.
  if (response && response.status < 500) return response;
  const kept = await cache.match(request.url);
  if (!kept) return response || Response.error();
  const etag = kept.headers.get("ETag");
  const asked = request.headers.get("If-None-Match") || "";
  return offlineCopy(kept, etag && asked.includes(etag) ? 304 : 200);
}

async function mediaFirstFromCache(request) {
  const cache = await caches.open(MEDIA);
  const kept = await cache.match(request.url);
  if (kept) return kept;
  const response = await fetchSoon(request);
  // Only whole, successful answers are kept; a 404 or a cut download is fetched again next time.
  if (response.status === 200) await cache.put(request.url, response.clone());
  return response;
}

/** Drop media that no kept manifest names any more, so months of campaigns do not fill the disk. */
async function pruneMedia() {
  const manifests = await caches.open(MANIFESTS);
  const needed = new Set();
  for (const key of await manifests.keys()) {
    try {
      const doc = await (await manifests.match(key)).json();
      for (const item of doc.items) needed.add(new URL(item.url, self.location.origin).href);
    } catch (err) {
      return; // an unreadable manifest: better keep everything than drop what it needs
    }
  }
  const media = await caches.open(MEDIA);
  for (const key of await media.keys()) {
    if (!needed.has(key.url)) await media.delete(key);
  }
}
