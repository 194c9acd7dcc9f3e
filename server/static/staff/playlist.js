// Playlist editor: add rows, reorder by dragging (HTML5 drag and drop) or with the arrow buttons, remove rows.
// The form posts the rows' fields in page order, which is the play order.
"use strict";
(() => {
  const list = document.getElementById("items");
  const choice = document.getElementById("add-choice");
  const ready = document.getElementById("item-rows");
  let dragged = null;

  document.getElementById("add-item").addEventListener("click", () => {
    const source = [...ready.children].find((row) => row.dataset.key === choice.value);
    if (!source) return;
    const row = source.cloneNode(true);
    // Ready-made rows sit in a hidden block outside the form, so they are not submitted until copied.
    list.append(row);
    row.querySelector("input[name=duration]").focus();
  });

  list.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    const row = button.closest("li.item");
    if (button.hasAttribute("data-remove")) {
      row.remove();
    } else if (button.dataset.move === "-1" && row.previousElementSibling) {
      row.previousElementSibling.before(row);
      button.focus();
    } else if (button.dataset.move === "1" && row.nextElementSibling) {
      row.nextElementSibling.after(row);
      button.focus();
    }
  });

  list.addEventListener("dragstart", (e) => {
    dragged = e.target.closest("li.item");
    if (!dragged) return;
    dragged.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.dataset.key);
  });
  list.addEventListener("dragover", (e) => {
    const over = e.target.closest("li.item");
    if (!dragged || !over || over === dragged) return;
    e.preventDefault();
    // Above the middle of a row: before it; below: after it.
    const box = over.getBoundingClientRect();
    if (e.clientY < box.top + box.height / 2) over.before(dragged); else over.after(dragged);
  });
  list.addEventListener("drop", (e) => e.preventDefault());
  list.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });
})();
