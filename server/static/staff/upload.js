// Drag-and-drop upload: each file goes on its own request, so each gets its own progress bar and answer.
"use strict";
(() => {
  const form = document.getElementById("upload");
  const list = document.getElementById("uploads");
  const row = document.getElementById("upload-row");
  const input = form.querySelector("input[type=file]");
  const text = form.dataset;

  function send(file) {
    const item = row.content.firstElementChild.cloneNode(true);
    const bar = item.querySelector("progress");
    const state = item.querySelector(".state");
    item.querySelector(".name").textContent = file.name;
    list.append(item);
    const body = new FormData();
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("X-CSRFToken", window.consoleCsrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch { /* an HTML error page: said below by status */ }
      if (xhr.status === 200 || xhr.status === 201) {
        bar.value = 100;
        item.classList.add("ok");
        item.dataset.sha256 = answer.sha256;
        state.textContent = `${xhr.status === 201 ? text.done : text.again} (${answer.width}×${answer.height})`;
      } else {
        item.classList.add("bad");
        const reason = answer.message || (xhr.status === 413 ? text.tooLarge : `${text.failed} (${xhr.status})`);
        state.textContent = `${text.refused} ${reason}`;
      }
      item.dataset.state = item.classList.contains("ok") ? "ok" : "bad";
    };
    xhr.onerror = () => {
      item.classList.add("bad");
      item.dataset.state = "bad";
      state.textContent = `${text.refused} ${text.failed}`;
    };
    xhr.send(body);
  }

  function sendAll(files) { for (const file of files) send(file); }

  input.addEventListener("change", () => { sendAll(input.files); input.value = ""; });
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    sendAll(e.dataTransfer.files);
  });
})();
