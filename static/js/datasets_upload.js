// Upload page: send the archive with a progress bar (big archives take a while), then follow to the
// dataset page, where processing shows its own progress. Form errors come back as the page itself.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const card = document.getElementById("upload-progress");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;

  form.addEventListener("submit", (event) => {
    const file = form.querySelector("input[type=file]");
    if (!file || !file.files.length) return;  // nothing to send: the server answers with the field error
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    card.hidden = false;
    const bar = document.getElementById("upload-bar");
    const text = document.getElementById("upload-text");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((100 * e.loaded) / e.total);
      bar.style.width = pct + "%";
      text.textContent = "Uploading… " + pct + "% of " + (e.total / 1048576).toFixed(1) + " MiB";
    });
    xhr.upload.addEventListener("load", () => { text.textContent = "Checking the archive…"; });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) {
        window.location.assign(JSON.parse(xhr.responseText).redirect);
        return;
      }
      document.open();  // the form again, with its errors
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", () => {
      button.disabled = false;
      text.textContent = "The upload was interrupted. Check the connection and try again.";
    });
    xhr.send(new FormData(form));
  });
})();
