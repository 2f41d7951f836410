// yiwang console: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A campaign template chosen: reload the form with its parameters.
  for (const select of document.querySelectorAll("select[data-autosubmit-get]")) {
    select.addEventListener("change", () => {
      location.href = select.dataset.autosubmitGet + "?" + new URLSearchParams({ template: select.value });
    });
  }
  for (const field of document.querySelectorAll("[data-autosubmit]")) {
    if (field.tagName === "SELECT") {
      // A new time range shows at once.
      field.addEventListener("change", () => field.form.requestSubmit());
    } else {
      // A USB scanner types the QR text and ends with Enter: submit then.
      // Shift+Enter still makes a new line for pasted text.
      field.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && field.value.trim() !== "") {
          event.preventDefault();
          field.form.requestSubmit();
        }
      });
    }
  }
  // Window verification from a photo: an image file or a webcam frame,
  // scaled to at most 1024 px a side and sent as a PNG data URL.
  const photo = document.querySelector("[data-photo]");
  if (photo) {
    photo.hidden = false;
    const form = photo.closest("form");
    const send = (source, width, height) => {
      const scale = Math.min(1, 1024 / Math.max(width, height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
      form.querySelector("#image").value = canvas.toDataURL("image/png");
      form.querySelector("#qr").value = "";
      form.requestSubmit();
    };
    document.getElementById("photo").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (!file) return;
      const image = new Image();
      image.onload = () => { send(image, image.naturalWidth, image.naturalHeight); URL.revokeObjectURL(image.src); };
      image.src = URL.createObjectURL(file);
    });
    const video = photo.querySelector("[data-video]");
    const capture = photo.querySelector("[data-capture]");
    photo.querySelector("[data-camera]").addEventListener("click", async () => {
      try {
        video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        await video.play();
        video.hidden = false;
        capture.hidden = false;
        capture.focus();
      } catch {
        alert("无法打开摄像头，请检查浏览器权限。");
      }
    });
    capture.addEventListener("click", () => send(video, video.videoWidth, video.videoHeight));
  }

  // After a verification the field is empty and focused for the next scan.
  const qr = document.getElementById("qr");
  if (qr) qr.focus();
});
