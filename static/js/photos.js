// The visit's photos: several sent one after another with their progress, files dropped on the form, and photos
// reordered by dragging. Without this script the same forms work as they are (one post, ↑ ↓ buttons).
(function () {
  "use strict";

  function upload(form) {
    const input = form.querySelector("input[type=file]");
    const progress = form.querySelector(".upload-progress");
    const status = form.querySelector(".upload-status");
    const token = form.querySelector("input[name=_csrf_token]").value;
    const files = Array.from(input.files);
    if (!files.length) return;
    const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
    let done = 0;
    progress.hidden = false;
    const failed = [];
    const next = (index) => {
      if (index >= files.length) {
        progress.value = 100;
        if (failed.length) {  // said on the page; the photos that were added show once it is reloaded
          status.textContent = failed.map((name) => status.dataset.failed.replace("{name}", name)).join(" · ");
          return;
        }
        window.location.assign(form.action.replace(/\/photos$/, "") + "?captions=1");  // no fragment: it would keep the first blank caption from focus
        return;
      }
      const file = files[index];
      status.textContent = status.dataset.sending.replace("{n}", index + 1).replace("{total}", files.length);
      const body = new FormData();
      body.append("_csrf_token", token);
      body.append("file", file, file.name);
      const audience = form.querySelector("input[name=audience]:checked");  // who sees it, as chosen beside the button
      if (audience) body.append("audience", audience.value);
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-Photo-Upload", "1");
      request.setRequestHeader("X-CSRF-Token", token);
      request.upload.onprogress = (event) => { progress.value = Math.round(((done + event.loaded) / total) * 100); };
      request.onloadend = () => {
        if (request.status !== 204) failed.push(file.name);
        done += file.size;
        next(index + 1);
      };
      request.send(body);
    };
    next(0);
  }

  document.querySelectorAll("form.photo-upload").forEach((form) => {
    form.addEventListener("submit", (event) => { event.preventDefault(); upload(form); });
    form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("dropping"); });
    form.addEventListener("dragleave", () => form.classList.remove("dropping"));
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      form.classList.remove("dropping");
      const input = form.querySelector("input[type=file]");
      input.files = event.dataTransfer.files;
      upload(form);
    });
  });

  document.querySelectorAll("form.photo-arrange .photo-cards").forEach((list) => {
    let dragged = null;
    const renumber = () => list.querySelectorAll("input[name$='-order']").forEach((input, n) => { input.value = n + 1; });
    list.addEventListener("dragstart", (event) => {
      dragged = event.target.closest(".photo-card");
      event.dataTransfer.effectAllowed = "move";
    });
    list.addEventListener("dragover", (event) => {
      const over = event.target.closest(".photo-card");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      const after = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", (event) => { event.preventDefault(); renumber(); dragged = null; });
    list.addEventListener("dragend", () => { renumber(); dragged = null; });
  });
})();
